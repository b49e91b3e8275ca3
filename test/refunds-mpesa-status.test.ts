import type { Harness } from './support/harness';
import { until } from './support/payments';
import { paidPhoneOrder, startKesSandboxShop, type KesShop } from './support/phone-shop';

/**
 * An M-Pesa reversal whose Result never reaches its ResultURL: the refund asks for the reversal's
 * Transaction Status (answered, too, at the refund's ResultURL) and stays pending until a result
 * says how the reversal ended.
 */
let h: Harness;
let cashier: string;
let manager: string;
let refund: (orderId: string) => ReturnType<KesShop['refund']>;
let settled: KesShop['settled'];
let afterRefund: KesShop['afterRefund'];

beforeAll(async () => {
  const shop = await startKesSandboxShop();
  ({ h, cashier, manager, settled, afterRefund } = shop);
  refund = (orderId) => shop.refund(orderId, 'reversal');
}, 120_000);
afterEach(() => h.simulators.daraja!.scriptReversals(undefined));
afterAll(async () => h?.close());

/** A closed order paid 1000 by M-Pesa (the simulated phone pays at once). */
const mpesaOrder = () => paidPhoneOrder(h, cashier, 'mpesa', '254712345678');

const resultUrlOf = async (id: string) =>
  `/webhooks/mpesa-result/${(await h.deps.knex('refunds').where({ id }).first('result_token')).result_token}`;

it('a reversal whose result is lost succeeds once a Transaction Status result says it completed', async () => {
  const o = await mpesaOrder();
  h.simulators.daraja!.scriptReversals({ loseResult: true });
  const res = await refund(o.id);
  expect(res.status).toBe(202);
  expect(await settled(res.body.id)).toMatchObject({ status: 'succeeded', reference: res.body.reference });
  const reversal = [...h.simulators.daraja!.reversals.values()].find((r) => r.conversationId === res.body.reference)!;
  expect(reversal.resultSent).toBe(false);
  const asked = h.simulators.daraja!.statusQueries.filter(
    (q) => q.originatorConversationId === reversal.originatorConversationId,
  );
  expect(asked.length).toBeGreaterThanOrEqual(1);
  expect(asked[0]!.resultUrl.endsWith(await resultUrlOf(res.body.id))).toBe(true);
  // The refund row settles first, the order a moment later (README, order versions).
  expect(await afterRefund(o.id)).toMatchObject({ status: 'refunded', totals: { refunded: 1000 } });
});

it("stores every result received at the refund's ResultURL with what it did (GET /refunds/:id/callbacks)", async () => {
  const o = await mpesaOrder();
  h.simulators.daraja!.scriptReversals({ loseResult: true });
  const res = await refund(o.id);
  await settled(res.body.id);
  const listed = await until(
    () => h.api('GET', `/api/v1/refunds/${res.body.id}/callbacks`, { token: manager }),
    (r) => r.body.callbacks?.some((c: any) => c.effect === 'delivered'),
  );
  expect(listed.status).toBe(200);
  expect(listed.body.refundId).toBe(res.body.id);
  expect(listed.body.callbacks.find((c: any) => c.effect === 'delivered')).toMatchObject({
    source: 'mpesa',
    verified: true,
    reportedStatus: 'succeeded',
    httpStatus: 200,
    paymentStatusBefore: null,
  });
  expect((await h.api('GET', `/api/v1/refunds/${res.body.id}/callbacks`, { token: cashier })).status).toBe(403);
});

it('a reversal whose result is lost fails once a Transaction Status result says it was declined', async () => {
  const o = await mpesaOrder();
  h.simulators.daraja!.scriptReversals({ loseResult: true, resultCode: 'R000001' });
  const res = await refund(o.id);
  expect(await settled(res.body.id)).toMatchObject({
    status: 'failed',
    failureReason: expect.stringContaining('Declined'),
  });
  expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.totals.refunded).toBe(0);
});

it('ignores a Transaction Status result that is not final yet: the refund stays pending', async () => {
  const o = await mpesaOrder();
  // The simulator's own status results are lost too: only this hand-made one arrives.
  h.simulators.daraja!.scriptReversals({ loseResult: true, loseStatusResults: true });
  const res = await refund(o.id);
  const url = await resultUrlOf(res.body.id);
  const { status_reference } = await h.deps.knex('refunds').where({ id: res.body.id }).first('status_reference');
  const inProgress = {
    Result: {
      ResultType: 0,
      ResultCode: 0,
      ResultDesc: 'The service request is processed successfully.',
      OriginatorConversationID: '1-2-3',
      ConversationID: 'AG_20261201_query',
      ResultParameters: {
        ResultParameter: [
          { Key: 'TransactionStatus', Value: 'Pending' },
          { Key: 'ConversationID', Value: res.body.reference },
          { Key: 'OriginatorConversationID', Value: status_reference },
        ],
      },
    },
  };
  expect((await h.api('POST', url, { body: inProgress })).status).toBe(200);
  expect((await h.api('GET', `/api/v1/refunds/${res.body.id}`, { token: manager })).body.status).toBe('pending');
  // Status results get through again: the next Transaction Status request settles it.
  h.simulators.daraja!.scriptReversals({ loseResult: true });
  expect(await settled(res.body.id)).toMatchObject({ status: 'succeeded' });
});

it('answers 404 to a Transaction Status result about another transaction', async () => {
  const o = await mpesaOrder();
  h.simulators.daraja!.scriptReversals({ loseResult: true });
  const res = await refund(o.id);
  const other = {
    Result: {
      ResultCode: 0,
      ConversationID: res.body.reference,
      ResultParameters: {
        ResultParameter: [
          { Key: 'TransactionStatus', Value: 'Completed' },
          { Key: 'ConversationID', Value: 'AG_20261201_other' },
        ],
      },
    },
  };
  expect((await h.api('POST', await resultUrlOf(res.body.id), { body: other })).status).toBe(404);
  await settled(res.body.id);
});
