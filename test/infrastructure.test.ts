import { createTestDatabase } from './support/database';
import { migrateDown, migrateLatest } from '../db/knex';

describe('real PostgreSQL', () => {
  it('runs the migrations down and up again', async () => {
    const db = await createTestDatabase();
    try {
      const before = await db.knex('pg_tables').where({ schemaname: 'public' }).pluck('tablename');
      expect(before).toEqual(expect.arrayContaining(['orders', 'payments', 'staff', 'items', 'inventory_movements']));
      await migrateDown(db.knex);
      const after = await db
        .knex('pg_tables')
        .where({ schemaname: 'public' })
        .whereNotIn('tablename', ['knex_migrations', 'knex_migrations_lock'])
        .pluck('tablename');
      expect(after).toEqual([]);
      await migrateLatest(db.knex);
      const again = await db.knex('pg_tables').where({ schemaname: 'public' }).pluck('tablename');
      expect(again.sort()).toEqual(before.sort());
    } finally {
      await db.drop();
    }
  });
});
