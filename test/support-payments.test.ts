import type { Harness } from './support/harness';
import { DARAJA_SIM_INITIATOR, startMpesaShop } from './support/mpesa-suite';
import { openBurgerOrder, until, postPayment } from './support/payments';
import type { DarajaSim } from '../simulators/daraja';

/** GET /api/v1/payments: the payments support reconciles, as the same objects as GET /api/v1/payments/:id. */
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let manager: string;
const pending: string[] = [];
const cash: string[] = [];
let since: string;

beforeAll(async () => {
  ({ h, sim } = await startMpesaShop(
    { TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '600000', TILLFLOW_PAYMENT_EXPIRE_MS: '1200000' },
    { ...DARAJA_SIM_INITIATOR, initiatorPassword: 'x' },
  ));
  cashier = await h.login('3456');
  manager = await h.login('2345');
  since = new Date().toISOString();
  for (let i = 0; i < 3; i++) {
    const o = await openBurgerOrder(h, cashier);
    const phone = `25471234500${i}`;
    sim.script(phone, { outcome: 'timeout', pendingQueries: 100_000 });
    const res = await postPayment(h, cashier, o.id, { method: 'mpesa', amount: 1000, phone });
    expect(res.status).toBe(202);
    pending.push(res.body.id);
  }
  for (let i = 0; i < 2; i++) {
    const o = await openBurgerOrder(h, cashier);
    const res = await postPayment(h, cashier, o.id, { method: 'cash', amount: 1000, tendered: 2000 });
    expect(res.status).toBe(201);
    cash.push(res.body.id);
  }
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const list = (q: string) => h.api('GET', `/api/v1/payments?${q}`, { token: manager });
const ids = (r: { body: { payments: { id: string }[] } }) => r.body.payments.map((p) => p.id);

describe('GET /api/v1/payments', () => {
  it('lists pending payments, each the same object as GET /api/v1/payments/:id', async () => {
    const res = await until(
      () => list('status=pending'),
      (r) => r.status === 200 && pending.every((id) => ids(r).includes(id)),
    );
    expect(new Set(ids(res))).toEqual(new Set(pending));
    for (const p of res.body.payments) {
      const one = await h.api('GET', `/api/v1/payments/${p.id}`, { token: manager });
      expect(p).toEqual(one.body);
    }
  });

  it('filters by method and time, newest first', async () => {
    const res = await until(
      () => list(`method=cash&start=${encodeURIComponent(since)}`),
      (r) => r.status === 200 && ids(r).length === 2,
    );
    expect(ids(res)).toEqual([...cash].reverse());
    expect(res.body.payments.every((p: any) => p.status === 'succeeded' && p.change === 1000)).toBe(true);
    const none = await list(`method=cash&end=${encodeURIComponent(since)}`);
    expect(ids(none)).toEqual([]);
  });

  it('pages with a cursor, neither skipping nor repeating', async () => {
    await until(
      () => list('limit=500'),
      (r) => ids(r).length === 5,
    );
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const res: any = await list(`limit=2${next ? `&cursor=${next}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...ids(res));
      next = res.body.nextCursor;
    } while (next);
    expect(seen).toEqual(ids(await list('limit=500')));
    expect(new Set(seen)).toEqual(new Set([...pending, ...cash]));
  });

  it('is for managers only', async () => {
    expect((await h.api('GET', '/api/v1/payments', { token: cashier })).status).toBe(403);
  });

  it.each([
    'status=paid',
    'method=bitcoin',
    'start=1',
    'limit=0',
    'cursor=abc',
    'cursor=' + Buffer.from('payments:2026-01-01T00:00:00.000Z|x').toString('base64url'),
    'status=pending&status=failed',
    'x=1',
  ])('answers 422 to %s', async (q) => {
    const res = await list(q);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});
