import { paymentSuite } from './support/payment-suite';
import { until } from './support/payments';
import { startAirtelSimulator, AIRTEL_SIM_DEFAULTS } from '../simulators/airtel';
import { createAirtelGateway } from '../activities/payments/airtel';

/**
 * Airtel Money end to end: HTTP API → checkout → payment child workflow → the Airtel simulator on
 * loopback (USSD push) → callback to the ONE URL registered in Airtel's portal,
 * /webhooks/airtel/<AIRTEL_CALLBACK_TOKEN>, matched to the payment by its transaction id and
 * confirmed by a transaction enquiry → order closes.
 */
const CALLBACK_TOKEN = 'airtel-portal-callback-7f3c9a1e2b4d';

const suite = paymentSuite({
  start: () => startAirtelSimulator(),
  gateways: (sim) => ({
    airtel: createAirtelGateway({ baseUrl: sim.url, ...AIRTEL_SIM_DEFAULTS, sandbox: true, timeoutMs: 2_000 }),
  }),
  env: { AIRTEL_CALLBACK_TOKEN: CALLBACK_TOKEN },
  afterStart: (sim, h) => (sim.callbackUrl = `${h.baseUrl}/webhooks/airtel/${CALLBACK_TOKEN}`),
  currency: 'KES',
  burgerPrice: 1000,
});
const { order, payment, settled, closed } = suite;
const openOrder = suite.openBurgers;

let phoneSeq = 0;
/** A Kenyan Airtel number (07x… nationally). */
const newPhone = () => `2547${String(30_000_000 + ++phoneSeq).slice(-8)}`;
const national = (phone: string) => phone.slice(3);

const payAirtel = (orderId: string, amount: number, phone: string, extra: Record<string, unknown> = {}) =>
  suite.pay(orderId, { method: 'airtel', amount, phone, ...extra });
const pushesTo = (phone: string) => [...suite.sim.payments.values()].filter((p) => p.msisdn === national(phone));
const callbacksFor = (reference: string) =>
  suite.sim.callbacks.filter((c) => (c.body as any)?.transaction?.id === reference);
const enquiriesFor = (reference: string) =>
  suite.sim.requests.filter((r) => r.method === 'GET' && r.path === `/standard/v1/payments/${reference}`);
const postCallback = (token: string, body: unknown) => suite.h.api('POST', `/webhooks/airtel/${token}`, { body });

describe('Airtel Money collection (USSD push)', () => {
  it('succeeds on the confirmed callback and closes the order', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success' });
    const res = await payAirtel(o.id, 1000, phone);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      method: 'airtel',
      status: 'pending',
      amount: 1000,
      sandbox: true,
      action: { type: 'confirm_on_phone' },
    });
    expect(res.body.action.message).toContain('KES 10');
    // Airtel's transaction id is the payment workflow's id: a retried push cannot prompt twice.
    expect(res.body.reference).toBe(`payment-${o.id}-1`);

    const done = await closed(o.id);
    expect(done.payments[0]).toMatchObject({ status: 'succeeded', reference: res.body.reference });
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => r?.status === 'succeeded',
    );
    expect(row.receipt).toMatch(/^MP/);
    const [push] = pushesTo(phone);
    expect(push).toMatchObject({ id: res.body.reference, amount: 10, status: 'TS', requests: 1 });
    // The callback went to the portal URL and counted only after an enquiry confirmed it.
    expect(callbacksFor(res.body.reference)).toEqual([
      expect.objectContaining({ url: suite.sim.callbackUrl, status: 200 }),
    ]);
    expect(enquiriesFor(res.body.reference).length).toBeGreaterThan(0);
  });

  it.each([
    ['DP00800001002', 'wrong PIN'],
    ['DP00800001007', 'insufficient funds'],
    ['DP00800001008', 'refused'],
  ])('maps response code %s to a clear failure (%s) and leaves the balance due', async (code, reason) => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'decline', resultCode: code });
    const res = await payAirtel(o.id, 1000, phone);
    const p = await settled(o.id, res.body.id);
    expect(p.status).toBe('failed');
    expect(p.failureReason).toBe(reason);
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { balance: 1000 } });
  });

  it('asks Airtel when no callback comes: timeout then enquiry success, and timeout then enquiry failure', async () => {
    const a = await openOrder();
    const paid = newPhone();
    suite.sim.script(paid, { outcome: 'timeout', pendingQueries: 2 });
    const ok = await payAirtel(a.id, 1000, paid);
    expect((await settled(a.id, ok.body.id)).status).toBe('succeeded');
    expect((await order(a.id)).status).toBe('closed');
    expect(callbacksFor(ok.body.reference)).toHaveLength(0);

    const b = await openOrder();
    const unpaid = newPhone();
    suite.sim.script(unpaid, { outcome: 'timeout', resultCode: 'DP00800001024' });
    const ko = await payAirtel(b.id, 1000, unpaid);
    expect(await settled(b.id, ko.body.id)).toMatchObject({ status: 'failed', failureReason: 'timed out' });
    expect((await order(b.id)).status).toBe('open');
  });

  it('handles a duplicate callback and a callback that arrives before the push returns exactly once', async () => {
    const o = await openOrder(2);
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success', duplicateCallback: true, callbackBeforeResponse: true });
    const res = await payAirtel(o.id, 2000, phone);
    expect([201, 202]).toContain(res.status);
    const done = await closed(o.id);
    expect(done.payments).toHaveLength(1);
    expect(done.totals.paid).toBe(2000);
    // Both deliveries were taken (found by transaction id before the push had returned), neither counted twice.
    expect(callbacksFor(res.body.reference).map((c) => c.status)).toEqual([200, 200]);
    expect(pushesTo(phone)).toEqual([expect.objectContaining({ requests: 1, amount: 20 })]);
  });

  it('recovers from gateway 5xx on the push without prompting twice', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success', failInitiate5xx: 2 });
    const res = await payAirtel(o.id, 1000, phone);
    expect(res.body.method).toBe('airtel');
    await closed(o.id);
    expect(pushesTo(phone)).toEqual([expect.objectContaining({ requests: 1, status: 'TS' })]);
    const attempts = suite.sim.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/merchant/v1/payments/' &&
        (r.body as any)?.subscriber?.msisdn === national(phone),
    );
    expect(attempts).toHaveLength(3); // two 500s, one accepted
  });

  it('refunds automatically a success that arrives after the payment was cancelled, and flags it', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', lateCallbackMs: 700, pendingQueries: 4 });
    const res = await payAirtel(o.id, 1000, phone);
    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect(cancelled.body.order.totals.balance).toBe(1000);

    const flagged = await until(
      () => payment(o.id, res.body.id),
      (p) => /refund/.test(p.failureReason ?? ''),
      20_000,
    );
    expect(flagged).toMatchObject({ status: 'cancelled', autoRefunded: true });
    expect(flagged.failureReason).toMatch(/refunded automatically/);
    const row = await until(
      () => suite.h.deps.knex('payments').where({ id: res.body.id }).first(),
      (r) => /refunded automatically/.test(r?.failure_reason ?? ''),
    );
    expect(row.status).toBe('cancelled');
    const [push] = pushesTo(phone);
    expect(push).toMatchObject({ status: 'TS' });
    expect(push.refundedAs).toMatch(/^RF/);
    const refunds = suite.sim.requests.filter(
      (r) =>
        r.path === '/standard/v1/payments/refund' &&
        (r.body as any)?.transaction?.airtel_money_id === push.airtelMoneyId,
    );
    expect(refunds).toHaveLength(1);
    expect(await order(o.id)).toMatchObject({ status: 'open', totals: { paid: 0, balance: 1000 } });
  });

  it('does not count a forged callback, and answers 404 to unknown tokens and payments, 400 to malformed ones', async () => {
    const o = await openOrder();
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'timeout', pendingQueries: 1000 });
    const res = await payAirtel(o.id, 1000, phone);
    const reference = res.body.reference;

    // The callback is unsigned: a fake "paid" at the right URL is checked with an enquiry and ignored.
    const forged = await postCallback(CALLBACK_TOKEN, {
      transaction: { id: reference, message: 'Paid APPROVED', status_code: 'TS', airtel_money_id: 'MPFAKE' },
    });
    expect(forged.status).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(await payment(o.id, res.body.id)).toMatchObject({ status: 'pending' });
    expect((await order(o.id)).totals.paid).toBe(0);

    const wrongToken = await postCallback('x'.repeat(32), { transaction: { id: reference, status_code: 'TS' } });
    expect(wrongToken.status).toBe(404);
    expect(wrongToken.body.code).toBe('NOT_FOUND');
    expect((await postCallback('short', { transaction: { id: reference, status_code: 'TS' } })).status).toBe(404);
    const unknown = await postCallback(CALLBACK_TOKEN, {
      transaction: { id: 'payment-00000000-0000-0000-0000-000000000000-1', message: 'x', status_code: 'TS' },
    });
    expect(unknown.status).toBe(404);
    const malformed = await postCallback(CALLBACK_TOKEN, { nope: true });
    expect(malformed.status).toBe(400);
    expect(await payment(o.id, res.body.id)).toMatchObject({ status: 'pending' });

    const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, {
      token: suite.cashier,
    });
    expect(cancelled.body.status).toBe('cancelled');
  });

  it('charges the tip with the amount, and refuses an amount that is not whole shillings', async () => {
    const o = await openOrder(2);
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success' });
    const res = await payAirtel(o.id, 1000, phone, { tip: 200 });
    expect(res.body).toMatchObject({ amount: 1000, tip: 200, fee: 0 });
    await settled(o.id, res.body.id);
    expect(pushesTo(phone)).toEqual([expect.objectContaining({ amount: 12 })]);
    expect((await order(o.id)).totals).toMatchObject({ tip: 200, paid: 1200, balance: 1000 });

    const odd = await payAirtel(o.id, 550, newPhone());
    expect(odd.status).toBe(402);
    expect(odd.body).toMatchObject({ code: 'PAYMENT_FAILED', status: 'failed' });
    expect(odd.body.failureReason).toMatch(/whole amounts only/);
    expect((await order(o.id)).totals.balance).toBe(1000);
  });

  it('splits one order across Airtel Money and cash', async () => {
    const o = await openOrder(3);
    const phone = newPhone();
    suite.sim.script(phone, { outcome: 'success' });
    const m = await payAirtel(o.id, 2000, phone);
    await settled(o.id, m.body.id);
    expect((await order(o.id)).totals.balance).toBe(1000);
    const cash = await suite.pay(o.id, { method: 'cash', amount: 1000, tendered: 1000 });
    expect(cash.body.order.status).toBe('closed');
    expect(cash.body.order.payments.map((p: any) => [p.method, p.status])).toEqual([
      ['airtel', 'succeeded'],
      ['cash', 'succeeded'],
    ]);
  });
});
