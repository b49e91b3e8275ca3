import { randomUUID } from 'node:crypto';
import { mpesaSuite, DARAJA_SIM_INITIATOR } from './support/mpesa-suite';
import { until } from './support/payments';

/**
 * M-Pesa Express end to end: HTTP API → checkout → payment child workflow → Daraja simulator on
 * loopback → callback to /webhooks/mpesa/<token> → confirmed by STK query → order closes.
 */
const suite = mpesaSuite({ gateway: DARAJA_SIM_INITIATOR });
const { order, payment, settled } = suite;
const openOrder = suite.openBurgers;

let phoneSeq = 0;
const newPhone = () => `2547${String(10_000_000 + ++phoneSeq).slice(-8)}`;

async function payMpesa(orderId: string, amount: number, phone: string, headers: Record<string, string> = {}) {
  return suite.h.api('POST', `/api/v1/orders/${orderId}/payments`, {
    token: suite.cashier,
    body: { method: 'mpesa', amount, phone },
    headers: { 'Idempotency-Key': randomUUID(), ...headers },
  });
}

describe('M-Pesa STK push', () => {
  it('succeeds on the confirmed callback and closes the order', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success' });
    const res = await payMpesa(o.id, 1000, phone);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'mpesa',
      status: 'pending',
      amount: 1000,
      sandbox: true,
      action: { type: 'confirm_on_phone' },
    });
    expect(res.body.reference).toMatch(/^ws_CO_/);

    const closed = await until(
      () => order(o.id),
      (s) => s.status === 'closed',
    );
    expect(closed.payments[0]).toMatchObject({ status: 'succeeded', reference: res.body.reference });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'succeeded',
    );
    expect(row.receipt).toBeTruthy();
    expect(row.callback_token.length).toBeGreaterThanOrEqual(24);
    // The callback was confirmed by an STK query before money counted.
    expect(suite.sim.requests.some((r) => r.path.includes('stkpushquery'))).toBe(true);
  });

  it.each([
    [1, 'insufficient funds'],
    [1032, 'cancelled by customer'],
    [1037, 'phone unreachable'],
    [2001, 'wrong PIN'],
  ])('maps result code %i to a clear failure (%s) and leaves the balance due', async (code, reason) => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'decline', resultCode: code });
    const res = await payMpesa(o.id, 1000, phone);
    const p = await settled(o.id, res.body.id);
    expect(p.status).toBe('failed');
    expect(p.failureReason.toLowerCase()).toContain(reason.toLowerCase());
    const s = await order(o.id);
    expect(s).toMatchObject({ status: 'open', totals: { balance: 1000 } });
  });

  it('asks the gateway when no callback comes: timeout then query success, and timeout then query failure', async () => {
    const a = await openOrder();
    const paid = newPhone();
    suite.sim.script(paid, { outcome: 'timeout', resultCode: 0, pendingQueries: 2 });
    const ok = await payMpesa(a.id, 1000, paid);
    expect((await settled(a.id, ok.body.id)).status).toBe('succeeded');
    expect((await order(a.id)).status).toBe('closed');

    const b = await openOrder();
    const unpaid = newPhone();
    suite.sim.script(unpaid, { outcome: 'timeout', resultCode: 1032 });
    const ko = await payMpesa(b.id, 1000, unpaid);
    const p = await settled(b.id, ko.body.id);
    expect(p).toMatchObject({ status: 'failed' });
    expect((await order(b.id)).status).toBe('open');
  });

  it('handles a duplicate callback and a callback that arrives before the push returns exactly once', async () => {
    const o = await openOrder(2);
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success', duplicateCallback: true, callbackBeforeResponse: true });
    const res = await payMpesa(o.id, 2000, phone);
    expect([201, 202]).toContain(res.status);
    const closed = await until(
      () => order(o.id),
      (s) => s.status === 'closed',
    );
    expect(closed.payments).toHaveLength(1);
    expect(closed.totals.paid).toBe(2000);
    expect(suite.sim.callbacks.filter((c) => c.url.includes('/webhooks/mpesa/')).length).toBeGreaterThanOrEqual(2);
  });

  it('recovers from gateway 5xx on the push without charging twice', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success', failInitiate5xx: 2 });
    const res = await payMpesa(o.id, 1000, phone);
    await until(
      () => order(o.id),
      (s) => s.status === 'closed',
    );
    const pushes = [...suite.sim.pushes.values()].filter((p) => p.phone === phone);
    expect(pushes).toHaveLength(1);
    expect(res.body.method).toBe('mpesa');
  });

  it('splits one order across M-Pesa and cash', async () => {
    const o = await openOrder(3);
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success' });
    const m = await payMpesa(o.id, 2000, phone);
    await settled(o.id, m.body.id);
    expect((await order(o.id)).totals.balance).toBe(1000);
    const cash = await suite.pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(cash.body.order.status).toBe('closed');
  });

  it('refunds automatically a success that arrives after the payment was cancelled, and flags it', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', resultCode: 0, lateCallbackMs: 700, pendingQueries: 4 });
    const res = await payMpesa(o.id, 1000, phone);
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect(cancelled.body.order.totals.balance).toBe(1000);
    // The customer pays in cash meanwhile; the late M-Pesa success must go back.
    const cash = await suite.pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(cash.body.order.status).toBe('closed');
    await until(
      () => Promise.resolve(suite.sim.reversals.size),
      (n) => n > 0,
    );
    const reversal = [...suite.sim.reversals.values()].find((r) => r.known);
    expect(reversal).toMatchObject({ amount: 10, requests: 1 });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => /refunded automatically/.test(r?.failure_reason ?? ''),
    );
    expect(row.status).toBe('cancelled');
  });

  it('lets a manager resolve a payment stuck pending, and audits it', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', resultCode: 0, pendingQueries: 1000 });
    const res = await payMpesa(o.id, 1000, phone);
    const asCashier = await suite.h.api('POST', `/api/v1/orders/${o.id}/payments/${res.body.id}/resolve`, {
      token: suite.cashier,
      body: { outcome: 'succeeded', reason: 'saw the SMS' },
    });
    expect(asCashier.status).toBe(403);
    const manager = await suite.h.login('2345');
    const bad = await suite.h.api('POST', `/api/v1/orders/${o.id}/payments/${res.body.id}/resolve`, {
      token: manager,
      body: { outcome: 'maybe', reason: 'x' },
    });
    expect(bad.status).toBe(422);
    const resolved = await suite.h.api('POST', `/api/v1/orders/${o.id}/payments/${res.body.id}/resolve`, {
      token: manager,
      body: { outcome: 'succeeded', reason: 'customer showed the M-Pesa SMS' },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: 'succeeded' });
    expect(resolved.body.order.status).toBe('closed');
    const audit = await suite.h.deps
      .knex('audit_log')
      .where({ action: 'payment.resolve', subject: res.body.id })
      .first();
    expect(audit.data).toMatchObject({ outcome: 'succeeded', reason: 'customer showed the M-Pesa SMS' });
  });

  it('refuses to cancel an order while one of its payments is pending', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', resultCode: 1032, pendingQueries: 1000 });
    const res = await payMpesa(o.id, 1000, phone);
    const refused = await suite.h.api('POST', `/api/v1/orders/${o.id}/cancel`, {
      token: suite.cashier,
      body: { reason: 'customer left' },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/payment is pending/);
    const cancelledPayment = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelledPayment.body.status).toBe('cancelled');
    const cancelled = await suite.h.api('POST', `/api/v1/orders/${o.id}/cancel`, {
      token: suite.cashier,
      body: { reason: 'customer left' },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
  });

  it('answers 404 to a callback with an unknown token and 400 to a malformed one', async () => {
    const unknown = await suite.h.api('POST', '/webhooks/mpesa/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', {
      body: { Body: { stkCallback: {} } },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    const short = await suite.h.api('POST', '/webhooks/mpesa/x', { body: {} });
    expect(short.status).toBe(404);
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', resultCode: 0, pendingQueries: 1000 });
    const res = await payMpesa(o.id, 1000, phone);
    const token = (await suite.h.deps.knex('payments').where({ id: res.body.id }).first()).callback_token;
    const malformed = await suite.h.api('POST', `/webhooks/mpesa/${token}`, { body: { nope: true } });
    expect(malformed.status).toBe(400);
    expect((await payment(o.id, res.body.id)).status).toBe('pending');
    await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, { token: suite.cashier });
  });
});
