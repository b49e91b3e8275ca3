import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { PAYMENT_TEST_TIMING, fetchOrder, openBurgerOrder, setShopCurrency, until } from './support/payments';

/**
 * The automatic reversal of an M-Pesa success that arrives after the payment was cancelled goes
 * the refunds' way: its result comes to a ResultURL of the payment's own (Transaction Status when
 * it does not come), and it counts as refunded only once a result says so.
 */
let h: Harness;
let cashier: string;
let phoneSeq = 0;

beforeAll(async () => {
  h = await startHarness({ sandboxPayments: true, env: PAYMENT_TEST_TIMING });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  cashier = await h.login('3456');
}, 120_000);
afterEach(() => h.simulators.daraja!.scriptReversals(undefined));
afterAll(async () => h?.close());

const sim = () => h.simulators.daraja!;
const paymentRow = (id: string) => h.deps.knex('payments').where({ id }).first();

/**
 * An M-Pesa push whose success comes only after the cashier cancelled it: its reversal is sent.
 * The order stays open (its checkout runs), so it shows what the payment learns later.
 */
async function lateSuccessAfterCancel(): Promise<{ orderId: string; paymentId: string }> {
  const o = await openBurgerOrder(h, cashier);
  const phone = `2547${String(20_000_000 + ++phoneSeq).slice(-8)}`;
  sim().script(phone, { outcome: 'timeout', resultCode: 0, lateCallbackMs: 700, pendingQueries: 4 });
  const res = await h.api('POST', `/api/v1/orders/${o.id}/payments`, {
    token: cashier,
    body: { method: 'mpesa', amount: 1000, phone },
    headers: { 'Idempotency-Key': randomUUID() },
  });
  expect((await h.api('DELETE', `/api/v1/orders/${o.id}/payments/${res.body.id}`, { token: cashier })).status).toBe(
    200,
  );
  await until(
    () => paymentRow(res.body.id),
    (r) => !!r?.reversal_reference,
  );
  return { orderId: o.id, paymentId: res.body.id };
}

it('does not count a reversal M-Pesa has only accepted as refunded; its Transaction Status result settles it', async () => {
  sim().scriptReversals({ loseResult: true, loseStatusResults: true });
  const { orderId, paymentId } = await lateSuccessAfterCancel();
  const row = await until(
    () => paymentRow(paymentId),
    (r) => /waiting for M-Pesa's result/.test(r?.failure_reason ?? ''),
  );
  expect(row.status).toBe('cancelled');
  expect(
    (await fetchOrder(h, cashier, orderId)).payments.find((p: any) => p.id === paymentId).autoRefunded,
  ).toBeFalsy();
  // The status request goes to the payment's own ResultURL, by the reversal's OriginatorConversationID.
  const reversal = [...sim().reversals.values()].find((r) => r.conversationId === row.reversal_reference)!;
  const asked = await until(
    () =>
      Promise.resolve(
        sim().statusQueries.filter((q) => q.originatorConversationId === reversal.originatorConversationId),
      ),
    (q) => q.length > 0,
  );
  expect(asked[0]!.resultUrl.endsWith(`/webhooks/mpesa-result/${row.reversal_token}`)).toBe(true);

  sim().scriptReversals({ loseResult: true }); // status results get through again
  const done = await until(
    () => paymentRow(paymentId),
    (r) => /refunded automatically/.test(r?.failure_reason ?? ''),
  );
  expect(done.status).toBe('cancelled');
  const shown = await until(
    () => fetchOrder(h, cashier, orderId),
    (o) => o.payments.find((p: any) => p.id === paymentId).autoRefunded === true,
  );
  expect(shown.payments.find((p: any) => p.id === paymentId)).toMatchObject({
    status: 'cancelled',
    autoRefunded: true,
  });
  expect(reversal.requests).toBe(1);
});

it('a reversal whose result says it failed is flagged for a refund by hand, never counted as refunded', async () => {
  sim().scriptReversals({ resultCode: 'R000001' });
  const { orderId, paymentId } = await lateSuccessAfterCancel();
  const row = await until(
    () => paymentRow(paymentId),
    (r) => /refund by hand/.test(r?.failure_reason ?? ''),
  );
  expect(row.failure_reason).toMatch(/automatic refund failed/);
  expect(
    (await fetchOrder(h, cashier, orderId)).payments.find((p: any) => p.id === paymentId).autoRefunded,
  ).toBeFalsy();
});
