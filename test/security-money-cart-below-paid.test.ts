/**
 * Attacks on the paid amount: after money is taken, the cart may not shrink below it (the order
 * would be stuck open with paid > total), and a change that leaves exactly nothing due closes the
 * order as a payment would.
 */
import { randomUUID } from 'node:crypto';
import { temporal as proto } from '@temporalio/proto';
import { startHarness, Harness } from './support/harness';
import { openOrderState, pollDefined, stateLine, withoutTrace } from './support/order-state';

let h: Harness;
let cashier: string;

beforeAll(async () => {
  h = await startHarness();
  cashier = await h.login('3456');
});
afterAll(async () => h?.close());

// The demo shop: Croissant 325, 8% exclusive tax, "$2 off" = 200.
const croissant = () => h.shop.items['Croissant']!;
const twoOff = () => h.shop.discounts['$2 off']!;

/** An order of croissant lines (one line per quantity given) with `paid` taken in cash. */
async function paidOrder(quantities: number[], paid: number): Promise<any> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: quantities.map((quantity) => ({ itemId: croissant(), quantity })) },
  });
  expect(created.status).toBe(201);
  const pay = await h.api('POST', `/api/v1/orders/${created.body.id}/payments`, {
    token: cashier,
    body: { method: 'cash', amount: paid, tendered: paid },
    headers: { 'Idempotency-Key': randomUUID() },
  });
  expect(pay.status).toBe(201);
  expect(pay.body.order.totals.paid).toBe(paid);
  return pay.body.order;
}

function expect409(res: { status: number; body: any }): void {
  if (res.status !== 409) throw new Error(`expected 409, got ${res.status}: ${JSON.stringify(res.body)}`);
  expect(res.body.code).toBe('CONFLICT');
}

describe('a cart change may not take the total below what was paid', () => {
  it('removing a line (1404 paid 1000 → 351) is 409 and writes nothing', async () => {
    const o = await paidOrder([3, 1], 1000);
    expect(o.totals.total).toBe(1404);
    await withoutTrace(h, o.id, async () => {
      expect409(await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}`, { token: cashier }));
    });
    const after = await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier });
    expect(after.body.totals).toMatchObject({ total: 1404, paid: 1000, balance: 404 });
  });

  it('adding a discount (351 paid 300 → 135) is 409 and writes nothing', async () => {
    const o = await paidOrder([1], 300);
    await withoutTrace(h, o.id, async () => {
      expect409(
        await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId: twoOff() } }),
      );
    });
  });

  it('lowering a quantity (1404 paid 1000 → 351) is 409 and writes nothing', async () => {
    const o = await paidOrder([4], 1000);
    await withoutTrace(h, o.id, async () => {
      expect409(
        await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}`, {
          token: cashier,
          body: { quantity: 1 },
        }),
      );
    });
  });
});

describe('a cart change that leaves nothing due closes the order', () => {
  it('removing a line so that the paid amount covers exactly the rest closes it', async () => {
    const o = await paidOrder([1, 1], 351);
    const res = await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[1].id}`, { token: cashier });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('closed');
    expect(res.body.totals).toMatchObject({ total: 351, paid: 351, balance: 0 });
  });

  it('a discount that brings the balance to exactly 0 closes it, and it is persisted as closed', async () => {
    const o = await paidOrder([4], 1188); // (1300 - 200) + 8% = 1188
    const res = await h.api('POST', `/api/v1/orders/${o.id}/discounts`, {
      token: cashier,
      body: { discountId: twoOff() },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('closed');
    const row = await pollDefined(
      () => h.deps.knex('orders').where({ id: o.id }).whereNotNull('persisted_at').first('status', 'paid', 'total'),
      15_000,
      100,
    );
    expect(row).toMatchObject({ status: 'closed', paid: 1188, total: 1188 });
  });
});

/** An order from before the rule: one Croissant (325 + 8% tax) with 1000 already taken in cash. */
function overpaidState(id: string) {
  const now = new Date().toISOString();
  const cash = {
    method: 'cash',
    provider: null,
    status: 'succeeded',
    amount: 1000,
    tip: 0,
    fee: 0,
    tendered: 1000,
    change: 0,
  };
  return openOrderState(h, id, {
    lines: [stateLine(h, 'Croissant', 1, 325, true)],
    payments: [{ id: randomUUID(), seq: 1, orderId: id, ...cash, createdAt: now, settledAt: now }],
    taxRate: 800,
  });
}

describe('an order from before the rule, already paid above its total', () => {
  it('may still be brought back up: a line that raises the total is accepted', async () => {
    const id = randomUUID();
    await h.deps.temporal.workflow.start('checkout', {
      workflowId: `order-${id}`,
      taskQueue: h.taskQueue,
      args: [{ state: overpaidState(id), abandonAfterMs: 3600_000 }],
    });
    const res = await h.api('POST', `/api/v1/orders/${id}/lines`, {
      token: cashier,
      body: { itemId: croissant(), quantity: 3 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'open', totals: { total: 1404, paid: 1000, balance: 404 } });
    await h.deps.temporal.workflow.getHandle(`order-${id}`).terminate('test done');
  });
});

describe('"writes nothing" is told apart from the order catching up on its own', () => {
  // The partial payment's event leaves the catch-up timer armed; when it fires inside the
  // check's window, its task and publishing activity are the order's own, not the rejection's.
  it('a rejection while the catch-up timer fires still counts as writing nothing', async () => {
    const o = await paidOrder([3, 1], 1000);
    await withoutTrace(h, o.id, async () => {
      expect409(await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}`, { token: cashier }));
      await pollDefined(
        async () => ((await historyTypes(o.id)).includes('EVENT_TYPE_TIMER_FIRED') ? true : undefined),
        20_000,
        200,
      );
    });
  });
});

async function historyTypes(orderId: string): Promise<string[]> {
  const { events } = await h.deps.temporal.workflow.getHandle(`order-${orderId}`).fetchHistory();
  return (events ?? []).map((e) => String(proto.api.enums.v1.EventType[e.eventType!]));
}
