import { mpesaSuite } from './support/mpesa-suite';

/**
 * Daraja has no idempotency key. When it accepts an STK push but its answer is lost (the
 * connection drops, the worker dies) before the CheckoutRequestID is stored, a retry must not
 * prompt the customer a second time: it waits for the callback (the per-payment token names the
 * payment) and adopts its CheckoutRequestID only once an STK query confirms it; with no callback
 * before expiry the payment fails and tells support to check the phone's M-Pesa messages.
 */
const suite = mpesaSuite({
  gateway: { timeoutMs: 2_000 },
  env: { TILLFLOW_PAYMENT_EXPIRE_MS: '6000', TILLFLOW_PAYMENT_LATE_WINDOW_MS: '1000' },
});
let phoneSeq = 0;

const newPhone = () => `2547${String(40_000_000 + ++phoneSeq).slice(-8)}`;
const pushesTo = (phone: string) => [...suite.sim.pushes.values()].filter((p) => p.phone === phone);

async function payMpesa(phone: string) {
  const o = await suite.openBurgers();
  const res = await suite.pay(o.id, { method: 'mpesa', amount: 1000, phone });
  expect(res.status).toBe(202);
  return { orderId: o.id as string, paymentId: res.body.id as string };
}

it('does not push again after an accepted push whose answer was lost, and settles on the confirmed callback', async () => {
  const phone = newPhone();
  suite.sim.script(phone, { outcome: 'success', dropFirstResponse: true, callbackDelayMs: 1500 });
  const { orderId, paymentId } = await payMpesa(phone);

  const closed = await suite.closed(orderId);
  const [push] = pushesTo(phone);
  expect(pushesTo(phone)).toHaveLength(1);
  expect(closed.payments).toEqual([
    expect.objectContaining({ id: paymentId, status: 'succeeded', reference: push.checkoutRequestId }),
  ]);
  const row = await suite.h.deps.knex('payments').where({ id: paymentId }).first();
  expect(row).toMatchObject({ status: 'succeeded', reference: push.checkoutRequestId, receipt: push.receipt });
});

it('fails at expiry, telling support to check the phone, when no callback follows a lost answer', async () => {
  const phone = newPhone();
  suite.sim.script(phone, { outcome: 'timeout', dropFirstResponse: true, pendingQueries: 1000 });
  const { orderId, paymentId } = await payMpesa(phone);

  const p = await suite.settled(orderId, paymentId);
  expect(p.status).toBe('failed');
  expect(p.failureReason).toMatch(/M-Pesa messages/);
  expect(pushesTo(phone)).toHaveLength(1);
  expect((await suite.order(orderId)).totals.balance).toBe(1000);
});

it("refuses a callback that would make a payment with a lost answer adopt another payment's CheckoutRequestID", async () => {
  const paidPhone = newPhone();
  suite.sim.script(paidPhone, { outcome: 'success' });
  const paid = await payMpesa(paidPhone);
  await suite.closed(paid.orderId);
  const [paidPush] = pushesTo(paidPhone);

  const phone = newPhone();
  suite.sim.script(phone, { outcome: 'timeout', dropFirstResponse: true, pendingQueries: 1000 });
  const lost = await payMpesa(phone);
  const { callback_token: token } = await suite.h.deps
    .knex('payments')
    .where({ id: lost.paymentId })
    .first('callback_token');
  const body = {
    Body: {
      stkCallback: {
        MerchantRequestID: paidPush.merchantRequestId,
        CheckoutRequestID: paidPush.checkoutRequestId,
        ResultCode: 0,
        ResultDesc: 'ok',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: 10 },
            { Name: 'MpesaReceiptNumber', Value: paidPush.receipt },
          ],
        },
      },
    },
  };
  const forged = await suite.h.api('POST', `/webhooks/mpesa/${token}`, { body });
  expect(forged.status).toBe(404);

  const p = await suite.settled(lost.orderId, lost.paymentId);
  expect(p).toMatchObject({ status: 'failed' });
  expect(p.reference).not.toBe(paidPush.checkoutRequestId);
  expect((await suite.order(lost.orderId)).totals.paid).toBe(0);
});
