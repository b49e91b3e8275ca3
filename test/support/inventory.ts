/** Helpers for the inventory and stock-count suites: fresh stock-tracked items and cash sales over HTTP. */
import { postPayment } from './payments';
import type { Harness } from './harness';

export interface NewItem {
  name?: string;
  stockQuantity: number;
  minStock?: number;
  cost?: number | null;
  categoryId?: string | null;
}

let n = 0;
/** Creates a stock-tracked item through the catalog API (its opening stock has no movement). */
export async function newItem(h: Harness, manager: string, opts: NewItem): Promise<string> {
  n += 1;
  const res = await h.api('POST', '/api/v1/catalog/items', {
    token: manager,
    body: {
      name: opts.name ?? `Stock item ${n} ${Date.now()}`,
      price: 200,
      trackStock: true,
      stockQuantity: opts.stockQuantity,
      minStock: opts.minStock ?? 0,
      cost: opts.cost === undefined ? 50 : opts.cost,
      ...(opts.categoryId !== undefined ? { categoryId: opts.categoryId } : {}),
    },
  });
  if (res.status !== 201) throw new Error(`item create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** Sells `quantity` of an item for cash and waits until the close (and its stock deduction) is in Postgres. */
export async function sell(h: Harness, cashier: string, itemId: string, quantity: number): Promise<string> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId, quantity }] },
  });
  if (created.status !== 201) throw new Error(`order create failed: ${created.status} ${JSON.stringify(created.body)}`);
  const total = created.body.totals.total;
  const paid = await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total });
  if (paid.body?.order?.status !== 'closed')
    throw new Error(`payment failed: ${paid.status} ${JSON.stringify(paid.body)}`);
  await waitFor(
    async () => (await h.deps.knex('orders').where({ id: created.body.id }).first('persisted_at'))?.persisted_at,
  );
  return created.body.id as string;
}

export async function stockOf(h: Harness, itemId: string): Promise<number> {
  return (await h.deps.knex('items').where({ id: itemId }).first('stock_quantity')).stock_quantity;
}

/** Movements of an item, oldest first. */
export async function movementsOf(h: Harness, itemId: string) {
  return h.deps.knex('inventory_movements').where({ item_id: itemId }).orderBy('seq');
}

/**
 * No drift: the movements, oldest first, each leave the quantity the one before left plus their
 * delta, and the last one leaves what the item holds now.
 */
export async function expectNoDrift(h: Harness, itemId: string, opening: number): Promise<void> {
  const moves = await movementsOf(h, itemId);
  let quantity = opening;
  for (const m of moves) {
    quantity += m.delta;
    expect(m.quantity_after).toBe(quantity);
  }
  expect(await stockOf(h, itemId)).toBe(quantity);
}

export async function waitFor<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
