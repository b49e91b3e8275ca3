import { startHarness, Harness } from './support/harness';
import { expectNoDrift, movementsOf, newItem, sell, stockOf, waitFor } from './support/inventory';
import { connectSocket } from './support/ws-client';
import { postPayment } from './support/payments';

let h: Harness;
let manager: string;
let cashier: string;
beforeAll(async () => {
  h = await startHarness();
  manager = await h.login('2345');
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

const adjust = (body: Record<string, unknown>, headers: Record<string, string> = {}, token = manager) =>
  h.api('POST', '/api/v1/inventory/adjustments', { token, body, headers });

describe('sale movements', () => {
  it('writes one sale movement per line at close with the quantity it left and the order as reference', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 20 });
    const orderId = await sell(h, cashier, itemId, 3);

    const moves = await movementsOf(h, itemId);
    expect(moves).toEqual([
      expect.objectContaining({ delta: -3, quantity_after: 17, reason: 'sale', reference: orderId, order_id: orderId }),
    ]);
    expect(moves[0].staff_id).toEqual(h.shop.staff['Cashier']);
    expect(await stockOf(h, itemId)).toBe(17);
  });

  it('moves two lines of one item in one close in their order, with one alert for the item', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 9, minStock: 5 });
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: {
        type: 'takeaway',
        lines: [
          { itemId, quantity: 2 },
          { itemId, quantity: 3, note: 'separate' },
        ],
      },
    });
    const total = created.body.totals.total;
    const paid = await postPayment(h, cashier, created.body.id, { method: 'cash', amount: total, tendered: total });
    expect(paid.body.order.status).toBe('closed');
    expect((await movementsOf(h, itemId)).map((m) => [m.delta, m.quantity_after])).toEqual([
      [-2, 7],
      [-3, 4],
    ]);
    expect(await stockOf(h, itemId)).toBe(4);
    const alerts = await h.deps.knex('low_stock_alerts').where({ item_id: itemId });
    expect(alerts.map((a) => [a.status, a.quantity])).toEqual([['active', 4]]);
    await expectNoDrift(h, itemId, 9);
  });

  it('keeps movements and stock in step across sales, receipts and adjustments (no drift)', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 10 });
    await sell(h, cashier, itemId, 4);
    expect((await adjust({ itemId, delta: 12, reason: 'receive', note: 'delivery' })).status).toBe(201);
    await sell(h, cashier, itemId, 2);
    expect((await adjust({ itemId, delta: -1, reason: 'adjustment', note: 'broken' })).status).toBe(201);

    expect((await movementsOf(h, itemId)).map((m) => [m.reason, m.delta])).toEqual([
      ['sale', -4],
      ['receive', 12],
      ['sale', -2],
      ['adjustment', -1],
    ]);
    await expectNoDrift(h, itemId, 10);
    expect(await stockOf(h, itemId)).toBe(15);
  });

  it('records setting stockQuantity on the item as an adjustment movement, so movements still add up', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 10 });
    const res = await h.api('PATCH', `/api/v1/catalog/items/${itemId}`, { token: manager, body: { stockQuantity: 7 } });
    expect(res.status).toBe(200);
    expect((await movementsOf(h, itemId)).map((m) => [m.reason, m.delta, m.quantity_after])).toEqual([
      ['adjustment', -3, 7],
    ]);
    await expectNoDrift(h, itemId, 10);
  });
});

describe('GET /inventory', () => {
  it('lists stock-tracked items with their value at cost and filters low stock and category', async () => {
    const category = await h.api('POST', '/api/v1/catalog/categories', {
      token: manager,
      body: { name: `Pantry ${Date.now()}` },
    });
    const full = await newItem(h, manager, {
      name: `A flour ${Date.now()}`,
      stockQuantity: 30,
      minStock: 5,
      cost: 120,
      categoryId: category.body.id,
    });
    const low = await newItem(h, manager, {
      name: `B sugar ${Date.now()}`,
      stockQuantity: 2,
      minStock: 5,
      cost: 40,
      categoryId: category.body.id,
    });

    const all = await h.api('GET', `/api/v1/inventory?categoryId=${category.body.id}`, { token: manager });
    expect(all.status).toBe(200);
    expect(all.body.items).toEqual([
      expect.objectContaining({ itemId: full, quantity: 30, minStock: 5, lowStock: false, cost: 120, value: 3600 }),
      expect.objectContaining({ itemId: low, quantity: 2, minStock: 5, lowStock: true, cost: 40, value: 80 }),
    ]);
    expect(all.body.totalValue).toBe(3680);

    const lowOnly = await h.api('GET', `/api/v1/inventory?categoryId=${category.body.id}&lowStock=true`, {
      token: manager,
    });
    expect(lowOnly.body.items.map((i: { itemId: string }) => i.itemId)).toEqual([low]);
    expect(lowOnly.body.totalValue).toBe(80);

    const everything = await h.api('GET', '/api/v1/inventory', { token: manager });
    const ids = everything.body.items.map((i: { itemId: string }) => i.itemId);
    expect(ids).toEqual(expect.arrayContaining([h.shop.items['Croissant'], full, low]));
    expect(ids).not.toContain(h.shop.items['Espresso']); // not stock-tracked
  });

  it('answers 422 for a malformed filter', async () => {
    const res = await h.api('GET', '/api/v1/inventory?lowStock=maybe&categoryId=nope', { token: manager });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});

describe('POST /inventory/adjustments', () => {
  it('returns the movement and applies a repeated Idempotency-Key once', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 5 });
    const headers = { 'idempotency-key': `receive-${itemId}` };
    const first = await adjust({ itemId, delta: 7, reason: 'receive', note: 'crate' }, headers);
    const again = await adjust({ itemId, delta: 7, reason: 'receive', note: 'crate' }, headers);

    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      itemId,
      delta: 7,
      quantityAfter: 12,
      reason: 'receive',
      note: 'crate',
      staffId: h.shop.staff['Manager'],
    });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await movementsOf(h, itemId)).toHaveLength(1);
    expect(await stockOf(h, itemId)).toBe(12);
  });

  it('applies concurrent requests with one Idempotency-Key once', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 5 });
    const headers = { 'idempotency-key': `race-${itemId}` };
    const results = await Promise.all([1, 2, 3, 4].map(() => adjust({ itemId, delta: 2, reason: 'receive' }, headers)));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(await stockOf(h, itemId)).toBe(7);
  });

  it('refuses to take stock below zero unless allowNegative is set', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 3 });
    const refused = await adjust({ itemId, delta: -5, reason: 'adjustment' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CONFLICT');
    expect(await stockOf(h, itemId)).toBe(3);
    expect(await movementsOf(h, itemId)).toHaveLength(0);

    const allowed = await adjust({ itemId, delta: -5, reason: 'adjustment', allowNegative: true });
    expect(allowed.status).toBe(201);
    expect(allowed.body.quantityAfter).toBe(-2);
  });

  it('rejects bad input with 422 and other roles with 403', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 3 });
    const cases: [Record<string, unknown>, string][] = [
      [{ itemId, delta: 0, reason: 'adjustment' }, 'delta'],
      [{ itemId, delta: 1.5, reason: 'adjustment' }, 'delta'],
      [{ itemId, delta: '2', reason: 'adjustment' }, 'delta'],
      [{ itemId, delta: 99999999999, reason: 'adjustment' }, 'delta'],
      [{ itemId, delta: 1, reason: 'sale' }, 'reason'],
      [{ itemId: '00000000-0000-4000-8000-000000000000', delta: 1, reason: 'receive' }, 'itemId'],
      [{ itemId: h.shop.items['Espresso'], delta: 1, reason: 'receive' }, 'itemId'], // not stock-tracked
      [{ itemId, delta: 1, reason: 'receive', extra: true }, '(body)'],
    ];
    for (const [body, path] of cases) {
      const res = await adjust(body);
      expect([res.status, res.body.errors?.[0]?.path]).toEqual([422, path]);
    }
    expect((await adjust({ itemId, delta: 2147483000, reason: 'receive' })).status).toBe(201);
    const overflow = await adjust({ itemId, delta: 2147483000, reason: 'receive' });
    expect(overflow.status).toBe(422);
    expect((await adjust({ itemId, delta: 1, reason: 'receive' }, {}, cashier)).status).toBe(403);
    expect((await h.api('POST', '/api/v1/inventory/adjustments', { token: manager, raw: '{"itemId":' })).status).toBe(
      400,
    );
  });
});

describe('GET /inventory/movements', () => {
  it('pages newest first with a cursor and filters by item, reason and time', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 0 });
    const before = new Date().toISOString();
    for (const delta of [1, 2, 3, 4, 5]) expect((await adjust({ itemId, delta, reason: 'receive' })).status).toBe(201);
    expect((await adjust({ itemId, delta: -1, reason: 'adjustment' })).status).toBe(201);

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await h.api(
        'GET',
        `/api/v1/inventory/movements?itemId=${itemId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: manager },
      );
      expect(page.status).toBe(200);
      expect(page.body.movements.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.movements.map((m: { delta: number }) => m.delta));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([-1, 5, 4, 3, 2, 1]);

    const receives = await h.api('GET', `/api/v1/inventory/movements?itemId=${itemId}&reason=receive`, {
      token: manager,
    });
    expect(receives.body.movements.map((m: { quantityAfter: number }) => m.quantityAfter)).toEqual([15, 10, 6, 3, 1]);
    const inWindow = await h.api(
      'GET',
      `/api/v1/inventory/movements?itemId=${itemId}&start=${encodeURIComponent(before)}&end=2999-01-01T00:00:00Z`,
      { token: manager },
    );
    expect(inWindow.body.movements).toHaveLength(6);
    const earlier = await h.api(
      'GET',
      `/api/v1/inventory/movements?itemId=${itemId}&end=${encodeURIComponent(before)}`,
      { token: manager },
    );
    expect(earlier.body.movements).toHaveLength(0);
  });

  it('answers 422 for a forged cursor or a malformed time', async () => {
    for (const q of ['cursor=bm9wZQ', 'cursor=%00%01', 'start=yesterday', 'limit=0', 'reason=cancel']) {
      const res = await h.api('GET', `/api/v1/inventory/movements?${q}`, { token: manager });
      expect([q, res.status]).toEqual([q, 422]);
    }
  });
});

describe('low-stock alerts', () => {
  it('raises one alert when stock falls to the minimum, carried by the stock.low event', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 8, minStock: 5 });
    const orderId = await sell(h, cashier, itemId, 3); // 5: at the minimum
    await sell(h, cashier, itemId, 1); // 4: still low, no second alert

    const active = await h.api('GET', '/api/v1/inventory/alerts?status=active', { token: manager });
    const mine = active.body.alerts.filter((a: { itemId: string }) => a.itemId === itemId);
    expect(mine).toEqual([expect.objectContaining({ status: 'active', quantity: 5, minStock: 5, resolvedAt: null })]);
    expect(await h.deps.knex('low_stock_alerts').where({ item_id: itemId })).toHaveLength(1);

    const event = await waitFor(() =>
      h.deps.knex('order_events').where({ order_id: orderId, event: 'stock.low' }).first(),
    );
    expect(event.data).toMatchObject({
      itemId,
      stockQuantity: 5,
      minStock: 5,
      alert: { id: mine[0].id, status: 'active' },
    });
  });

  it('resolves the alert by itself when stock rises above the minimum, and raises a new one on the next fall', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 6, minStock: 5 });
    await sell(h, cashier, itemId, 2); // 4
    expect((await adjust({ itemId, delta: 10, reason: 'receive' })).status).toBe(201); // 14
    const resolved = await h.api('GET', '/api/v1/inventory/alerts?status=resolved', { token: manager });
    expect(resolved.body.alerts.filter((a: { itemId: string }) => a.itemId === itemId)).toEqual([
      expect.objectContaining({ status: 'resolved', resolution: 'restocked', resolvedBy: null }),
    ]);

    const fall = await adjust({ itemId, delta: -10, reason: 'adjustment' }); // 4 again
    expect(fall.status).toBe(201);
    const alerts = await h.deps.knex('low_stock_alerts').where({ item_id: itemId }).orderBy('created_at');
    expect(alerts.map((a) => a.status)).toEqual(['resolved', 'active']);
    // Raised outside an order: published on the location topic with the alert.
    const event = await waitFor(() =>
      h.deps
        .knex('order_events')
        .where({ event: 'stock.low', dedupe_key: `stock.low:${alerts[1].id}` })
        .first(),
    );
    expect(event).toMatchObject({ order_id: null, topics: [`orders:${h.shop.locationId}`] });
    expect(event.data.alert.id).toBe(alerts[1].id);
  });

  it('delivers stock.low with the alert over WebSocket when an adjustment takes stock to the minimum', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 9, minStock: 4 });
    const s = await connectSocket(h.baseUrl, manager);
    try {
      await s.waitFor((m) => m.type === 'welcome');
      s.send({ type: 'subscribe', topics: [`orders:${h.shop.locationId}`] });
      await s.waitFor((m) => m.type === 'subscribed');
      expect((await adjust({ itemId, delta: -5, reason: 'adjustment' })).status).toBe(201);
      const event = await s.waitFor((m) => m.event === 'stock.low' && m.data.itemId === itemId);
      expect(event).toMatchObject({
        topic: `orders:${h.shop.locationId}`,
        orderId: null,
        data: { stockQuantity: 4, minStock: 4, alert: { status: 'active', quantity: 4 } },
      });
    } finally {
      await s.close();
    }
  });

  it('resolves an alert by hand once; a second resolve is a 409', async () => {
    const itemId = await newItem(h, manager, { stockQuantity: 1, minStock: 3 });
    expect((await adjust({ itemId, delta: -1, reason: 'adjustment' })).status).toBe(201);
    const alert = await h.deps.knex('low_stock_alerts').where({ item_id: itemId, status: 'active' }).first();

    const res = await h.api('POST', `/api/v1/inventory/alerts/${alert.id}/resolve`, { token: manager });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: alert.id,
      status: 'resolved',
      resolution: 'manual',
      resolvedBy: h.shop.staff['Manager'],
    });
    expect((await h.api('POST', `/api/v1/inventory/alerts/${alert.id}/resolve`, { token: manager })).status).toBe(409);
    expect(
      (await h.api('POST', '/api/v1/inventory/alerts/00000000-0000-4000-8000-000000000000/resolve', { token: manager }))
        .status,
    ).toBe(404);
    expect((await h.api('POST', `/api/v1/inventory/alerts/${alert.id}/resolve`, { token: cashier })).status).toBe(403);
    expect((await h.api('GET', '/api/v1/inventory/alerts?status=gone', { token: manager })).status).toBe(422);
  });
});
