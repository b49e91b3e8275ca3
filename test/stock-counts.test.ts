import { startHarness, Harness } from './support/harness';
import { expectNoDrift, movementsOf, newItem, sell, stockOf, waitFor } from './support/inventory';
import { inventoryActivities } from '../activities/inventory';

let h: Harness;
let manager: string;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

const open = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  h.api('POST', '/api/v1/stock-counts', { token: manager, body, headers });
const record = (countId: string, itemId: string, counted: unknown) =>
  h.api('POST', `/api/v1/stock-counts/${countId}/counts`, { token: manager, body: { itemId, counted } });
const complete = (countId: string) => h.api('POST', `/api/v1/stock-counts/${countId}/complete`, { token: manager });
const cancel = (countId: string) => h.api('POST', `/api/v1/stock-counts/${countId}/cancel`, { token: manager });
const get = (countId: string) => h.api('GET', `/api/v1/stock-counts/${countId}`, { token: manager });
const lineOf = (count: { lines: { itemId: string }[] }, itemId: string) =>
  count.lines.find((l) => l.itemId === itemId) as any;

async function openCountOf(...itemIds: string[]): Promise<string> {
  const res = await open({ itemIds });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('opening a count', () => {
  it("snapshots each item's expected quantity", async () => {
    const a = await newItem(h, manager, { name: `Count A ${Date.now()}`, stockQuantity: 12 });
    const b = await newItem(h, manager, { name: `Count B ${Date.now()}`, stockQuantity: 0 });
    const res = await open({ itemIds: [a, b] });

    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'open',
      staffId: h.shop.staff['Manager'],
      completedAt: null,
      workflowId: `stock-count-${res.body.id}`,
    });
    expect(res.body.lines).toEqual([
      {
        itemId: a,
        name: expect.stringMatching(/^Count A/),
        expected: 12,
        counted: null,
        systemAtCount: null,
        movedDuringCount: null,
        variance: null,
        varianceValue: null,
        countedAt: null,
      },
      {
        itemId: b,
        name: expect.stringMatching(/^Count B/),
        expected: 0,
        counted: null,
        systemAtCount: null,
        movedDuringCount: null,
        variance: null,
        varianceValue: null,
        countedAt: null,
      },
    ]);
    expect((await get(res.body.id)).body).toEqual(res.body);
  });

  it('counts every stock-tracked item of a category', async () => {
    const category = await h.api('POST', '/api/v1/catalog/categories', {
      token: manager,
      body: { name: `Cellar ${Date.now()}` },
    });
    const wine = await newItem(h, manager, { stockQuantity: 6, categoryId: category.body.id });
    const res = await open({ categoryId: category.body.id });
    expect(res.status).toBe(201);
    expect(res.body.lines.map((l: { itemId: string }) => l.itemId)).toEqual([wine]);
    expect(res.body.categoryId).toBe(category.body.id);
  });

  it('returns the same count for a repeated Idempotency-Key', async () => {
    const item = await newItem(h, manager, { stockQuantity: 3 });
    const headers = { 'idempotency-key': `count-${item}` };
    const first = await open({ itemIds: [item] }, headers);
    const again = await open({ itemIds: [item] }, headers);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
  });

  it('refuses an item that is already in another open count with 409', async () => {
    const item = await newItem(h, manager, { stockQuantity: 3 });
    await openCountOf(item);
    const second = await open({ itemIds: [item] });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('CONFLICT');
  });

  it('rejects a selection of unknown, untracked or mixed items with 422', async () => {
    const item = await newItem(h, manager, { stockQuantity: 3 });
    const emptyCategory = await h.api('POST', '/api/v1/catalog/categories', {
      token: manager,
      body: { name: `Empty ${Date.now()}` },
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ itemIds: [item, '00000000-0000-4000-8000-000000000000'] }, 'itemIds[1]'],
      [{ itemIds: [h.shop.items['Espresso']] }, 'itemIds[0]'],
      [{ itemIds: [item, item] }, 'itemIds'],
      [{ itemIds: [] }, 'itemIds'],
      [{ categoryId: '00000000-0000-4000-8000-000000000000' }, 'categoryId'],
      [{ categoryId: emptyCategory.body.id }, 'itemIds'],
      [{ categoryId: emptyCategory.body.id, itemIds: [item] }, '(body)'],
      [{ itemIds: 'all' }, 'itemIds'],
    ];
    for (const [body, path] of cases) {
      const res = await open(body);
      expect([JSON.stringify(body), res.status, res.body.errors?.[0]?.path]).toEqual([JSON.stringify(body), 422, path]);
    }
    expect((await h.api('POST', '/api/v1/stock-counts', { token: cashier, body: { itemIds: [item] } })).status).toBe(
      403,
    );
  });
});

describe('recording counts', () => {
  it('rejects unknown items, items outside the count and bad quantities with 422', async () => {
    const inCount = await newItem(h, manager, { stockQuantity: 4 });
    const outside = await newItem(h, manager, { stockQuantity: 4 });
    const countId = await openCountOf(inCount);
    const cases: [string, unknown, string][] = [
      ['00000000-0000-4000-8000-000000000000', 1, 'itemId'],
      [outside, 1, 'itemId'],
      [inCount, -1, 'counted'],
      [inCount, 2.5, 'counted'],
      [inCount, '3', 'counted'],
      [inCount, null, 'counted'],
    ];
    for (const [itemId, counted, path] of cases) {
      const res = await record(countId, itemId, counted);
      expect([counted, res.status, res.body.errors?.[0]?.path]).toEqual([counted, 422, path]);
    }
    expect(lineOf((await get(countId)).body, inCount).counted).toBeNull();
  });

  it('keeps the last value of a repeated count', async () => {
    const item = await newItem(h, manager, { stockQuantity: 9 });
    const countId = await openCountOf(item);
    expect((await record(countId, item, 7)).body).toMatchObject({
      itemId: item,
      counted: 7,
      systemAtCount: 9,
      variance: -2,
    });
    const second = await record(countId, item, 8);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ counted: 8, variance: -1 });
    expect(lineOf((await get(countId)).body, item)).toMatchObject({ counted: 8, variance: -1 });
  });

  it('answers 404 for an unknown count and 409 once the count is not open', async () => {
    const item = await newItem(h, manager, { stockQuantity: 2 });
    expect((await record('00000000-0000-4000-8000-000000000000', item, 1)).status).toBe(404);
    const countId = await openCountOf(item);
    expect((await cancel(countId)).status).toBe(200);
    const late = await record(countId, item, 1);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('CONFLICT');
  });
});

describe('completing a count', () => {
  it('applies counted − stock at counting, so sales during the count are neither lost nor doubled', async () => {
    const item = await newItem(h, manager, { stockQuantity: 20, cost: 150 });
    const countId = await openCountOf(item);
    await sell(h, cashier, item, 3); // before counting: 17 in the system
    const counted = await record(countId, item, 15); // the shelf holds 15: 2 are missing
    expect(counted.body).toMatchObject({
      expected: 20,
      counted: 15,
      systemAtCount: 17,
      movedDuringCount: -3,
      variance: -2,
      varianceValue: -300,
    });
    await sell(h, cashier, item, 4); // after counting: sold from the 15 on the shelf

    const done = await complete(countId);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      status: 'completed',
      completedAt: expect.any(String),
      totals: { items: 1, counted: 1, variance: -2, varianceValue: -300 },
    });
    expect(await stockOf(h, item)).toBe(11); // 15 counted − 4 sold since
    const moves = await movementsOf(h, item);
    expect(moves.map((m) => [m.reason, m.delta])).toEqual([
      ['sale', -3],
      ['sale', -4],
      ['count', -2],
    ]);
    expect(moves[2]).toMatchObject({ reference: countId, stock_count_id: countId, quantity_after: 11 });
    await expectNoDrift(h, item, 20);
  });

  it('stays exact when sales close at the same time as counts are recorded', async () => {
    const item = await newItem(h, manager, { stockQuantity: 50 });
    const countId = await openCountOf(item);
    await Promise.all([sell(h, cashier, item, 2), record(countId, item, 40), sell(h, cashier, item, 5)]);
    const line = lineOf((await get(countId)).body, item);
    expect((await complete(countId)).status).toBe(200);

    // Whatever the order, stock = counted + what was sold after the count was read.
    const soldAfterCount = line.systemAtCount - (50 - 7);
    expect(await stockOf(h, item)).toBe(40 - soldAfterCount);
    expect(line.movedDuringCount + line.variance).toBe(40 - 50);
    await expectNoDrift(h, item, 50);
  });

  it('leaves uncounted items as they are', async () => {
    const counted = await newItem(h, manager, { stockQuantity: 10 });
    const skipped = await newItem(h, manager, { stockQuantity: 10 });
    const countId = await openCountOf(counted, skipped);
    await record(countId, counted, 12);
    const done = await complete(countId);
    expect(lineOf(done.body, skipped)).toMatchObject({ counted: null, variance: null });
    expect([await stockOf(h, counted), await stockOf(h, skipped)]).toEqual([12, 10]);
    expect(await movementsOf(h, skipped)).toHaveLength(0);
  });

  it('applies one set of movements when completed twice', async () => {
    const a = await newItem(h, manager, { stockQuantity: 10 });
    const b = await newItem(h, manager, { stockQuantity: 10 });
    const countId = await openCountOf(a, b);
    await record(countId, a, 7);
    await record(countId, b, 13);
    const [first, second] = await Promise.all([complete(countId), complete(countId)]);
    const third = await complete(countId);

    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    expect(third.body.status).toBe('completed');
    expect(
      (await h.deps.knex('inventory_movements').where({ stock_count_id: countId })).map((m) => m.delta).sort(),
    ).toEqual([-3, 3]);
    expect([await stockOf(h, a), await stockOf(h, b)]).toEqual([7, 13]);
  });

  it('applies nothing when the completing activity runs again (a retry)', async () => {
    const item = await newItem(h, manager, { stockQuantity: 10 });
    const countId = await openCountOf(item);
    await record(countId, item, 6);
    expect((await complete(countId)).status).toBe(200);
    await inventoryActivities({ knex: h.deps.knex }).applyStockCount({ countId, staffId: h.shop.staff['Manager']! });
    expect(await movementsOf(h, item)).toHaveLength(1);
    expect(await stockOf(h, item)).toBe(6);
  });

  it('raises a low-stock alert for an item a count takes to its minimum', async () => {
    const item = await newItem(h, manager, { stockQuantity: 10, minStock: 4 });
    const countId = await openCountOf(item);
    await record(countId, item, 3);
    await complete(countId);
    const alert = await h.deps.knex('low_stock_alerts').where({ item_id: item, status: 'active' }).first();
    expect(alert).toMatchObject({ quantity: 3, min_stock: 4 });
    const event = await waitFor(() =>
      h.deps
        .knex('order_events')
        .where({ dedupe_key: `stock.low:${alert.id}` })
        .first(),
    );
    expect(event.data).toMatchObject({ itemId: item, stockQuantity: 3, alert: { id: alert.id } });
  });
});

describe('cancelling a count', () => {
  it('applies nothing, frees its items for a new count, and refuses to complete', async () => {
    const item = await newItem(h, manager, { stockQuantity: 10 });
    const countId = await openCountOf(item);
    await record(countId, item, 2);
    const cancelled = await cancel(countId);

    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      cancelReason: 'cancelled by staff',
      cancelledAt: expect.any(String),
    });
    expect(await stockOf(h, item)).toBe(10);
    expect(await movementsOf(h, item)).toHaveLength(0);
    expect((await complete(countId)).status).toBe(409);
    expect((await cancel(countId)).status).toBe(200);
    expect((await open({ itemIds: [item] })).status).toBe(201);
  });
});

describe('finding counts', () => {
  it('lists counts by status', async () => {
    const item = await newItem(h, manager, { stockQuantity: 1 });
    const countId = await openCountOf(item);
    const openOnes = await h.api('GET', '/api/v1/stock-counts?status=open', { token: manager });
    expect(openOnes.body.stockCounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: countId, status: 'open', items: 1, counted: 0 })]),
    );
    await cancel(countId);
    const cancelled = await h.api('GET', '/api/v1/stock-counts?status=cancelled', { token: manager });
    expect(cancelled.body.stockCounts.map((c: { id: string }) => c.id)).toContain(countId);
    expect((await h.api('GET', '/api/v1/stock-counts?status=closed', { token: manager })).status).toBe(422);
    expect((await get('not-a-uuid')).status).toBe(422);
  });

  it('lets support find open counts in Temporal by search attribute, with current details', async () => {
    const item = await newItem(h, manager, { stockQuantity: 5 });
    const countId = await openCountOf(item);
    await record(countId, item, 5);
    const query = `StockCountStatus = 'open' AND LocationId = '${h.shop.locationId}' AND WorkflowId = 'stock-count-${countId}'`;
    await waitFor(async () => {
      for await (const _ of h.deps.temporal.workflow.list({ query })) return true;
      return false;
    });
    const handle = h.deps.temporal.workflow.getHandle(`stock-count-${countId}`);
    expect(await (await handle.describe()).staticSummary()).toBe('Stock count of 1 item(s) by Manager');
    const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(meta.currentDetails).toMatch(/^Stock count open · 1 of 1 item\(s\) counted · started /);
    await complete(countId);
    const done = `StockCountStatus = 'completed' AND WorkflowId = 'stock-count-${countId}'`;
    await waitFor(async () => {
      for await (const _ of h.deps.temporal.workflow.list({ query: done })) return true;
      return false;
    });
  });
});

describe('malformed requests', () => {
  it('never answers 5xx', async () => {
    const item = await newItem(h, manager, { stockQuantity: 1 });
    const countId = await openCountOf(item);
    const requests: [string, string, unknown?, string?][] = [
      ['POST', '/api/v1/stock-counts', []],
      ['POST', '/api/v1/stock-counts', undefined, 'null'],
      ['POST', '/api/v1/stock-counts', undefined, '"x"'],
      ['POST', '/api/v1/stock-counts', { itemIds: [null] }],
      ['POST', '/api/v1/stock-counts', { categoryId: 5 }],
      ['POST', `/api/v1/stock-counts/${countId}/counts`, {}],
      ['POST', `/api/v1/stock-counts/${countId}/counts`, { itemId: item, counted: 1e20 }],
      ['POST', `/api/v1/stock-counts/${countId}/counts`, { itemId: [item], counted: 1 }],
      ['POST', `/api/v1/stock-counts/${countId}/counts`, undefined, '[1,2]'],
      ['POST', '/api/v1/stock-counts/00000000-0000-4000-8000-000000000000/complete'],
      ['POST', '/api/v1/stock-counts/00000000-0000-4000-8000-000000000000/cancel'],
      ['GET', '/api/v1/stock-counts?status[]=open'],
      ['POST', '/api/v1/inventory/adjustments', { itemId: null, delta: 1, reason: 'receive' }],
      ['POST', '/api/v1/inventory/adjustments', undefined, '{"itemId":1e999}'],
      ['GET', '/api/v1/inventory/movements?cursor='],
      ['GET', '/api/v1/inventory/movements?start=0000-01-01'],
      ['GET', '/api/v1/inventory/movements?start=2024-13-45'],
      ['GET', '/api/v1/inventory/movements?end=9999-12-31T23:59:59Z&limit=500'],
      ['GET', '/api/v1/inventory/movements?limit=1&limit=2'],
      ['GET', '/api/v1/inventory/movements?itemId=1&itemId=2'],
      ['GET', '/api/v1/inventory?lowStock=1'],
      ['POST', '/api/v1/inventory/alerts/nope/resolve'],
    ];
    for (const [method, path, body, raw] of requests) {
      const res = await h.api(method, path, { token: manager, body, raw });
      expect([method, path, res.status < 500]).toEqual([method, path, true]);
      expect(res.body?.code ?? 'none').not.toBe('INTERNAL');
    }
  });
});
