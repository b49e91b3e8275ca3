/**
 * Create, change and delete for a location's own rows (discounts, discount groups, printers, ...),
 * each in one transaction with its audit entry: `<entity>.created` with the new view,
 * `<entity>.changed` with only the fields that changed (none changed: no entry), `<entity>.deleted`
 * with the old view. A row of another location is a 404, like a missing one. `check` runs the
 * table's own rules inside the transaction, before the write.
 */
import type { Knex } from 'knex';
import type { Model, ModelClass } from 'objection';
import { audit, changedFields } from './audit';
import { notFound } from './errors';
import type { AuthContext } from './types';

interface TableSpec<M extends Model & { id: string }, V extends object> {
  model: ModelClass<M>;
  /** How a 404 names the row ("Discount group"). */
  label: string;
  /** The audit actions' prefix ("discount_group"). */
  entity: string;
  view: (row: M) => V;
  /** Lock the row (FOR UPDATE) before changing or deleting it; off where the table's check takes its own locks. */
  lockRow?: boolean;
}

type Check<M> = (trx: Knex.Transaction, existing: M) => Promise<void> | void;

export function auditedTable<M extends Model & { id: string }, V extends object>(spec: TableSpec<M, V>) {
  const { model, label, entity, view, lockRow = true } = spec;
  // Objection's query builder types do not follow a generic model class through insert/patch.
  const query = (db: Knex) => model.query(db) as any;

  async function find(db: Knex, locationId: string, id: string, lock = false): Promise<M> {
    const q = query(db).findOne({ id, location_id: locationId });
    const row: M | undefined = await (lock ? q.forUpdate() : q);
    if (!row) throw notFound(label);
    return row;
  }

  return {
    find,

    create: (knex: Knex, auth: AuthContext, values: object, check?: (trx: Knex.Transaction) => Promise<void>) =>
      knex.transaction(async (trx): Promise<V> => {
        await check?.(trx);
        const created: M = await query(trx)
          .insert({ ...values, locationId: auth.locationId })
          .returning('*');
        await audit(trx, auth, `${entity}.created`, created.id, { after: view(created) });
        return view(created);
      }),

    change: (knex: Knex, auth: AuthContext, id: string, values: object, check?: Check<M>) =>
      knex.transaction(async (trx): Promise<V> => {
        const existing = await find(trx, auth.locationId, id, lockRow);
        await check?.(trx, existing);
        const [updated]: M[] = await query(trx).where('id', existing.id).patch(values).returning('*');
        const diff = changedFields(view(existing), view(updated!));
        if (diff) await audit(trx, auth, `${entity}.changed`, existing.id, diff);
        return view(updated!);
      }),

    remove: (knex: Knex, auth: AuthContext, id: string) =>
      knex.transaction(async (trx): Promise<void> => {
        const existing = await find(trx, auth.locationId, id, lockRow);
        await query(trx).where('id', existing.id).delete();
        await audit(trx, auth, `${entity}.deleted`, existing.id, { before: view(existing) });
      }),
  };
}
