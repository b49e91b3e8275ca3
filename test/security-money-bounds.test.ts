/**
 * Attacks on money bounds: prices, amounts and order totals past what a column can hold. Every
 * such input is a 422 before anything reaches the workflow history, so no projection write can
 * overflow and jam an order's publishing.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { startHarness, Harness } from './support/harness';
import { openOrderState, pollDefined, stateLine, withoutTrace } from './support/order-state';
import { MAX_MONEY } from '../core/money';
import { orderActivities } from '../activities/orders';
import { DATA_ERROR_TYPE } from '../core/failures';
import { logger } from '../platform/logger';

let h: Harness;
let manager: string;
let cashier: string;

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
});
afterAll(async () => h?.close());

const INT4_MAX = 2_147_483_647;

function expect422(res: { status: number; body: any }, path: string): void {
  if (res.status !== 422) throw new Error(`expected 422, got ${res.status}: ${JSON.stringify(res.body)}`);
  expect(res.body.code).toBe('VALIDATION_ERROR');
  expect(res.body.errors.map((e: any) => e.path)).toContain(path);
}

/** A new item at `price` (written straight to the table, as a row from before the cap would be). */
async function itemAt(price: number): Promise<string> {
  const [row] = await h.deps
    .knex('items')
    .insert({ location_id: h.shop.locationId, name: `Item ${randomUUID().slice(0, 8)}`, price })
    .returning('id');
  return row.id;
}

async function openOrder(): Promise<any> {
  const res = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  expect(res.status).toBe(201);
  return res.body;
}

describe('order totals', () => {
  it('refuses a line whose quantity × price passes the cap, before history (item at INT4_MAX × 3)', async () => {
    const o = await openOrder();
    const itemId = await itemAt(INT4_MAX);
    await withoutTrace(h, o.id, async () => {
      expect422(
        await h.api('POST', `/api/v1/orders/${o.id}/lines`, { token: cashier, body: { itemId, quantity: 3 } }),
        'itemId',
      );
    });
  });

  it('refuses a line whose quantity × price passes the cap although the price is within it', async () => {
    const o = await openOrder();
    const itemId = await itemAt(MAX_MONEY);
    await withoutTrace(h, o.id, async () => {
      expect422(
        await h.api('POST', `/api/v1/orders/${o.id}/lines`, { token: cashier, body: { itemId, quantity: 3 } }),
        'quantity',
      );
    });
  });

  it('refuses a line that takes the sum of lines past the cap', async () => {
    const o = await openOrder();
    const itemId = await itemAt(Math.floor(MAX_MONEY / 2) + 1);
    const first = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
      token: cashier,
      body: { itemId, quantity: 1 },
    });
    expect(first.status).toBe(200);
    await withoutTrace(h, o.id, async () => {
      expect422(
        await h.api('POST', `/api/v1/orders/${o.id}/lines`, { token: cashier, body: { itemId, quantity: 1 } }),
        'quantity',
      );
    });
  });

  it('refuses a quantity change that takes the total past the cap', async () => {
    const o = await openOrder();
    const itemId = await itemAt(50_000_000); // within the cap with the shop's 8% tax, twice is not
    const added = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
      token: cashier,
      body: { itemId, quantity: 1 },
    });
    expect(added.status).toBe(200);
    const lineId = added.body.lines[0].id;
    await withoutTrace(h, o.id, async () => {
      expect422(
        await h.api('PATCH', `/api/v1/orders/${o.id}/lines/${lineId}`, { token: cashier, body: { quantity: 2 } }),
        'quantity',
      );
    });
  });

  it('refuses initial lines past the cap when the order is created (nothing is started)', async () => {
    const itemId = await itemAt(MAX_MONEY);
    const id = randomUUID();
    expect422(
      await h.api('POST', '/api/v1/orders', {
        token: cashier,
        body: { id, type: 'takeaway', lines: [{ itemId, quantity: 2 }] },
      }),
      'lines[0].quantity',
    );
    expect((await h.api('GET', `/api/v1/orders/${id}`, { token: cashier })).status).toBe(404);
  });

  it('accepts an order of exactly the cap', async () => {
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ tax_rate: 0 });
    try {
      const o = await openOrder();
      const itemId = await itemAt(MAX_MONEY);
      const res = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
        token: cashier,
        body: { itemId, quantity: 1 },
      });
      expect(res.status).toBe(200);
      expect(res.body.totals.total).toBe(MAX_MONEY);
    } finally {
      await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ tax_rate: 800 });
    }
  });
});

describe('money inputs past the cap are 422', () => {
  const over = MAX_MONEY + 1;

  it('catalog item price', async () => {
    const res = await h.api('POST', '/api/v1/catalog/items', {
      token: manager,
      body: { name: 'Gold bar', price: over },
    });
    expect422(res, 'price');
  });

  it('catalog item price at INT4_MAX', async () => {
    const res = await h.api('POST', '/api/v1/catalog/items', {
      token: manager,
      body: { name: 'Gold bar', price: INT4_MAX },
    });
    expect422(res, 'price');
  });

  it('modifier price', async () => {
    const res = await h.api('POST', '/api/v1/catalog/modifier-lists', {
      token: manager,
      body: { name: 'Gilding', modifiers: [{ name: 'Gold leaf', price: over }] },
    });
    expect422(res, 'modifiers[0].price');
  });

  it('discount amount', async () => {
    const res = await h.api('POST', '/api/v1/discounts', {
      token: manager,
      body: { name: 'Everything off', type: 'amount', value: over },
    });
    expect422(res, 'value');
  });

  it('settings card-fee minimum', async () => {
    const res = await h.api('PUT', '/api/v1/settings', {
      token: manager,
      body: { cardFee: { enabled: true, rate: 100, min: over } },
    });
    expect422(res, 'cardFee.min');
  });

  it.each([
    ['amount', { method: 'cash', amount: over, tendered: over }],
    ['tendered', { method: 'cash', amount: 100, tendered: over }],
    ['tip', { method: 'cash', amount: 100, tendered: 100, tip: over }],
  ])('payment %s', async (path, body) => {
    const o = await openOrder();
    const line = await h.api('POST', `/api/v1/orders/${o.id}/lines`, {
      token: cashier,
      body: { itemId: h.shop.items['Burger'], quantity: 1 },
    });
    expect(line.status).toBe(200);
    await withoutTrace(h, o.id, async () => {
      expect422(
        await h.api('POST', `/api/v1/orders/${o.id}/payments`, {
          token: cashier,
          body,
          headers: { 'Idempotency-Key': randomUUID() },
        }),
        path,
      );
    });
  });
});

describe('data errors in activities', () => {
  it('a value Postgres cannot store fails the publishing activity for good (typed, non-retryable)', async () => {
    const o = await openOrder();
    const snapshot = { ...o, version: o.version + 1, totals: { ...o.totals, total: INT4_MAX + 1 } };
    const activities = orderActivities({ knex: h.deps.knex, logger });
    const err = await activities
      .publishOrderEvents({ orderId: o.id, locationId: o.locationId, events: [], snapshot })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(DATA_ERROR_TYPE);
    expect(err.nonRetryable).toBe(true);
  });

  it('an order whose projection cannot be written says so in its current details instead of retrying forever', async () => {
    // Bypass the API's checks (as a workflow started before the cap would be): a line past INT4_MAX.
    const id = randomUUID();
    const handle = await h.deps.temporal.workflow.start('checkout', {
      workflowId: `order-${id}`,
      taskQueue: h.taskQueue,
      args: [
        {
          state: openOrderState(h, id, { lines: [stateLine(h, 'Burger', 3, INT4_MAX, false)] }),
          abandonAfterMs: 3600_000,
        },
      ],
    });
    const details = await pollDefined(
      async () => {
        const meta: any = await handle.query('__temporal_workflow_metadata');
        const text: string = meta?.currentDetails ?? '';
        return text.includes('could not be recorded') ? text : undefined;
      },
      20_000,
      200,
    );
    expect(details).toContain('22003');
    await handle.terminate('test done');
  });
});
