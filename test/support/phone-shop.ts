import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from './harness';
import { PAYMENT_TEST_TIMING, openBurgerOrder, postPayment, setShopCurrency, until } from './payments';

export interface KesShop {
  h: Harness;
  cashier: string;
  manager: string;
  /** A manager's refund of the order (a fresh Idempotency-Key each call). */
  refund(orderId: string, reason: string): Promise<{ status: number; body: any }>;
  /** The refund once it is no longer pending. */
  settled(refundId: string): Promise<any>;
  /** The order once a refund has moved it on from `closed` (it settles a moment after the refund row). */
  afterRefund(orderId: string): Promise<any>;
}

/**
 * The phone-money refund tests' shop: sandbox gateways with short payment timings, the shop in
 * KES and the Burger at KES 10 (M-Pesa and Airtel take whole shillings), with the cashier's and
 * the manager's tokens. The caller closes the harness.
 */
export async function startKesSandboxShop(): Promise<KesShop> {
  const h = await startHarness({ sandboxPayments: true, env: PAYMENT_TEST_TIMING });
  await setShopCurrency(h, 'KES');
  await h.deps.knex('items').where({ id: h.shop.items['Burger'] }).update({ price: 1000 });
  const [cashier, manager] = [await h.login('3456'), await h.login('2345')];
  return {
    h,
    cashier,
    manager,
    refund: (orderId, reason) =>
      h.api('POST', `/api/v1/orders/${orderId}/refunds`, {
        token: manager,
        body: { reason },
        headers: { 'idempotency-key': randomUUID() },
      }),
    settled: (refundId) =>
      until(
        () => h.api('GET', `/api/v1/refunds/${refundId}`, { token: manager }).then((r) => r.body),
        (r) => r.status !== 'pending',
      ),
    afterRefund: (orderId) =>
      until(
        () => h.api('GET', `/api/v1/orders/${orderId}`, { token: cashier }).then((r) => r.body),
        (b) => b.status !== 'closed',
      ),
  };
}

/** A closed order of one Burger paid 1000 by `method` from `phone` (the simulated phone pays at once). */
export async function paidPhoneOrder(
  h: Harness,
  cashier: string,
  method: 'mpesa' | 'airtel',
  phone: string,
): Promise<any> {
  const created = await openBurgerOrder(h, cashier);
  const res = await postPayment(h, cashier, created.id, { method, amount: 1000, phone });
  expect(res.status).toBe(202);
  await until(
    () => h.deps.knex('orders').where({ id: created.id }).first('persisted_at'),
    (r) => !!r?.persisted_at,
  );
  await h.deps.temporal.workflow.getHandle(`order-${created.id}`).result();
  return created;
}
