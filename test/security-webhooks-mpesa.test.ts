import { until } from './support/payments';
import { mpesaSuite, DARAJA_SIM_INITIATOR } from './support/mpesa-suite';
import type { DarajaSim } from '../simulators/daraja';

/**
 * Daraja's STK callback is unsigned and its STK query returns only a result code: the callback's
 * CheckoutRequestID, amount and receipt are the caller's word. A callback counts only for the
 * CheckoutRequestID the payment stored and once a query confirms it; a mismatching amount is
 * flagged for support and never reversed automatically.
 */
const suite = mpesaSuite({
  gateway: DARAJA_SIM_INITIATOR,
  // Callbacks only: the workflow does not poll on its own while a test forges callbacks.
  env: { TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '120000', TILLFLOW_PAYMENT_EXPIRE_MS: '120000' },
});
let phoneSeq = 0;

const newPhone = () => `2547${String(20_000_000 + ++phoneSeq).slice(-8)}`;

/** An M-Pesa payment of KES 10 whose push follows `script`; returns the API's payment and its callback token. */
async function payMpesa(script: Parameters<DarajaSim['script']>[1]) {
  const o = await suite.openBurgers();
  const phone = newPhone();
  suite.sim.script(phone, script);
  const res = await suite.pay(o.id, { method: 'mpesa', amount: 1000, phone });
  expect(res.status).toBe(202);
  const row = await suite.h.deps.knex('payments').where({ id: res.body.id }).first('callback_token', 'workflow_id');
  return {
    orderId: o.id as string,
    payment: res.body,
    token: row.callback_token as string,
    workflowId: row.workflow_id as string,
  };
}

function stkCallback(checkoutRequestId: string, resultCode: number, meta?: { amount: number; receipt: string }) {
  const item = meta && [
    { Name: 'Amount', Value: meta.amount },
    { Name: 'MpesaReceiptNumber', Value: meta.receipt },
    { Name: 'PhoneNumber', Value: 254700000000 },
  ];
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: '1-1-1',
        CheckoutRequestID: checkoutRequestId,
        ResultCode: resultCode,
        ResultDesc: 'x',
        ...(item ? { CallbackMetadata: { Item: item } } : {}),
      },
    },
  };
}

it('refuses a callback that names another CheckoutRequestID than the one the payment stored', async () => {
  const a = await payMpesa({ outcome: 'timeout', pendingQueries: 1000 });
  const b = await payMpesa({ outcome: 'success' });
  await suite.settled(b.orderId, b.payment.id);
  const paidReceipt = suite.sim.pushes.get(b.payment.reference)!.receipt!;

  // A's token, B's paid CheckoutRequestID and receipt.
  const forged = await suite.h.api('POST', `/webhooks/mpesa/${a.token}`, {
    body: stkCallback(b.payment.reference, 0, { amount: 10, receipt: paidReceipt }),
  });
  expect(forged.status).toBe(404);
  expect(forged.body.code).toBe('NOT_FOUND');

  const cancelled = await suite.h.api('DELETE', `/api/v1/orders/${a.orderId}/payments/${a.payment.id}`, {
    token: suite.cashier,
  });
  expect(cancelled.body).toMatchObject({ status: 'cancelled', failureReason: 'cancelled' });
  expect((await suite.order(a.orderId)).totals.paid).toBe(0);
});

it('flags a confirmed callback whose amount differs for support and reverses nothing', async () => {
  const p = await payMpesa({ outcome: 'success', amountOverride: 5 });
  const settled = await suite.settled(p.orderId, p.payment.id);
  expect(settled.status).toBe('failed');
  expect(settled.failureReason).toMatch(/amount mismatch/);
  expect(settled.failureReason).toMatch(/not refunded automatically/);
  expect(await suite.order(p.orderId)).toMatchObject({ status: 'open', totals: { paid: 0, balance: 1000 } });
  const row = await until(
    () => suite.h.deps.knex('payments').where({ id: p.payment.id }).first(),
    (r) => r?.status === 'failed',
  );
  expect(row.failure_reason).toMatch(/amount mismatch/);
  expect(suite.sim.reversals.get(suite.sim.pushes.get(p.payment.reference)!.receipt!)).toBeUndefined();
});
