import { startHarness, Harness } from './support/harness';
import {
  fetchOrder,
  openBurgerOrder,
  setShopCurrency,
  until,
  waitForPaymentSettled,
  postPayment,
} from './support/payments';
import { startDarajaSimulator, DarajaSim, DARAJA_SIM_DEFAULTS } from '../simulators/daraja';
import { createMpesaGateway } from '../activities/payments/mpesa';

/**
 * Daraja's STK callback is unsigned and its STK query returns only a result code: the callback's
 * CheckoutRequestID, amount and receipt are the caller's word. A callback counts only for the
 * CheckoutRequestID the payment stored and once a query confirms it; a mismatching amount is
 * flagged for support and never reversed automatically.
 */
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let phoneSeq = 0;

// Callbacks only: the workflow does not poll on its own while a test forges callbacks.
const TIMING = {
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '120000',
  TILLFLOW_PAYMENT_POLL_MS: '100',
  TILLFLOW_PAYMENT_POLL_MAX_MS: '300',
  TILLFLOW_PAYMENT_EXPIRE_MS: '120000',
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: '4000',
};

beforeAll(async () => {
  sim = await startDarajaSimulator();
  const gateway = createMpesaGateway({
    baseUrl: sim.url,
    ...DARAJA_SIM_DEFAULTS,
    sandbox: true,
    initiatorName: 'testapi',
    initiatorPassword: 'Safaricom999!*!',
    resultUrl: 'http://127.0.0.1:9/unused',
  });
  h = await startHarness({ env: TIMING, gateways: { mpesa: gateway } });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const newPhone = () => `2547${String(20_000_000 + ++phoneSeq).slice(-8)}`;

/** An M-Pesa payment of KES 10 whose push follows `script`; returns the API's payment and its callback token. */
async function payMpesa(script: Parameters<DarajaSim['script']>[1]) {
  const o = await openBurgerOrder(h, cashier);
  const phone = newPhone();
  sim.script(phone, script);
  const res = await postPayment(h, cashier, o.id, { method: 'mpesa', amount: 1000, phone });
  expect(res.status).toBe(202);
  const row = await h.deps.knex('payments').where({ id: res.body.id }).first('callback_token', 'workflow_id');
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
  await waitForPaymentSettled(h, cashier, b.orderId, b.payment.id);
  const paidReceipt = sim.pushes.get(b.payment.reference)!.receipt!;

  // A's token, B's paid CheckoutRequestID and receipt.
  const forged = await h.api('POST', `/webhooks/mpesa/${a.token}`, {
    body: stkCallback(b.payment.reference, 0, { amount: 10, receipt: paidReceipt }),
  });
  expect(forged.status).toBe(404);
  expect(forged.body.code).toBe('NOT_FOUND');

  const cancelled = await h.api('DELETE', `/api/v1/orders/${a.orderId}/payments/${a.payment.id}`, { token: cashier });
  expect(cancelled.body).toMatchObject({ status: 'cancelled', failureReason: 'cancelled' });
  expect((await fetchOrder(h, cashier, a.orderId)).totals.paid).toBe(0);
});

it('flags a confirmed callback whose amount differs for support and reverses nothing', async () => {
  const p = await payMpesa({ outcome: 'success', amountOverride: 5 });
  const settled = await waitForPaymentSettled(h, cashier, p.orderId, p.payment.id);
  expect(settled.status).toBe('failed');
  expect(settled.failureReason).toMatch(/amount mismatch/);
  expect(settled.failureReason).toMatch(/not refunded automatically/);
  expect(await fetchOrder(h, cashier, p.orderId)).toMatchObject({ status: 'open', totals: { paid: 0, balance: 1000 } });
  const row = await until(
    () => h.deps.knex('payments').where({ id: p.payment.id }).first(),
    (r) => r?.status === 'failed',
  );
  expect(row.failure_reason).toMatch(/amount mismatch/);
  expect(sim.reversals.get(sim.pushes.get(p.payment.reference)!.receipt!)).toBeUndefined();
});
