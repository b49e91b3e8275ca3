/**
 * Every cart mutation and rule of the checkout workflow, over HTTP against real Postgres and a
 * real Temporal dev server: outcomes (status, code, errors[].path), snapshot fields, `version`
 * (+1 per accepted change, unchanged on a rejection) and, for a sample of rejections, that the
 * workflow history did not grow (validators reject before anything is written).
 */
import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { withoutTrace as withoutHistory } from './support/order-state';
import { seedDemoShop, SeededShop } from '../db/seed';
import { postPayment } from './support/payments';

type Res = { status: number; body: any };

let h: Harness;
let admin: string;
let manager: string;
let cashier: string;
let kitchen: string;

beforeAll(async () => {
  h = await startHarness();
  // Logged in up front: the "another location" tests seed a second shop with the same PINs,
  // after which a PIN-only login is ambiguous.
  [admin, manager, cashier, kitchen] = await Promise.all([
    h.login('1234'),
    h.login('2345'),
    h.login('3456'),
    h.login('4567'),
  ]);
});
afterAll(async () => h?.close());

/** An Idempotency-Key for calls that need one (payments) in generic lists of mutations. */
const anyKey = () => ({ 'Idempotency-Key': randomUUID() });
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
const item = (name: string) => h.shop.items[name]!;
const mod = (name: string) => h.shop.modifiers[name]!;
const disc = (name: string) => h.shop.discounts[name]!;

async function openOrder(body: Record<string, unknown> = { type: 'takeaway' }, token = cashier): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', { token, body });
  expect(res.status).toBe(201);
  expect(res.body.version).toBe(1);
  return res.body;
}

/** An accepted change: 200 (or `status`) and exactly one version more than `before`. */
function accepted(res: Res, before: number, status = 200): any {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  const snapshot = res.body.order ?? res.body;
  expect(snapshot.version).toBe(before + 1);
  return snapshot;
}

function rejected(res: Res, status: 422 | 409 | 404 | 403 | 401, path?: string): void {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  const code = { 422: 'VALIDATION_ERROR', 409: 'CONFLICT', 404: 'NOT_FOUND', 403: 'FORBIDDEN', 401: 'UNAUTHENTICATED' }[
    status
  ];
  expect(res.body).toMatchObject({ code, detail: expect.any(String), timestamp: expect.any(String) });
  if (status === 422) {
    expect(Array.isArray(res.body.errors)).toBe(true);
    if (path !== undefined) expect(res.body.errors.map((e: any) => e.path)).toContain(path);
  }
}

async function snapshot(id: string, token = cashier): Promise<any> {
  const res = await h.api('GET', `/api/v1/orders/${id}`, { token });
  expect(res.status).toBe(200);
  return res.body;
}

async function addLine(id: string, body: Record<string, unknown>, before: number): Promise<any> {
  return accepted(await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body }), before);
}

/** Runs rejected requests and asserts none of them grew the workflow history or the version. */
async function withoutTrace(orderId: string, fn: () => Promise<void>): Promise<void> {
  const versionBefore = (await snapshot(orderId)).version;
  await withoutHistory(h, orderId, fn);
  expect((await snapshot(orderId)).version).toBe(versionBefore);
}

async function waitFor<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the checkout workflow has finished (order persisted). */
async function workflowDone(orderId: string): Promise<void> {
  await h.deps.temporal.workflow.getHandle(`order-${orderId}`).result();
}

/** Latte (Size Regular) x1 = 450, 8% tax → total 486. */
async function orderWithLatte(): Promise<{ id: string; v: number; snap: any }> {
  const o = await openOrder();
  const snap = await addLine(o.id, { itemId: item('Latte'), quantity: 1, modifierIds: [mod('Regular')] }, 1);
  return { id: o.id, v: snap.version, snap };
}

// ---------------------------------------------------------------------------------------------

describe('update and remove lines', () => {
  it('a quantity change reprices the line and the totals', async () => {
    const o = await openOrder();
    let s = await addLine(o.id, { itemId: item('Burger'), quantity: 1, modifierIds: [mod('Extra cheese')] }, 1);
    const lineId = s.lines[0].id;
    expect(s.lines[0]).toMatchObject({ quantity: 1, unitPrice: 1150, total: 1250 });

    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineId}`, { token: cashier, body: { quantity: 3 } }),
      s.version,
    );
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatchObject({
      id: lineId,
      quantity: 3,
      unitPrice: 1150,
      total: 3750,
      modifiers: [{ id: mod('Extra cheese'), name: 'Extra cheese', price: 100 }],
    });
    expect(s.totals).toMatchObject({ subtotal: 3750, tax: 300, total: 4050, balance: 4050 });

    // Quantities are validated by the same rules as on add.
    await withoutTrace(o.id, async () => {
      for (const quantity of [0, -1, 1.5, 1000, '2']) {
        rejected(
          await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineId}`, { token: cashier, body: { quantity } }),
          422,
          'quantity',
        );
      }
    });
  });

  it("validates a modifier change against the item's own lists (min, max, foreign modifier)", async () => {
    const o = await openOrder();
    let s = await addLine(o.id, { itemId: item('Latte'), quantity: 2, modifierIds: [mod('Regular')] }, 1);
    const lineId = s.lines[0].id;
    const patch = (modifierIds: string[]) =>
      h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineId}`, { token: cashier, body: { modifierIds } });

    await withoutTrace(o.id, async () => {
      rejected(await patch([]), 422, 'modifierIds'); // Size: choose at least 1
      rejected(await patch([mod('Regular'), mod('Large')]), 422, 'modifierIds'); // Size: at most 1
      rejected(await patch([mod('Regular'), mod('Oat milk'), mod('Almond milk')]), 422, 'modifierIds'); // Milk: at most 1
      rejected(await patch([mod('Bacon')]), 422, 'modifierIds[0]'); // a Burger modifier
      rejected(await patch([mod('Regular'), mod('Bacon')]), 422, 'modifierIds[1]');
      rejected(await patch([mod('Regular'), NO_SUCH_ID]), 422, 'modifierIds[1]');
      rejected(await patch([mod('Regular'), mod('Regular')]), 422, 'modifierIds'); // chosen twice
    });

    s = accepted(await patch([mod('Large'), mod('Oat milk')]), s.version);
    expect(s.lines[0]).toMatchObject({ quantity: 2, unitPrice: 450, total: 1180 }); // (450 + 80 + 60) x 2
    expect(s.lines[0].modifiers.map((m: any) => m.name)).toEqual(['Large', 'Oat milk']);
    expect(s.totals).toMatchObject({ subtotal: 1180, tax: 94, total: 1274 });

    // Quantity and modifiers in one PATCH: one change, one version.
    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineId}`, {
        token: cashier,
        body: { quantity: 1, modifierIds: [mod('Regular')] },
      }),
      s.version,
    );
    expect(s.lines[0]).toMatchObject({
      quantity: 1,
      total: 450,
      modifiers: [{ id: mod('Regular'), name: 'Regular', price: 0 }],
    });
  });

  it('sets and clears a note', async () => {
    const { id, v } = await orderWithLatte();
    const lineId = (await snapshot(id)).lines[0].id;
    let s = accepted(
      await h.api('PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { token: cashier, body: { note: 'extra hot' } }),
      v,
    );
    expect(s.lines[0]).toMatchObject({ note: 'extra hot', quantity: 1, total: 450 });
    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { token: cashier, body: { note: null } }),
      s.version,
    );
    expect(s.lines[0].note).toBeNull();
    rejected(
      await h.api('PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { token: cashier, body: { note: 'x'.repeat(201) } }),
      422,
      'note',
    );
    expect((await snapshot(id)).version).toBe(s.version);
  });

  it('refuses an empty PATCH, an unknown line and unknown fields', async () => {
    const { id } = await orderWithLatte();
    const lineId = (await snapshot(id)).lines[0].id;
    await withoutTrace(id, async () => {
      rejected(await h.api('PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { token: cashier, body: {} }), 422);
      rejected(
        await h.api('PATCH', `/api/v1/orders/${id}/lines/${randomUUID()}`, { token: cashier, body: { quantity: 2 } }),
        422,
        'lineId',
      );
      rejected(await h.api('DELETE', `/api/v1/orders/${id}/lines/${randomUUID()}`, { token: cashier }), 422, 'lineId');
      rejected(
        await h.api('PATCH', `/api/v1/orders/${id}/lines/not-a-uuid`, { token: cashier, body: { quantity: 2 } }),
        422,
        'params.lineId',
      );
      rejected(
        await h.api('PATCH', `/api/v1/orders/${id}/lines/${lineId}`, {
          token: cashier,
          body: { quantity: 2, price: 1 },
        }),
        422,
      );
    });
  });

  it('removes a line and reprices; the removed line is then unknown', async () => {
    const o = await openOrder();
    let s = await addLine(o.id, { itemId: item('Latte'), quantity: 1, modifierIds: [mod('Regular')] }, 1);
    s = await addLine(o.id, { itemId: item('Croissant'), quantity: 2 }, s.version);
    const [latte, croissant] = s.lines;
    expect(s.totals.subtotal).toBe(450 + 650);

    s = accepted(await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${latte.id}`, { token: cashier }), s.version);
    expect(s.lines.map((l: any) => l.id)).toEqual([croissant.id]);
    expect(s.totals).toMatchObject({ subtotal: 650, tax: 52, total: 702, balance: 702 });

    rejected(await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${latte.id}`, { token: cashier }), 422, 'lineId');
    rejected(
      await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${latte.id}`, { token: cashier, body: { quantity: 1 } }),
      422,
      'lineId',
    );

    s = accepted(await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${croissant.id}`, { token: cashier }), s.version);
    expect(s.lines).toEqual([]);
    expect(s.totals).toMatchObject({ subtotal: 0, tax: 0, total: 0, balance: 0 });
    expect((await snapshot(o.id)).version).toBe(s.version);
  });
});

describe('order details', () => {
  it('sets type, table and customer name, and clears them with null', async () => {
    const o = await openOrder({ type: 'takeaway' });
    expect(o).toMatchObject({ type: 'takeaway', table: null, customerName: null });
    let s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}`, {
        token: cashier,
        body: { type: 'dine_in', table: '12', customerName: 'Wanjiru' },
      }),
      1,
    );
    expect(s).toMatchObject({ type: 'dine_in', table: '12', customerName: 'Wanjiru' });
    s = accepted(await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: { table: null } }), s.version);
    expect(s).toMatchObject({ type: 'dine_in', table: null, customerName: 'Wanjiru' });
    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}`, {
        token: cashier,
        body: { type: 'takeaway', customerName: null },
      }),
      s.version,
    );
    expect(s).toMatchObject({ type: 'takeaway', table: null, customerName: null });
    expect(await snapshot(o.id)).toMatchObject({ type: 'takeaway', version: s.version });
  });

  it('refuses bad details without a trace', async () => {
    const o = await openOrder();
    await withoutTrace(o.id, async () => {
      rejected(await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: {} }), 422);
      rejected(
        await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: { type: 'delivery' } }),
        422,
        'type',
      );
      rejected(
        await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: { table: 'x'.repeat(21) } }),
        422,
        'table',
      );
      rejected(
        await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: { customerName: 5 } }),
        422,
        'customerName',
      );
      rejected(await h.api('PATCH', `/api/v1/orders/${o.id}`, { token: cashier, body: { status: 'closed' } }), 422);
    });
  });
});

describe('discounts on an order', () => {
  it('applies percent and amount discounts, refuses a repeat, removes them', async () => {
    const o = await openOrder();
    let s = await addLine(o.id, { itemId: item('Burger'), quantity: 2, modifierIds: [mod('Extra cheese')] }, 1); // 2500

    s = accepted(
      await h.api('POST', `/api/v1/orders/${o.id}/discounts`, {
        token: cashier,
        body: { discountId: disc('Staff 10%') },
      }),
      s.version,
    );
    expect(s.discounts).toEqual([expect.objectContaining({ id: disc('Staff 10%'), name: 'Staff 10%', amount: 250 })]);
    expect(s.totals).toMatchObject({ subtotal: 2500, discount: 250, tax: 180, total: 2430 });

    s = accepted(
      await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: disc('$2 off') } }),
      s.version,
    );
    expect(s.discounts).toEqual([
      expect.objectContaining({ id: disc('Staff 10%'), name: 'Staff 10%', amount: 250 }),
      expect.objectContaining({ id: disc('$2 off'), name: '$2 off', amount: 200 }),
    ]);
    expect(s.totals).toMatchObject({ subtotal: 2500, discount: 450, tax: 164, total: 2214, balance: 2214 });

    await withoutTrace(o.id, async () => {
      rejected(
        await h.api('POST', `/api/v1/orders/${o.id}/discounts`, {
          token: cashier,
          body: { discountId: disc('$2 off') },
        }),
        409,
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: randomUUID() } }),
        422,
        'discountId',
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: 'staff' } }),
        422,
        'discountId',
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: {} }),
        422,
        'discountId',
      );
    });

    s = accepted(
      await h.api('DELETE', `/api/v1/orders/${o.id}/discounts/${disc('Staff 10%')}`, { token: cashier }),
      s.version,
    );
    expect(s.discounts).toEqual([expect.objectContaining({ id: disc('$2 off'), name: '$2 off', amount: 200 })]);
    expect(s.totals).toMatchObject({ discount: 200, total: 2484 });

    await withoutTrace(o.id, async () => {
      rejected(
        await h.api('DELETE', `/api/v1/orders/${o.id}/discounts/${disc('Staff 10%')}`, { token: cashier }),
        422,
        'discountId',
      );
      rejected(
        await h.api('DELETE', `/api/v1/orders/${o.id}/discounts/${randomUUID()}`, { token: cashier }),
        422,
        'discountId',
      );
    });

    s = accepted(
      await h.api('DELETE', `/api/v1/orders/${o.id}/discounts/${disc('$2 off')}`, { token: cashier }),
      s.version,
    );
    expect(s.discounts).toEqual([]);
    expect(s.totals).toMatchObject({ discount: 0, total: 2700 });
    // Removed discounts may be applied again.
    s = accepted(
      await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: disc('$2 off') } }),
      s.version,
    );
    expect(s.totals.discount).toBe(200);
  });

  it('refuses an unavailable discount (422)', async () => {
    const { id } = await orderWithLatte();
    await h.deps
      .knex('discounts')
      .where({ id: disc('$2 off') })
      .update({ available: false });
    try {
      await withoutTrace(id, async () => {
        rejected(
          await h.api('POST', `/api/v1/orders/${id}/discounts`, {
            token: cashier,
            body: { discountId: disc('$2 off') },
          }),
          422,
          'discountId',
        );
      });
    } finally {
      await h.deps
        .knex('discounts')
        .where({ id: disc('$2 off') })
        .update({ available: true });
    }
  });

  it('refuses discounts (409) on an order created while discounts were turned off in settings', async () => {
    const off = await h.api('PUT', '/api/v1/settings', { token: manager, body: { discountsEnabled: false } });
    expect(off.status).toBe(200);
    let id: string;
    try {
      ({ id } = await orderWithLatte());
    } finally {
      expect(
        (await h.api('PUT', '/api/v1/settings', { token: manager, body: { discountsEnabled: true } })).status,
      ).toBe(200);
    }
    // Settings are snapshotted at creation: turning them back on does not change this order.
    await withoutTrace(id, async () => {
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/discounts`, {
          token: cashier,
          body: { discountId: disc('Staff 10%') },
        }),
        409,
      );
    });
    // ...and an order created now accepts them.
    const { id: later, v } = await orderWithLatte();
    const s = accepted(
      await h.api('POST', `/api/v1/orders/${later}/discounts`, {
        token: cashier,
        body: { discountId: disc('Staff 10%') },
      }),
      v,
    );
    expect(s.totals.discount).toBe(45);
  });

  it('caps a discount larger than the subtotal: the total is never negative', async () => {
    const [big] = await h.deps
      .knex('discounts')
      .insert({ location_id: h.shop.locationId, name: '$50 off', type: 'amount', value: 5000, sort_order: 9 })
      .returning('id');
    const { id, v } = await orderWithLatte(); // 450
    let s = accepted(
      await h.api('POST', `/api/v1/orders/${id}/discounts`, {
        token: cashier,
        body: { discountId: disc('Staff 10%') },
      }),
      v,
    );
    s = accepted(
      await h.api('POST', `/api/v1/orders/${id}/discounts`, { token: cashier, body: { discountId: big.id } }),
      s.version,
    );
    expect(s.discounts).toEqual([
      expect.objectContaining({ id: disc('Staff 10%'), name: 'Staff 10%', amount: 45 }),
      expect.objectContaining({ id: big.id, name: '$50 off', amount: 405 }),
    ]);
    expect(s.totals).toMatchObject({ subtotal: 450, discount: 450, tax: 0, total: 0, balance: 0 });
    // Adding a line brings a balance back, still capped per the running total.
    s = await addLine(id, { itemId: item('Burger'), quantity: 1 }, s.version); // subtotal 1600
    expect(s.totals).toMatchObject({ subtotal: 1600, discount: 1600, total: 0, balance: 0 });
    s = await addLine(id, { itemId: item('Burger'), quantity: 4 }, s.version); // subtotal 6200
    expect(s.totals).toMatchObject({ subtotal: 6200, discount: 620 + 5000, tax: 46, total: 626 });
  });
});

describe('kitchen: submit and ready', () => {
  const tickets = async (orderId: string) =>
    (
      await h.deps.knex.raw(
        `select data from order_events where order_id = ? and event = 'kitchen.ticket' order by id`,
        [orderId],
      )
    ).rows.map((r: any) => (typeof r.data === 'string' ? JSON.parse(r.data) : r.data));

  it('refuses to submit an empty order or nothing new; a later submit sends only what was added', async () => {
    const o = await openOrder({ type: 'dine_in', table: '4' });
    await withoutTrace(o.id, async () => {
      rejected(await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier }), 409);
    });

    let s = await addLine(
      o.id,
      { itemId: item('Latte'), quantity: 1, modifierIds: [mod('Large')], note: 'extra hot' },
      1,
    );
    s = await addLine(o.id, { itemId: item('Croissant'), quantity: 2 }, s.version);
    const croissantId = s.lines[1].id;
    s = accepted(await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier }), s.version);
    expect(s.kitchenStatus).toBe('sent');

    await withoutTrace(o.id, async () => {
      rejected(await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier }), 409);
    });

    // One more croissant on the existing line and a new espresso: the second ticket has only those.
    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${croissantId}`, { token: cashier, body: { quantity: 3 } }),
      s.version,
    );
    s = await addLine(o.id, { itemId: item('Espresso'), quantity: 1, modifierIds: [mod('Regular')] }, s.version);
    s = accepted(await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier }), s.version);
    expect(s.kitchenStatus).toBe('sent');

    const [first, second] = await waitFor(async () => {
      const t = await tickets(o.id);
      return t.length >= 2 ? t : undefined;
    });
    expect(first).toMatchObject({ orderId: o.id, orderNumber: o.orderNumber, type: 'dine_in', table: '4' });
    expect(first.lines).toEqual([
      { itemId: item('Latte'), name: 'Latte', quantity: 1, modifiers: ['Large'], note: 'extra hot' },
      { itemId: item('Croissant'), name: 'Croissant', quantity: 2, modifiers: [], note: null },
    ]);
    expect(second.lines).toEqual([
      { itemId: item('Croissant'), name: 'Croissant', quantity: 1, modifiers: [], note: null },
      { itemId: item('Espresso'), name: 'Espresso', quantity: 1, modifiers: ['Regular'], note: null },
    ]);
    expect(await tickets(o.id)).toHaveLength(2);

    // Lowering a quantity below what was sent and raising it back sends nothing again for the part already sent.
    s = accepted(
      await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${croissantId}`, { token: cashier, body: { quantity: 1 } }),
      s.version,
    );
    rejected(await h.api('POST', `/api/v1/orders/${o.id}/submit`, { token: cashier }), 409);
    expect((await snapshot(o.id)).version).toBe(s.version);
  });

  it('bumps (ready) only after a submit; the kitchen may bump but not sell', async () => {
    const { id, v } = await orderWithLatte();
    await withoutTrace(id, async () => {
      rejected(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchen }), 409);
      rejected(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: cashier }), 409);
    });
    let s = accepted(await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier }), v);
    s = accepted(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchen }), s.version);
    expect(s.kitchenStatus).toBe('ready');
    rejected(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: kitchen }), 409); // already ready

    // The kitchen reads the order but may not change the cart.
    expect((await h.api('GET', `/api/v1/orders/${id}`, { token: kitchen })).status).toBe(200);
    await withoutTrace(id, async () => {
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/lines`, {
          token: kitchen,
          body: { itemId: item('Croissant'), quantity: 1 },
        }),
        403,
      );
    });

    // A new line sent later puts the order back to `sent`, and it can be bumped again (by a cashier too).
    s = await addLine(id, { itemId: item('Croissant'), quantity: 1 }, s.version);
    expect(s.kitchenStatus).toBe('ready');
    s = accepted(await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier }), s.version);
    expect(s.kitchenStatus).toBe('sent');
    s = accepted(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: cashier }), s.version);
    expect(s.kitchenStatus).toBe('ready');
  });
});

describe('cancel', () => {
  it('needs a reason', async () => {
    const { id } = await orderWithLatte();
    await withoutTrace(id, async () => {
      rejected(await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: {} }), 422, 'reason');
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: '' } }),
        422,
        'reason',
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: '   ' } }),
        422,
        'reason',
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: 'x'.repeat(201) } }),
        422,
        'reason',
      );
      rejected(await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier }), 422, 'reason');
    });
  });

  it('cancels with a reason; then every mutation is a 409 and the order reads cancelled from the database', async () => {
    const { id, v, snap } = await orderWithLatte();
    const lineId = snap.lines[0].id;
    const s = accepted(
      await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: 'customer left' } }),
      v,
    );
    expect(s).toMatchObject({ status: 'cancelled', cancelReason: 'customer left', closedAt: expect.any(String) });

    await expectEveryMutationConflicts(id, lineId);
    await workflowDone(id);
    await expectEveryMutationConflicts(id, lineId);

    const row = await waitFor(() => h.deps.knex('orders').where({ id }).whereNotNull('persisted_at').first());
    expect(row).toMatchObject({ status: 'cancelled', cancel_reason: 'customer left', version: s.version });
    const get = await snapshot(id);
    expect(get).toEqual(row.snapshot);
    expect(get).toMatchObject({ status: 'cancelled', version: s.version });
  });

  it('refuses to cancel once a cash payment succeeded (refund instead); the order stays open', async () => {
    const { id, v } = await orderWithLatte(); // 486
    const paid = await postPayment(h, cashier, id, { method: 'cash', amount: 200, tendered: 200 });
    const s = accepted(paid, v, 201);
    await withoutTrace(id, async () => {
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: 'changed mind' } }),
        409,
      );
    });
    expect(await snapshot(id)).toMatchObject({
      status: 'open',
      version: s.version,
      cancelReason: null,
      totals: { paid: 200, balance: 286 },
    });
  });
});

describe('payments', () => {
  const pay = (id: string, body: Record<string, unknown>) => postPayment(h, cashier, id, body);

  it('refuses a payment on an order with no lines (409)', async () => {
    const o = await openOrder();
    await withoutTrace(o.id, async () => {
      rejected(await pay(o.id, { method: 'cash', amount: 100, tendered: 100 }), 409);
    });
  });

  it('validates amount, tendered and method without a trace', async () => {
    const { id } = await orderWithLatte(); // 486
    await withoutTrace(id, async () => {
      rejected(await pay(id, { method: 'cash', amount: 487, tendered: 1000 }), 422, 'amount');
      rejected(await pay(id, { method: 'cash', amount: 0, tendered: 0 }), 422, 'amount');
      rejected(await pay(id, { method: 'cash', amount: 12.5, tendered: 20 }), 422, 'amount');
      rejected(await pay(id, { method: 'cash', amount: 300, tendered: 299 }), 422, 'tendered');
      rejected(await pay(id, { method: 'cash', amount: 300 }), 422, 'tendered');
      rejected(await pay(id, { method: 'cheque', amount: 300 }), 422, 'method');
      rejected(await pay(id, { method: 'cash', amount: 300, tendered: 300, extra: 1 }), 422);
      for (const body of [
        { method: 'card', provider: 'stripe', amount: 300, deviceId: 'tmr_1' },
        { method: 'card', provider: 'square', amount: 486, tip: 50, deviceId: 'reader-1' },
        { method: 'qr', amount: 300 },
        { method: 'mpesa', amount: 300, phone: '254712345678' },
        { method: 'airtel', amount: 300, phone: '254712345678' },
      ]) {
        // This location has no gateway configured: refused before the order is touched.
        const res = await pay(id, body);
        rejected(res, 422, body.method === 'card' ? 'provider' : 'method');
        expect(res.body.detail).toMatch(/not configured/);
      }
      rejected(await pay(id, { method: 'card', amount: 300 }), 422, 'provider');
    });
    const s = await snapshot(id);
    expect(s).toMatchObject({ status: 'open', payments: [], totals: { paid: 0, balance: 486 } });
  });

  it('takes a cash tip on top of the amount: tendered covers both and the change keeps the tip', async () => {
    const { id, v } = await orderWithLatte(); // 486
    await withoutTrace(id, async () => {
      rejected(await pay(id, { method: 'cash', amount: 486, tip: 50, tendered: 500 }), 422, 'tendered');
      rejected(await pay(id, { method: 'cash', amount: 486, tip: -1, tendered: 600 }), 422, 'tip');
    });
    const res = await pay(id, { method: 'cash', amount: 486, tip: 50, tendered: 600 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ amount: 486, tip: 50, tendered: 600, change: 64, status: 'succeeded' });
    expect(res.body.order).toMatchObject({
      status: 'closed',
      version: v + 2,
      totals: { tip: 50, total: 536, paid: 536, balance: 0 },
    });
  });

  it('takes partial payments, gives change, closes at zero, and serves the payments', async () => {
    const o = await openOrder();
    let s = await addLine(o.id, { itemId: item('Burger'), quantity: 2, modifierIds: [mod('Extra cheese')] }, 1); // 2500 + 200 tax
    expect(s.totals.total).toBe(2700);

    const p1 = await pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    s = accepted(p1, s.version, 201);
    expect(p1.body).toMatchObject({
      orderId: o.id,
      method: 'cash',
      status: 'succeeded',
      amount: 1000,
      tendered: 1000,
      change: 0,
      tip: 0,
      fee: 0,
      settledAt: expect.any(String),
    });
    expect(s).toMatchObject({ status: 'open', totals: { total: 2700, paid: 1000, balance: 1700 } });
    expect(s.payments.map((p: any) => p.id)).toEqual([p1.body.id]);

    const p2 = await pay(o.id, { method: 'cash', amount: 700, tendered: 1000 });
    s = accepted(p2, s.version, 201);
    expect(p2.body).toMatchObject({ amount: 700, tendered: 1000, change: 300 });
    expect(s).toMatchObject({ status: 'open', totals: { paid: 1700, balance: 1000 } });

    // Still open: the cart may change and the balance follows.
    s = accepted(
      await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: disc('$2 off') } }),
      s.version,
    );
    expect(s.totals).toMatchObject({ total: 2484, paid: 1700, balance: 784 });
    await withoutTrace(o.id, async () => {
      rejected(await pay(o.id, { method: 'cash', amount: 785, tendered: 2000 }), 422, 'amount');
    });

    // The last payment closes the order: the payment and the close are two changes.
    const p3 = await pay(o.id, { method: 'cash', amount: 784, tendered: 2000 });
    expect(p3.status).toBe(201);
    expect(p3.body).toMatchObject({ amount: 784, change: 1216, status: 'succeeded' });
    expect(p3.body.order).toMatchObject({
      status: 'closed',
      version: s.version + 2,
      closedAt: expect.any(String),
      totals: { paid: 2484, balance: 0 },
    });

    for (const p of [p1, p2, p3]) {
      const got = await waitFor(async () => {
        const r = await h.api('GET', `/api/v1/payments/${p.body.id}`, { token: cashier });
        return r.status === 200 ? r : undefined;
      });
      const { order: _order, ...payment } = p.body;
      expect(got.body).toEqual(payment);
    }
    rejected(await h.api('GET', `/api/v1/payments/${randomUUID()}`, { token: cashier }), 404);
    rejected(await h.api('GET', `/api/v1/payments/${p1.body.id}`, { token: kitchen }), 403);

    // A closed order takes no more payments.
    rejected(await pay(o.id, { method: 'cash', amount: 100, tendered: 100 }), 409);
    await workflowDone(o.id);
    rejected(await pay(o.id, { method: 'cash', amount: 100, tendered: 100 }), 409);
  });
});

/** Every mutation of the API on a finished (closed or cancelled) order answers 409 CONFLICT. */
async function expectEveryMutationConflicts(id: string, lineId: string): Promise<void> {
  const calls: [string, string, unknown?][] = [
    ['POST', `/api/v1/orders/${id}/lines`, { itemId: item('Croissant'), quantity: 1 }],
    ['PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { quantity: 2 }],
    ['DELETE', `/api/v1/orders/${id}/lines/${lineId}`],
    ['POST', `/api/v1/orders/${id}/discounts`, { discountId: disc('Staff 10%') }],
    ['DELETE', `/api/v1/orders/${id}/discounts/${disc('Staff 10%')}`],
    ['PATCH', `/api/v1/orders/${id}`, { table: '9' }],
    ['POST', `/api/v1/orders/${id}/submit`],
    ['POST', `/api/v1/orders/${id}/ready`],
    ['POST', `/api/v1/orders/${id}/cancel`, { reason: 'again' }],
    ['POST', `/api/v1/orders/${id}/payments`, { method: 'cash', amount: 100, tendered: 100 }],
  ];
  for (const [method, path, body] of calls) {
    const res = await h.api(method, path, { token: cashier, headers: anyKey(), ...(body ? { body } : {}) });
    if (res.status !== 409)
      throw new Error(`${method} ${path}: expected 409, got ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.body.code).toBe('CONFLICT');
  }
}

describe('closed order', () => {
  it('answers every mutation with 409 and reads the closed snapshot from the database', async () => {
    const { id, snap } = await orderWithLatte(); // 486
    const paid = await postPayment(h, cashier, id, { method: 'cash', amount: 486, tendered: 500 });
    expect(paid.status).toBe(201);
    expect(paid.body.order.status).toBe('closed');
    const closed = paid.body.order;

    await expectEveryMutationConflicts(id, snap.lines[0].id); // while the workflow finishes up, or after
    await workflowDone(id);
    await expectEveryMutationConflicts(id, snap.lines[0].id);

    const row = await h.deps.knex('orders').where({ id }).first();
    expect(row).toMatchObject({ status: 'closed', version: closed.version, total: 486, paid: 486 });
    expect(row.persisted_at).not.toBeNull();
    const get = await snapshot(id);
    expect(get).toEqual(row.snapshot);
    // The closing transaction gives the receipt number after the closing answer went out.
    expect(get).toEqual({ ...closed, receiptNumber: row.receipt_number });
    expect(row.receipt_number).toEqual(expect.any(Number));
    expect((await h.api('GET', `/api/v1/orders/${id}`, { token: kitchen })).body.status).toBe('closed');
  });
});

describe('unknown orders', () => {
  it('answers 404 for an order that does not exist', async () => {
    const id = randomUUID();
    rejected(await h.api('GET', `/api/v1/orders/${id}`, { token: cashier }), 404);
    rejected(
      await h.api('POST', `/api/v1/orders/${id}/lines`, {
        token: cashier,
        body: { itemId: item('Croissant'), quantity: 1 },
      }),
      404,
    );
    rejected(await h.api('POST', `/api/v1/orders/${id}/submit`, { token: cashier }), 404);
    rejected(await postPayment(h, cashier, id, { method: 'cash', amount: 1, tendered: 1 }), 404);
    rejected(await h.api('GET', `/api/v1/orders/not-a-uuid`, { token: cashier }), 422, 'params.id');
  });
});

describe('order numbers', () => {
  it('only a manager may reset them; the next order gets 1', async () => {
    await openOrder();
    const before = (await h.deps.knex('locations').where({ id: h.shop.locationId }).first()).order_number_counter;
    expect(before).toBeGreaterThan(0);
    rejected(await h.api('POST', '/api/v1/order-numbers/reset', { token: cashier }), 403);
    rejected(await h.api('POST', '/api/v1/order-numbers/reset', { token: kitchen }), 403);
    rejected(await h.api('POST', '/api/v1/order-numbers/reset'), 401);
    expect((await h.deps.knex('locations').where({ id: h.shop.locationId }).first()).order_number_counter).toBe(before);

    const reset = await h.api('POST', '/api/v1/order-numbers/reset', { token: manager });
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ next: 1 });
    expect((await openOrder()).orderNumber).toBe(1);
    expect((await openOrder()).orderNumber).toBe(2);
    expect(
      await h.deps.knex('audit_log').where({ location_id: h.shop.locationId, action: 'order_numbers.reset' }).count(),
    ).toEqual([{ count: '1' }]);
    expect((await h.api('POST', '/api/v1/order-numbers/reset', { token: admin })).status).toBe(200);
    expect((await openOrder()).orderNumber).toBe(1);
  });

  it('gives ten terminals opening at once ten different numbers', async () => {
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ order_number_counter: 0 });
    const orders = await Promise.all(Array.from({ length: 10 }, () => openOrder()));
    expect(orders.map((o) => o.orderNumber).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('gives one order created twice at once (two taps, a retry) one number', async () => {
    const id = randomUUID();
    const [a, b] = await Promise.all(
      [0, 1].map(() => h.api('POST', '/api/v1/orders', { token: cashier, body: { id, type: 'takeaway' } })),
    );
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.orderNumber).toBe(b.body.orderNumber);
    const assigned = await h.deps.knex('order_number_assignments').where({ order_id: id });
    expect(assigned.map((r) => r.number)).toEqual([a.body.orderNumber]);
  });

  it('wraps from 99 to 1', async () => {
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ order_number_counter: 98 });
    expect((await openOrder()).orderNumber).toBe(99);
    expect((await openOrder()).orderNumber).toBe(1);
    expect((await openOrder()).orderNumber).toBe(2);
  });
});

describe('auth on order routes', () => {
  it('needs a token (401) and keeps the kitchen off cashier routes (403)', async () => {
    const { id, snap } = await orderWithLatte();
    const lineId = snap.lines[0].id;
    await withoutTrace(id, async () => {
      for (const [method, path, body] of [
        ['GET', '/api/v1/orders'],
        ['GET', `/api/v1/orders/${id}`],
        ['POST', '/api/v1/orders', { type: 'takeaway' }],
        ['POST', `/api/v1/orders/${id}/lines`, { itemId: item('Croissant'), quantity: 1 }],
        ['POST', `/api/v1/orders/${id}/ready`],
        ['POST', `/api/v1/orders/${id}/payments`, { method: 'cash', amount: 100, tendered: 100 }],
        ['GET', `/api/v1/payments/${randomUUID()}`],
      ] as [string, string, unknown?][]) {
        rejected(await h.api(method, path, body ? { body } : {}), 401);
        rejected(await h.api(method, path, { token: 'not-a-token', ...(body ? { body } : {}) }), 401);
      }
      for (const [method, path, body] of [
        ['POST', '/api/v1/orders', { type: 'takeaway' }],
        ['PATCH', `/api/v1/orders/${id}`, { table: '1' }],
        ['POST', `/api/v1/orders/${id}/lines`, { itemId: item('Croissant'), quantity: 1 }],
        ['PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { quantity: 2 }],
        ['DELETE', `/api/v1/orders/${id}/lines/${lineId}`],
        ['POST', `/api/v1/orders/${id}/discounts`, { discountId: disc('Staff 10%') }],
        ['DELETE', `/api/v1/orders/${id}/discounts/${disc('Staff 10%')}`],
        ['POST', `/api/v1/orders/${id}/submit`],
        ['POST', `/api/v1/orders/${id}/cancel`, { reason: 'nope' }],
        ['POST', `/api/v1/orders/${id}/payments`, { method: 'cash', amount: 100, tendered: 100 }],
        ['POST', `/api/v1/orders/${id}/reprint`, { kind: 'receipt' }],
      ] as [string, string, unknown?][]) {
        rejected(await h.api(method, path, { token: kitchen, ...(body ? { body } : {}) }), 403);
      }
    });
    // Kitchen may read orders.
    expect((await h.api('GET', `/api/v1/orders/${id}`, { token: kitchen })).status).toBe(200);
    expect((await h.api('GET', '/api/v1/orders?limit=1', { token: kitchen })).status).toBe(200);
  });
});

// Last: after this a PIN-only login is ambiguous (the same demo PINs exist at two locations).
describe('another location', () => {
  let other: SeededShop;
  let otherCashier: string;
  let otherKitchen: string;

  const loginAt = async (pin: string, locationId: string) => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin, locationId } });
    expect(res.status).toBe(200);
    expect(res.body.staff.locationId).toBe(locationId);
    return res.body.token as string;
  };

  beforeAll(async () => {
    other = (await seedDemoShop(h.deps.knex, h.deps.config.tokenSecret, { force: true, name: 'Second Shop' }))!;
    otherCashier = await loginAt('3456', other.locationId);
    otherKitchen = await loginAt('4567', other.locationId);
  });

  it('makes a PIN-only login ambiguous: the client must send locationId', async () => {
    const res = await h.api('POST', '/api/v1/auth/login', { body: { pin: '3456' } });
    rejected(res, 422, 'locationId');
    expect(await loginAt('3456', h.shop.locationId)).toEqual(expect.any(String));
  });

  it("answers 404 for another location's order, on reads and on every mutation, without a trace", async () => {
    const { id, snap } = await orderWithLatte();
    const lineId = snap.lines[0].id;
    await withoutTrace(id, async () => {
      for (const [method, path, body] of [
        ['GET', `/api/v1/orders/${id}`],
        ['PATCH', `/api/v1/orders/${id}`, { table: '1' }],
        ['POST', `/api/v1/orders/${id}/lines`, { itemId: other.items['Croissant'], quantity: 1 }],
        ['PATCH', `/api/v1/orders/${id}/lines/${lineId}`, { quantity: 2 }],
        ['DELETE', `/api/v1/orders/${id}/lines/${lineId}`],
        ['POST', `/api/v1/orders/${id}/discounts`, { discountId: other.discounts['Staff 10%'] }],
        ['DELETE', `/api/v1/orders/${id}/discounts/${disc('Staff 10%')}`],
        ['POST', `/api/v1/orders/${id}/submit`],
        ['POST', `/api/v1/orders/${id}/cancel`, { reason: 'not mine' }],
        ['POST', `/api/v1/orders/${id}/payments`, { method: 'cash', amount: 100, tendered: 100 }],
        ['POST', `/api/v1/orders/${id}/reprint`, { kind: 'receipt' }],
      ] as [string, string, unknown?][]) {
        const res = await h.api(method, path, { token: otherCashier, headers: anyKey(), ...(body ? { body } : {}) });
        if (res.status !== 404)
          throw new Error(`${method} ${path}: expected 404, got ${res.status} ${JSON.stringify(res.body)}`);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      rejected(await h.api('POST', `/api/v1/orders/${id}/ready`, { token: otherKitchen }), 404);
      // A catalog item or discount of the other location is unknown here (422), not borrowed.
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/lines`, {
          token: cashier,
          body: { itemId: other.items['Croissant'], quantity: 1 },
        }),
        422,
        'itemId',
      );
      rejected(
        await h.api('POST', `/api/v1/orders/${id}/discounts`, {
          token: cashier,
          body: { discountId: other.discounts['Staff 10%'] },
        }),
        422,
        'discountId',
      );
    });

    // A client id of another location's order does not reveal or reuse it.
    const reuse = await h.api('POST', '/api/v1/orders', { token: otherCashier, body: { id, type: 'takeaway' } });
    expect([404, 409]).toContain(reuse.status);
    expect((await snapshot(id)).locationId).toBe(h.shop.locationId);

    // Closed orders (read from the database) are scoped too.
    const paid = await postPayment(h, cashier, id, { method: 'cash', amount: 486, tendered: 486 });
    expect(paid.body.order.status).toBe('closed');
    await workflowDone(id);
    rejected(await h.api('GET', `/api/v1/orders/${id}`, { token: otherCashier }), 404);
    rejected(
      await h.api('POST', `/api/v1/orders/${id}/lines`, {
        token: otherCashier,
        body: { itemId: other.items['Croissant'], quantity: 1 },
      }),
      404,
    );
    const paymentId = paid.body.id;
    await waitFor(async () => (await h.api('GET', `/api/v1/payments/${paymentId}`, { token: cashier })).status === 200);
    rejected(await h.api('GET', `/api/v1/payments/${paymentId}`, { token: otherCashier }), 404);
  });

  it('lists open orders of the location, newest first, in pages with a cursor', async () => {
    const created: any[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.api('POST', '/api/v1/orders', {
        token: otherCashier,
        body: { type: 'takeaway', customerName: `guest ${i}` },
      });
      expect(res.status).toBe(201);
      expect(res.body.locationId).toBe(other.locationId);
      created.push(res.body);
    }
    const cancelled = await h.api('POST', '/api/v1/orders', { token: otherCashier, body: { type: 'takeaway' } });
    accepted(
      await h.api('POST', `/api/v1/orders/${cancelled.body.id}/cancel`, {
        token: otherCashier,
        body: { reason: 'test' },
      }),
      1,
    );
    // Order numbers are per location: the second shop starts at 1.
    expect(created.map((o) => o.orderNumber)).toEqual([1, 2, 3]);

    const ids = [...created].reverse().map((o) => o.id);
    await waitFor(async () => (await h.deps.knex('orders').whereIn('id', [...ids, cancelled.body.id])).length === 4);
    await waitFor(
      async () => (await h.deps.knex('orders').where({ id: cancelled.body.id }).first())?.status === 'cancelled',
    );

    const page1 = await h.api('GET', '/api/v1/orders?status=open&limit=2', { token: otherCashier });
    expect(page1.status).toBe(200);
    expect(page1.body.orders.map((o: any) => o.id)).toEqual(ids.slice(0, 2));
    expect(page1.body.orders.every((o: any) => o.status === 'open' && o.locationId === other.locationId)).toBe(true);
    expect(page1.body.nextCursor).toEqual(expect.any(String));

    const page2 = await h.api(
      'GET',
      `/api/v1/orders?status=open&limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
      { token: otherCashier },
    );
    expect(page2.status).toBe(200);
    expect(page2.body.orders.map((o: any) => o.id)).toEqual(ids.slice(2));
    expect(page2.body.nextCursor).toBeNull();

    const all = await h.api('GET', '/api/v1/orders?limit=10', { token: otherCashier });
    expect(all.body.orders.map((o: any) => o.id)).toEqual([cancelled.body.id, ...ids]);
    expect(all.body.nextCursor).toBeNull();
    const onlyCancelled = await h.api('GET', '/api/v1/orders?status=cancelled', { token: otherKitchen });
    expect(onlyCancelled.body.orders.map((o: any) => o.id)).toEqual([cancelled.body.id]);

    // The first location's list does not show them.
    const mine = await h.api('GET', '/api/v1/orders?limit=200', { token: cashier });
    expect(mine.body.orders.some((o: any) => o.locationId !== h.shop.locationId)).toBe(false);

    for (const cursor of [
      'garbage',
      Buffer.from('["not a date","x"]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      rejected(
        await h.api('GET', `/api/v1/orders?status=open&limit=2&cursor=${cursor}`, { token: otherCashier }),
        422,
        'query.cursor',
      );
    }
    rejected(await h.api('GET', '/api/v1/orders?limit=0', { token: otherCashier }), 422, 'query.limit');
    rejected(await h.api('GET', '/api/v1/orders?limit=201', { token: otherCashier }), 422, 'query.limit');
    rejected(await h.api('GET', '/api/v1/orders?status=bogus', { token: otherCashier }), 422, 'query.status');
  });
});
