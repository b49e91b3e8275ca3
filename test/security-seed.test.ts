import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestDatabase } from './support/database';
import { Launcher, type RunningTillflow } from '../launcher/launcher';
import { createFirstAdmin, DEMO_LOCATIONS, DEMO_STAFF, FirstAdminError } from '../db/seed';
import { logger } from '../platform/logger';

/**
 * The demo shop's PINs are public. A real (external) database must never receive it by itself:
 * it stays empty and the operator is told how to create the first admin.
 */
const SECRET = 'seed-test-secret-'.padEnd(40, 'x');
type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
});

/** `npm start` in this process against an external database and the suite's Temporal, API only. */
async function startAgainst(
  db: Db,
  extra: Record<string, string> = {},
): Promise<{ lines: string[]; running: RunningTillflow; stop(): Promise<void> }> {
  const lines: string[] = [];
  const launcher = new Launcher({
    env: {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE,
      TILLFLOW_ROLE: 'api',
      PORT: '0',
      HOST: '127.0.0.1',
      TILLFLOW_TOKEN_SECRET: SECRET,
      TILLFLOW_PAYMENTS_SANDBOX: 'false',
      TILLFLOW_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-seed-')),
      ...extra,
    },
    logger: logger.child({ test: 'seed' }),
    print: (line) => lines.push(line),
  });
  const running = await launcher.start();
  return { lines, running, stop: () => launcher.stop() };
}
async function emptyDb(): Promise<Db> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}
const count = async (db: Db, table: string) => Number((await db.knex(table).count('* as n').first())!.n);

it('leaves an external database without staff empty and says how to create the first admin', async () => {
  const db = await emptyDb();
  const t = await startAgainst(db);
  try {
    expect(t.running.seeded).toBe(false);
    expect(await count(db, 'staff')).toBe(0);
    expect(await count(db, 'locations')).toBe(0);
    expect(t.lines.join('\n')).toContain('node dist/bin/create-admin.js');
    expect(t.lines.join('\n')).not.toContain(DEMO_STAFF[0].pin);
  } finally {
    await t.stop();
  }
});

it('seeds the demo shop into an external database when TILLFLOW_SEED_DEMO=true', async () => {
  const db = await emptyDb();
  const t = await startAgainst(db, { TILLFLOW_SEED_DEMO: 'true' });
  try {
    expect(t.running.seeded).toBe(true);
    expect(await count(db, 'staff')).toBe(DEMO_LOCATIONS.reduce((n, l) => n + l.staff.length, 0));
    expect(t.lines.join('\n')).toContain('WARNING: these demo PINs are public');
  } finally {
    await t.stop();
  }
});

it('the first admin created for an empty database logs in with the PIN shown once', async () => {
  const db = await emptyDb();
  const t = await startAgainst(db);
  try {
    const admin = await createFirstAdmin(db.knex, SECRET, { name: 'Alex', locationName: 'Corner Café' });
    expect(admin.pin).toMatch(/^\d{8}$/);
    const res = await fetch(`${t.running.apiUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin: admin.pin }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { staff: { role: string } }).staff.role).toBe('admin');
  } finally {
    await t.stop();
  }
});

it('refuses a second first admin once the database has staff', async () => {
  const db = await emptyDb();
  const { migrateLatest } = await import('../db/knex');
  await migrateLatest(db.knex);
  await createFirstAdmin(db.knex, SECRET, { name: 'Alex' });
  await expect(createFirstAdmin(db.knex, SECRET, { name: 'Mallory' })).rejects.toBeInstanceOf(FirstAdminError);
  expect(await count(db, 'staff')).toBe(1);
});
