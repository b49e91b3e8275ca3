import type { Harness } from './harness';
import { postPayment } from './payments';
import { closedAddress, startFakePrinter } from './fake-printer';

async function openOrder(h: Harness, token: string, currency: 'USD' | 'KES', quantity = 1): Promise<any> {
  await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ currency, tax_rate: 0 });
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  const res = await h.api('POST', '/api/v1/orders', {
    token,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Burger'], quantity }] },
  });
  return res.body;
}

/** Waits until the order's payment `seq` left pending (the histories are exported when they end). */
async function settled(h: Harness, token: string, orderId: string, seq = 1): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const o = (await h.api('GET', `/api/v1/orders/${orderId}`, { token })).body;
    if (o.payments?.[seq - 1] && o.payments[seq - 1].status !== 'pending') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`payment ${seq} of ${orderId} stayed pending`);
}

/** A gateway payment scenario: the order and its payment workflow histories. */
function paymentScenario(
  currency: 'USD' | 'KES',
  pay: (h: Harness, token: string, order: any) => Promise<void>,
): (h: Harness) => Promise<string[]> {
  return async (h) => {
    const token = await h.login('3456');
    const order = await openOrder(h, token, currency);
    await pay(h, token, order);
    return [`order-${order.id}`, `payment-${order.id}-1`];
  };
}

const mpesa = (h: Harness, token: string, orderId: string, phone: string) =>
  postPayment(h, token, orderId, { method: 'mpesa', amount: 1000, phone });
const card = (h: Harness, token: string, orderId: string, provider: 'stripe' | 'square') =>
  postPayment(h, token, orderId, {
    method: 'card',
    provider,
    amount: 1000,
    deviceId: provider === 'stripe' ? 'tmr_replay' : 'replay-reader',
  });
const cashRest = (h: Harness, token: string, orderId: string) =>
  postPayment(h, token, orderId, { method: 'cash', amount: 1000, tendered: 1000 });

/** The bench's checkout (takeaway, Croissant + Burger + Espresso Regular, cash), opened over HTTP. */
async function apiNumberedCashCheckout(h: Harness): Promise<string[]> {
  const cashier = await h.login('3456');
  const { items, modifiers } = h.shop;
  const order = (
    await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: items['Croissant'], quantity: 1 }] },
    })
  ).body;
  await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
    token: cashier,
    body: { itemId: items['Burger'], quantity: 1 },
  });
  const last = await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
    token: cashier,
    body: { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] },
  });
  const total = last.body.totals.total;
  await postPayment(h, cashier, order.id, { method: 'cash', amount: total, tendered: total });
  return [`order-${order.id}`];
}

/** Resolves once the order's `version` is written, as a cashier's next tap usually finds it. */
async function written(h: Harness, orderId: string, version: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await h.deps.knex('order_events').where({ order_id: orderId, version }).first()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`version ${version} of ${orderId} was never written`);
}

/**
 * The bench's checkout with the API telling the run what it wrote: each change after the write
 * of the one before, and a pause past the catch-up delay between the second and third line, so
 * the catch-up writes what the callers had not confirmed yet.
 */
async function confirmedCashCheckout(h: Harness): Promise<string[]> {
  const cashier = await h.login('3456');
  const { items, modifiers } = h.shop;
  let order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } })).body;
  const lines = [
    { itemId: items['Croissant'], quantity: 1 },
    { itemId: items['Burger'], quantity: 1 },
    { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] },
  ];
  for (const [i, line] of lines.entries()) {
    await written(h, order.id, order.version);
    if (i === 2) await new Promise((r) => setTimeout(r, 11_000)); // past CATCH_UP_AFTER_MS
    order = (await h.api('POST', `/api/v1/orders/${order.id}/lines`, { token: cashier, body: line })).body;
  }
  await written(h, order.id, order.version);
  await postPayment(h, cashier, order.id, { method: 'cash', amount: order.totals.total, tendered: order.totals.total });
  return [`order-${order.id}`];
}

/**
 * Representative orders, driven over HTTP. Their workflow histories are exported to
 * test/histories/ (npm run histories:export) and replayed by test/replay.test.ts, so a change
 * that makes the workflows non-deterministic fails the build.
 */
export const scenarios: Record<string, (h: Harness) => Promise<string[]>> = {
  async 'cash-split-with-kitchen'(h) {
    const cashier = await h.login('3456');
    const kitchen = await h.login('4567');
    const { items, modifiers, discounts } = h.shop;
    const order = (
      await h.api('POST', '/api/v1/orders', {
        token: cashier,
        body: { type: 'dine_in', table: '4', terminalId: 'till-1' },
      })
    ).body;
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
      token: cashier,
      body: { itemId: items['Burger'], quantity: 2, modifierIds: [modifiers['Extra cheese']] },
    });
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
      token: cashier,
      body: { itemId: items['Croissant'], quantity: 1 },
    });
    await h.api('POST', `/api/v1/orders/${order.id}/discounts`, {
      token: cashier,
      body: { discountId: discounts['Staff 10%'] },
    });
    await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
    const ready = (await h.api('POST', `/api/v1/orders/${order.id}/ready`, { token: kitchen })).body;
    const half = Math.floor(ready.totals.total / 2);
    await postPayment(h, cashier, order.id, { method: 'cash', amount: half, tendered: half });
    await postPayment(h, cashier, order.id, { method: 'cash', amount: ready.totals.total - half, tendered: 10000 });
    return [`order-${order.id}`];
  },

  async 'edits-rejections-and-cancel'(h) {
    const cashier = await h.login('3456');
    const { items, modifiers } = h.shop;
    const order = (
      await h.api('POST', '/api/v1/orders', {
        token: cashier,
        body: {
          type: 'takeaway',
          lines: [{ itemId: items['Latte'], quantity: 1, modifierIds: [modifiers['Regular']] }],
        },
      })
    ).body;
    const line = (
      await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
        token: cashier,
        body: { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] },
      })
    ).body.lines[1];
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, {
      token: cashier,
      body: { itemId: items['Latte'], quantity: 0, modifierIds: [] },
    }); // rejected
    await h.api('PATCH', `/api/v1/orders/${order.id}/lines/${line.id}`, {
      token: cashier,
      body: { quantity: 3, modifierIds: [modifiers['Large']], note: 'to go' },
    });
    await h.api('PATCH', `/api/v1/orders/${order.id}`, { token: cashier, body: { customerName: 'Ada' } });
    await h.api('DELETE', `/api/v1/orders/${order.id}/lines/${line.id}`, { token: cashier });
    await h.api('POST', `/api/v1/orders/${order.id}/cancel`, { token: cashier, body: { reason: 'customer left' } });
    return [`order-${order.id}`];
  },

  /** The API assigns the number and publishes every change itself; the close persists locally. */
  'api-numbered-cash-checkout': apiNumberedCashCheckout,
  /** The same checkout after the cash payment's event moved into the answer (one activity fewer). */
  'cash-checkout-event-with-answer': apiNumberedCashCheckout,
  /**
   * The same checkout once an order knows its shop has no receipt printer (no drawer-kick print
   * workflow) and writes the close after the closing Update's answer (a regular activity).
   */
  'cash-checkout-no-receipt-printer': apiNumberedCashCheckout,
  /**
   * The same checkout opened by a plain start at the API's opening version (no Update, no
   * search-attribute upsert in the first task), its cash close written before the answer.
   */
  'api-opened-cash-checkout': apiNumberedCashCheckout,
  /** Each change's API says what it wrote; answers carry only the new events (issue 10). */
  'written-events-confirmed-cash-checkout': confirmedCashCheckout,

  'mpesa-success': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000001', { outcome: 'success' });
    await mpesa(h, token, o.id, '254700000001');
    await settled(h, token, o.id);
  }),
  'mpesa-decline-then-cash': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000002', { outcome: 'decline', resultCode: 1032 });
    await mpesa(h, token, o.id, '254700000002');
    await settled(h, token, o.id);
    await cashRest(h, token, o.id);
  }),
  'mpesa-timeout-query-success': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000003', { outcome: 'timeout', resultCode: 0, pendingQueries: 2 });
    await mpesa(h, token, o.id, '254700000003');
    await settled(h, token, o.id);
  }),
  'mpesa-timeout-query-failure': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000004', { outcome: 'timeout', resultCode: 2001 });
    await mpesa(h, token, o.id, '254700000004');
    await settled(h, token, o.id);
    await cashRest(h, token, o.id);
  }),
  'mpesa-duplicate-and-early-callback': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000005', {
      outcome: 'success',
      duplicateCallback: true,
      callbackBeforeResponse: true,
    });
    await mpesa(h, token, o.id, '254700000005');
    await settled(h, token, o.id);
  }),
  'mpesa-5xx-then-recovery': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000006', { outcome: 'success', failInitiate5xx: 1 });
    await mpesa(h, token, o.id, '254700000006');
    await settled(h, token, o.id);
  }),
  'mpesa-late-success-after-cancel': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000007', {
      outcome: 'timeout',
      resultCode: 0,
      lateCallbackMs: 500,
      pendingQueries: 3,
    });
    const p = await mpesa(h, token, o.id, '254700000007');
    await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${p.body.id}`, { token });
    await cashRest(h, token, o.id);
  }),
  /** The same late success, whose reversal Result is lost: the reversal's Transaction Status settles it. */
  'mpesa-late-success-reversal-status-query': paymentScenario('KES', async (h, token, o) => {
    const daraja = h.simulators.daraja!;
    daraja.script('254700000017', { outcome: 'timeout', resultCode: 0, lateCallbackMs: 500, pendingQueries: 3 });
    daraja.scriptReversals({ loseResult: true });
    try {
      const p = await mpesa(h, token, o.id, '254700000017');
      await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${p.body.id}`, { token });
      await cashRest(h, token, o.id);
      await h.deps.temporal.workflow.getHandle(`payment-${o.id}-1`).result();
    } finally {
      daraja.scriptReversals(undefined);
    }
  }),
  'mpesa-manager-resolve': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000008', { outcome: 'timeout', resultCode: 0, pendingQueries: 1000 });
    const p = await mpesa(h, token, o.id, '254700000008');
    const manager = await h.login('2345');
    await h.api('POST', `/api/v1/orders/${o.id}/payments/${p.body.id}/resolve`, {
      token: manager,
      body: { outcome: 'succeeded', reason: 'customer showed the SMS' },
    });
  }),
  'stripe-reader-success': paymentScenario('USD', async (h, token, o) => {
    await card(h, token, o.id, 'stripe');
    await settled(h, token, o.id);
  }),
  'stripe-decline': paymentScenario('USD', async (h, token, o) => {
    h.simulators.stripe!.script(1000, { outcome: 'decline' });
    await card(h, token, o.id, 'stripe');
    await settled(h, token, o.id);
    h.simulators.stripe!.script(1000, { outcome: 'success' });
    await cashRest(h, token, o.id);
  }),
  'mpesa-amount-mismatch-flagged': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000009', { outcome: 'success', amountOverride: 5 });
    await mpesa(h, token, o.id, '254700000009');
    await settled(h, token, o.id);
    await cashRest(h, token, o.id);
  }),
  'mpesa-lost-push-answer-then-callback': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000010', { outcome: 'success', dropFirstResponse: true, callbackDelayMs: 1500 });
    await mpesa(h, token, o.id, '254700000010');
    await settled(h, token, o.id);
  }),
  'mpesa-lost-push-answer-expired': paymentScenario('KES', async (h, token, o) => {
    h.simulators.daraja!.script('254700000011', { outcome: 'timeout', dropFirstResponse: true, pendingQueries: 1000 });
    await mpesa(h, token, o.id, '254700000011');
    await settled(h, token, o.id);
    await cashRest(h, token, o.id);
  }),
  'square-foreign-gateway-event-ignored': paymentScenario('USD', async (h, token, o) => {
    h.simulators.square!.script(1000, { outcome: 'abandon' });
    const p = await card(h, token, o.id, 'square');
    const handle = h.deps.temporal.workflow.getHandle(`payment-${o.id}-1`);
    await handle.signal('gatewayEvent', {
      eventId: 'forged-airtel',
      gateway: 'airtel',
      status: 'succeeded',
      reference: p.body.reference,
    });
    await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${p.body.id}`, { token });
    await cashRest(h, token, o.id);
    h.simulators.square!.script(1000, { outcome: 'success' });
  }),
  'square-late-success-after-cancel': paymentScenario('USD', async (h, token, o) => {
    h.simulators.square!.script(1000, { outcome: 'abandon', lateSuccessAfterCancel: true });
    const p = await card(h, token, o.id, 'square');
    await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${p.body.id}`, { token });
    await cashRest(h, token, o.id);
    h.simulators.square!.script(1000, { outcome: 'success' });
  }),
  // Cash first, then a discount that leaves exactly nothing due: the order closes (patched
  // 'close-when-a-cart-change-settles'); a change below the paid amount is refused (409, no trace).
  async 'cash-then-discount-closes'(h) {
    const cashier = await h.login('3456');
    const { items, discounts } = h.shop;
    await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ currency: 'USD', tax_rate: 0 });
    const order = (
      await h.api('POST', '/api/v1/orders', {
        token: cashier,
        body: {
          type: 'takeaway',
          lines: [
            { itemId: items['Croissant'], quantity: 4 },
            { itemId: items['Croissant'], quantity: 1 },
          ],
        },
      })
    ).body;
    await postPayment(h, cashier, order.id, { method: 'cash', amount: 1100, tendered: 1100 }); // of 1625
    await h.api('DELETE', `/api/v1/orders/${order.id}/lines/${order.lines[0].id}`, { token: cashier }); // 325 < 1100: 409
    await h.api('DELETE', `/api/v1/orders/${order.id}/lines/${order.lines[1].id}`, { token: cashier }); // 1300
    await h.api('POST', `/api/v1/orders/${order.id}/discounts`, {
      token: cashier,
      body: { discountId: discounts['$2 off'] },
    }); // 1100: closes
    return [`order-${order.id}`];
  },
  'refund-square-pending': refundScenario('square', async (h, o) => {
    h.simulators.square!.scriptRefunds({ pendingMs: 500 });
    try {
      return await refundOf(h, o.id, { reason: 'replay: Square PENDING', amount: 400 });
    } finally {
      h.simulators.square!.scriptRefunds(undefined);
    }
  }),
  /** M-Pesa's reversal Result is lost: the refund asks for the reversal's Transaction Status. */
  'refund-mpesa-reversal-status-query': refundScenario('mpesa', async (h, o) => {
    h.simulators.daraja!.scriptReversals({ loseResult: true });
    try {
      return await settledRefund(h, await refundOf(h, o.id, { reason: 'replay: reversal result lost' }));
    } finally {
      h.simulators.daraja!.scriptReversals(undefined);
    }
  }),
  /** Airtel answers the refund as in progress: the refund polls Airtel's enquiry until it says TS. */
  'refund-airtel-enquiry': refundScenario('airtel', async (h, o) => {
    h.simulators.airtel!.scriptRefunds({ pendingQueries: 2 });
    try {
      return await settledRefund(h, await refundOf(h, o.id, { reason: 'replay: Airtel in progress' }));
    } finally {
      h.simulators.airtel!.scriptRefunds(undefined);
    }
  }),
  'refund-cash-lines-restock': refundScenario('cash', (h, o) =>
    refundOf(h, o.id, { reason: 'replay: returned', lines: [{ lineId: o.lines[0].id, quantity: 1 }], restock: true }),
  ),

  /** Refunds the checkout records itself (by signal): one while open, one while it waits for the bump. */
  async 'refund-while-checkout-runs'(h) {
    const cashier = await h.login('3456');
    const kitchen = await h.login('4567');
    const order = await openOrder(h, cashier, 'USD', 2); // 2000
    const first = await postPayment(h, cashier, order.id, { method: 'cash', amount: 500, tendered: 500 });
    const refundId = await refundOf(h, order.id, { reason: 'replay: wrong tender', paymentId: first.body.id });
    await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
    // Recorded before open refunds were due again: 1500 closed it then; it waits for the bump.
    await postPayment(h, cashier, order.id, { method: 'cash', amount: 1500, tendered: 1500 });
    await persisted(h, order.id);
    await refundOf(h, order.id, { reason: 'replay: cold', amount: 300 }, 'second');
    await h.api('POST', `/api/v1/orders/${order.id}/ready`, { token: kitchen });
    return [`order-${order.id}`, `refund-${refundId}`];
  },
  /** A tender taken back while open is due again (patch open-refund-reopens-balance): 2000 closes it. */
  async 'refund-while-open-is-due-again'(h) {
    const cashier = await h.login('3456');
    const order = await openOrder(h, cashier, 'USD', 2); // 2000
    const first = await postPayment(h, cashier, order.id, { method: 'cash', amount: 500, tendered: 500 });
    const refundId = await refundOf(h, order.id, { reason: 'replay: wrong tender', paymentId: first.body.id });
    await postPayment(h, cashier, order.id, { method: 'cash', amount: 2000, tendered: 2000 });
    return [`order-${order.id}`, `refund-${refundId}`];
  },
  /** A refund after the checkout ended: the signal finds no workflow, Postgres numbers the version. */
  'refund-after-checkout-ended': refundScenario('cash', async (h, o) => {
    await h.deps.temporal.workflow.getHandle(`order-${o.id}`).result();
    return refundOf(h, o.id, { reason: 'replay: next day', amount: 250 });
  }),
  /** Stations and failover: the grill's printer refuses, its tickets move to the bar's (a station too). */
  async 'kitchen-stations-failover'(h) {
    const manager = await h.login('2345');
    const cashier = await h.login('3456');
    const bar = await startFakePrinter();
    try {
      await h.deps
        .knex('locations')
        .where({ id: h.shop.locationId })
        .update({ auto_print_kitchen: true, auto_print_receipt: false });
      await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
      const add = async (body: Record<string, unknown>) =>
        (await h.api('POST', '/api/v1/printers', { token: manager, body: { role: 'kitchen', ...body } })).body.id;
      const barId = await add({ name: 'Bar', address: bar.address, categoryIds: [h.shop.categories['Drinks']] });
      await add({
        name: 'Grill',
        address: await closedAddress(),
        categoryIds: [h.shop.categories['Food']],
        backupPrinterId: barId,
      });
      const lines = [
        { itemId: h.shop.items['Burger'], quantity: 1 },
        { itemId: h.shop.items['Sparkling water'], quantity: 1 },
      ];
      const order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', lines } })).body;
      await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
      const print = `print-${order.id}-kitchen-1`;
      await h.deps.temporal.workflow.getHandle(print).result();
      return [print];
    } finally {
      await bar.close();
      await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
    }
  },
  /** Cash payments kick the drawer: one on its own (order still open), one with the closing receipt. */
  async 'cash-drawer-kick'(h) {
    const cashier = await h.login('3456');
    await h.deps
      .knex('locations')
      .where({ id: h.shop.locationId })
      .update({ auto_print_kitchen: false, auto_print_receipt: true });
    const order = await openOrder(h, cashier, 'USD');
    await postPayment(h, cashier, order.id, { method: 'cash', amount: 400, tendered: 400 });
    await postPayment(h, cashier, order.id, { method: 'cash', amount: order.totals.total - 400, tendered: 5000 });
    return [`order-${order.id}`];
  },
  /** Split by items: the Update takes quantities off and starts the new order's checkout as a child. */
  async 'split-by-items'(h) {
    const token = await h.login('3456');
    const order = await openOrder(h, token, 'USD', 3);
    const res = await h.api('POST', `/api/v1/orders/${order.id}/split`, {
      token,
      body: { lines: [{ lineId: order.lines[0].id, quantity: 1 }] },
      headers: { 'idempotency-key': 'replay-split' },
    });
    if (res.status !== 201) throw new Error(`split refused: ${res.status} ${JSON.stringify(res.body)}`);
    await postPayment(h, token, order.id, { method: 'cash', amount: 2000, tendered: 2000 });
    await h.api('POST', `/api/v1/orders/${res.body.order.id}/cancel`, { token, body: { reason: 'replay: left' } });
    return [`order-${order.id}`];
  },
  /** Paying with loyalty points (one debit activity, settled at once), the rest in cash; points earned at close. */
  async 'loyalty-points-then-cash'(h) {
    const token = await h.login('3456');
    const manager = await h.login('2345');
    await h.api('PUT', '/api/v1/settings', {
      token: manager,
      body: { loyalty: { enabled: true, pointsPer100: 10, pointValue: 5 } },
    });
    const customer = (await h.api('POST', '/api/v1/customers', { token, body: { name: 'Replay Guest' } })).body;
    await h.api('POST', `/api/v1/customers/${customer.id}/loyalty/adjust`, {
      token: manager,
      body: { points: 100, reason: 'replay' },
    });
    const order = await openOrder(h, token, 'USD');
    await h.api('PATCH', `/api/v1/orders/${order.id}`, { token, body: { customerId: customer.id } });
    const points = await postPayment(h, token, order.id, { method: 'loyalty', points: 100 });
    if (points.status !== 201)
      throw new Error(`points payment refused: ${points.status} ${JSON.stringify(points.body)}`);
    await postPayment(h, token, order.id, { method: 'cash', amount: 500, tendered: 500 });
    return [`order-${order.id}`];
  },
  /** Two kitchen screens bump their own lines: the first readies its lines, the second the order. */
  async 'kitchen-screens-bump'(h) {
    const manager = await h.login('2345');
    const cashier = await h.login('3456');
    await h.deps
      .knex('locations')
      .where({ id: h.shop.locationId })
      .update({ auto_print_kitchen: false, auto_print_receipt: false });
    const screen = async (name: string, category: string) =>
      (
        await h.api('POST', '/api/v1/kitchen-screens', {
          token: manager,
          body: { name, categoryIds: [h.shop.categories[category]] },
        })
      ).body.token as string;
    const [bar, grill] = [await screen('Bar', 'Drinks'), await screen('Grill', 'Food')];
    const lines = [
      { itemId: h.shop.items['Burger'], quantity: 1 },
      { itemId: h.shop.items['Sparkling water'], quantity: 1 },
    ];
    const order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', lines } })).body;
    await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
    for (const token of [bar, grill]) {
      const res = await h.api('POST', `/api/v1/orders/${order.id}/ready`, { token, body: {} });
      if (res.status !== 200) throw new Error(`bump refused: ${res.status} ${JSON.stringify(res.body)}`);
    }
    await postPayment(h, cashier, order.id, {
      method: 'cash',
      amount: order.totals.total,
      tendered: order.totals.total,
    });
    await h.deps.knex('devices').where({ location_id: h.shop.locationId, kind: 'kitchen_screen' }).delete();
    return [`order-${order.id}`];
  },
  /** A sent line changed, then voided (with a manager's PIN): two amendment tickets printed. */
  async 'amendment-tickets'(h) {
    const cashier = await h.login('3456');
    await h.deps
      .knex('locations')
      .where({ id: h.shop.locationId })
      .update({ auto_print_kitchen: true, auto_print_receipt: false });
    const lines = [
      { itemId: h.shop.items['Burger'], quantity: 2 },
      { itemId: h.shop.items['Sparkling water'], quantity: 1 },
    ];
    const order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', lines } })).body;
    await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
    const [burger, water] = order.lines.map((l: { id: string }) => l.id);
    const changed = await h.api('PATCH', `/api/v1/orders/${order.id}/lines/${burger}`, {
      token: cashier,
      body: { quantity: 1 },
    });
    if (changed.status !== 200) throw new Error(`change refused: ${changed.status}`);
    const voided = await h.api('DELETE', `/api/v1/orders/${order.id}/lines/${water}?reason=replay`, {
      token: cashier,
      headers: { 'x-approver-pin': '2345' },
    });
    if (voided.status !== 200) throw new Error(`void refused: ${voided.status}`);
    await h.api('POST', `/api/v1/orders/${order.id}/cancel`, {
      token: cashier,
      body: { reason: 'replay: left' },
      headers: { 'x-approver-pin': '2345' },
    });
    return [`order-${order.id}`];
  },
};

async function persisted(h: Harness, orderId: string): Promise<void> {
  for (
    let i = 0;
    i < 300 && !(await h.deps.knex('orders').where({ id: orderId }).first('persisted_at'))?.persisted_at;
    i++
  )
    await new Promise((r) => setTimeout(r, 100));
}

/** How each refund scenario's order is paid (1000 minor units, in the currency its gateway takes). */
const TENDERS = {
  cash: { currency: 'USD', body: { method: 'cash', amount: 1000, tendered: 1000 } },
  square: {
    currency: 'USD',
    body: { method: 'card', provider: 'square', amount: 1000, sourceId: 'cnon:card-nonce-ok' },
  },
  mpesa: { currency: 'KES', body: { method: 'mpesa', amount: 1000, phone: '254712345678' } },
  airtel: { currency: 'KES', body: { method: 'airtel', amount: 1000, phone: '254733123456' } },
} as const;

/** A refund scenario: a closed order paid by `tender`, refunded by `refund`; the refund workflow's history. */
function refundScenario(
  tender: keyof typeof TENDERS,
  refund: (h: Harness, order: any) => Promise<string>,
): (h: Harness) => Promise<string[]> {
  return async (h) => {
    const token = await h.login('3456');
    const order = await openOrder(h, token, TENDERS[tender].currency);
    await postPayment(h, token, order.id, { ...TENDERS[tender].body });
    await persisted(h, order.id);
    return [`refund-${await refund(h, order)}`];
  };
}

/** Waits for the refund's workflow to end (its scripted gateway behaviour stays in force until then). */
async function settledRefund(h: Harness, refundId: string): Promise<string> {
  await h.deps.temporal.workflow.getHandle(`refund-${refundId}`).result();
  return refundId;
}

async function refundOf(h: Harness, orderId: string, body: Record<string, unknown>, key = 'replay'): Promise<string> {
  const manager = await h.login('2345');
  const res = await h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
    token: manager,
    body,
    headers: { 'idempotency-key': `${key}-${orderId}` },
  });
  if (res.status !== 201 && res.status !== 202)
    throw new Error(`refund refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}
