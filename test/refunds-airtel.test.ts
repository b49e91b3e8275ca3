import { paidPhoneOrder, startKesSandboxShop, type KesShop } from './support/phone-shop';

/** An Airtel Money refund still in progress is settled by Airtel's transaction enquiry of the refund (no callback needed). */
let shop: KesShop;

beforeAll(async () => {
  shop = await startKesSandboxShop();
}, 120_000);
afterEach(() => shop.h.simulators.airtel!.scriptRefunds(undefined));
afterAll(async () => shop?.h.close());

const airtelOrder = () => paidPhoneOrder(shop.h, shop.cashier, 'airtel', '254733123456');

it('a refund Airtel answers as in progress succeeds once its enquiry says so, refunded once', async () => {
  const o = await airtelOrder();
  shop.h.simulators.airtel!.scriptRefunds({ pendingQueries: 2 });
  const res = await shop.refund(o.id, 'whole');
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ method: 'airtel', status: 'pending' });
  expect(await shop.settled(res.body.id)).toMatchObject({ status: 'succeeded', amount: 1000 });
  const sent = [...shop.h.simulators.airtel!.refunds.values()].filter((r) => r.id === `refund-${res.body.id}`);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ status: 'TS', requests: 1 });
  expect(await shop.afterRefund(o.id)).toMatchObject({ status: 'refunded', totals: { refunded: 1000 } });
});
