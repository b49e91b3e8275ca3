import type { Harness } from './support/harness';
import { DARAJA_SIM_INITIATOR, startMpesaShop } from './support/mpesa-suite';
import { openBurgerOrder, until, postPayment } from './support/payments';
import type { DarajaSim } from '../simulators/daraja';

/** Every money- or permission-changing action lands in GET /api/v1/audit with staff, location and what changed. */
let h: Harness;
let sim: DarajaSim;
let cashier: string;
let manager: string;

beforeAll(async () => {
  ({ h, sim } = await startMpesaShop(
    { TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '600000', TILLFLOW_PAYMENT_EXPIRE_MS: '1200000' },
    { ...DARAJA_SIM_INITIATOR, initiatorPassword: 'x' },
  ));
  cashier = await h.login('3456');
  manager = await h.login('2345');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
});

const auditOf = async (action: string, subject?: string) => {
  const res = await h.api('GET', `/api/v1/audit?action=${encodeURIComponent(action)}`, { token: manager });
  expect(res.status).toBe(200);
  return (res.body.auditLog as any[]).filter((r) => subject === undefined || r.subject === subject);
};
const staff = (name: 'Manager' | 'Cashier') => ({ id: h.shop.staff[name], name });

describe('audited actions', () => {
  it('a manager resolving a stuck payment', async () => {
    const o = await openBurgerOrder(h, cashier);
    sim.script('254712345001', { outcome: 'timeout', pendingQueries: 100_000 });
    const pay = await postPayment(h, cashier, o.id, { method: 'mpesa', amount: 1000, phone: '254712345001' });
    expect(pay.status).toBe(202);
    const res = await h.api('POST', `/api/v1/orders/${o.id}/payments/${pay.body.id}/resolve`, {
      token: manager,
      body: { outcome: 'succeeded', reason: 'saw the SMS' },
    });
    expect(res.status).toBe(200);
    const rows = await until(
      () => auditOf('payment.resolve', pay.body.id),
      (r) => r.length === 1,
    );
    expect(rows[0]).toMatchObject({
      staff: staff('Manager'),
      locationId: h.shop.locationId,
      data: { outcome: 'succeeded', reason: 'saw the SMS' },
    });
  });

  it('discounts applied and removed, with the money before and after', async () => {
    const o = await openBurgerOrder(h, cashier);
    const discountId = h.shop.discounts['Staff 10%']!;
    expect(
      (await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body: { discountId } })).status,
    ).toBe(200);
    expect((await h.api('DELETE', `/api/v1/orders/${o.id}/discounts/${discountId}`, { token: cashier })).status).toBe(
      200,
    );
    const [applied] = await auditOf('order.discount_applied', o.id);
    expect(applied).toMatchObject({
      staff: staff('Cashier'),
      data: {
        orderNumber: o.orderNumber,
        discount: { id: discountId, name: 'Staff 10%', amount: 100 },
        before: { discount: 0, total: 1000 },
        after: { discount: 100, total: 900 },
      },
    });
    const [removed] = await auditOf('order.discount_removed', o.id);
    expect(removed.data).toMatchObject({
      discount: { id: discountId, amount: 100 },
      before: { total: 900 },
      after: { total: 1000 },
    });
  });

  it('a line void, with the line', async () => {
    const o = await openBurgerOrder(h, cashier, 2);
    const lineId = o.lines[0].id;
    expect((await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${lineId}`, { token: cashier })).status).toBe(200);
    const [row] = await auditOf('order.line_voided', o.id);
    expect(row).toMatchObject({
      staff: staff('Cashier'),
      data: {
        line: { id: lineId, name: 'Burger', quantity: 2, total: 2000 },
        before: { total: 2000 },
        after: { total: 0 },
      },
    });
  });

  it('an order cancel, with its reason', async () => {
    const o = await openBurgerOrder(h, cashier);
    expect(
      (await h.api('POST', `/api/v1/orders/${o.id}/cancel`, { token: cashier, body: { reason: 'customer left' } }))
        .status,
    ).toBe(200);
    const [row] = await auditOf('order.cancelled', o.id);
    expect(row).toMatchObject({
      data: { reason: 'customer left', before: { status: 'open', total: 1000 }, after: { status: 'cancelled' } },
    });
  });

  it('a repeated request (same Idempotency-Key) once', async () => {
    const o = await openBurgerOrder(h, cashier);
    const headers = { 'idempotency-key': `cancel-${o.id}` };
    for (let i = 0; i < 2; i++) {
      expect(
        (await h.api('POST', `/api/v1/orders/${o.id}/cancel`, { token: cashier, body: { reason: 'twice' }, headers }))
          .status,
      ).toBe(200);
    }
    expect(await auditOf('order.cancelled', o.id)).toHaveLength(1);
  });

  it('settings changes, with only the changed fields before and after', async () => {
    const res = await h.api('PUT', '/api/v1/settings', {
      token: manager,
      body: { taxRate: 1600, serviceChargeRate: 0 },
    });
    expect(res.status).toBe(200);
    const [row] = await auditOf('settings.changed');
    expect(row).toMatchObject({
      staff: staff('Manager'),
      subject: h.shop.locationId,
      data: { before: { taxRate: 0 }, after: { taxRate: 1600 } },
    });
    expect(Object.keys(row.data.after)).toEqual(['taxRate']);
  });

  it('an order-number reset', async () => {
    expect((await h.api('POST', '/api/v1/order-numbers/reset', { token: manager })).status).toBe(200);
    const rows = await auditOf('order_numbers.reset');
    expect(rows[0]).toMatchObject({ staff: staff('Manager'), locationId: h.shop.locationId });
  });

  it('printers added, changed and removed', async () => {
    const created = await h.api('POST', '/api/v1/printers', {
      token: manager,
      body: { name: 'Bar', role: 'receipt', address: 'tcp://10.0.0.9:9100' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(
      (await h.api('PATCH', `/api/v1/printers/${id}`, { token: manager, body: { address: 'tcp://10.0.0.10:9100' } }))
        .status,
    ).toBe(200);
    expect((await h.api('DELETE', `/api/v1/printers/${id}`, { token: manager })).status).toBe(204);
    expect((await auditOf('printer.created', id))[0].data).toMatchObject({
      after: { name: 'Bar', address: 'tcp://10.0.0.9:9100' },
    });
    expect((await auditOf('printer.changed', id))[0].data).toEqual({
      before: { address: 'tcp://10.0.0.9:9100' },
      after: { address: 'tcp://10.0.0.10:9100' },
    });
    expect((await auditOf('printer.deleted', id))[0].data).toMatchObject({
      before: { name: 'Bar', address: 'tcp://10.0.0.10:9100' },
    });
  });

  it('discount definitions added, changed and removed', async () => {
    const created = await h.api('POST', '/api/v1/discounts', {
      token: manager,
      body: { name: 'Happy hour', type: 'percent', value: 1500 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await h.api('PATCH', `/api/v1/discounts/${id}`, { token: manager, body: { value: 2000 } })).status).toBe(
      200,
    );
    expect((await h.api('DELETE', `/api/v1/discounts/${id}`, { token: manager })).status).toBe(204);
    expect((await auditOf('discount.created', id))[0].data).toMatchObject({
      after: { name: 'Happy hour', value: 1500 },
    });
    expect((await auditOf('discount.changed', id))[0].data).toEqual({
      before: { value: 1500 },
      after: { value: 2000 },
    });
    expect((await auditOf('discount.deleted', id))[0]).toMatchObject({
      staff: staff('Manager'),
      data: { before: { name: 'Happy hour', value: 2000 } },
    });
  });

  it('catalog price changes, before and after (an edit that keeps the price is not one)', async () => {
    const item = h.shop.items['Espresso']!;
    expect(
      (await h.api('PATCH', `/api/v1/catalog/items/${item}`, { token: manager, body: { price: 350 } })).status,
    ).toBe(200);
    expect(
      (await h.api('PATCH', `/api/v1/catalog/items/${item}`, { token: manager, body: { name: 'Espresso shot' } }))
        .status,
    ).toBe(200);
    const rows = await auditOf('catalog.item_price_changed', item);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ staff: staff('Manager'), data: { before: { price: 300 }, after: { price: 350 } } });
  });

  it('modifier price changes, before and after', async () => {
    const listId = h.shop.modifierLists['Size']!;
    const list = await h.api('GET', `/api/v1/catalog/modifier-lists/${listId}`, { token: manager });
    const modifiers = list.body.modifiers.map((m: any, i: number) => ({
      id: m.id,
      name: m.name,
      price: i === 0 ? m.price + 25 : m.price,
    }));
    expect(
      (await h.api('PATCH', `/api/v1/catalog/modifier-lists/${listId}`, { token: manager, body: { modifiers } }))
        .status,
    ).toBe(200);
    const [row] = await auditOf('catalog.modifier_prices_changed', listId);
    const first = list.body.modifiers[0];
    expect(row.data.before[first.id]).toEqual({ name: first.name, price: first.price });
    expect(row.data.after[first.id]).toEqual({ name: first.name, price: first.price + 25 });
  });
});

describe('the listing', () => {
  it('filters by staff and time, newest first, page by page', async () => {
    const since = new Date().toISOString();
    for (const taxRate of [100, 200, 300]) {
      expect((await h.api('PUT', '/api/v1/settings', { token: manager, body: { taxRate } })).status).toBe(200);
    }
    const q = `staffId=${h.shop.staff['Manager']}&start=${encodeURIComponent(since)}&action=settings.changed&limit=2`;
    const first = await h.api('GET', `/api/v1/audit?${q}`, { token: manager });
    expect(first.status).toBe(200);
    expect(first.body.auditLog.map((r: any) => r.data.after.taxRate)).toEqual([300, 200]);
    const second = await h.api('GET', `/api/v1/audit?${q}&cursor=${first.body.nextCursor}`, { token: manager });
    expect(second.body.auditLog.map((r: any) => r.data.after.taxRate)).toEqual([100]);
    expect(second.body.nextCursor).toBeNull();
    const byCashier = await h.api(
      'GET',
      `/api/v1/audit?staffId=${h.shop.staff['Cashier']}&start=${encodeURIComponent(since)}`,
      { token: manager },
    );
    expect(byCashier.body.auditLog).toEqual([]);
    const before = await h.api('GET', `/api/v1/audit?end=${encodeURIComponent(since)}&action=settings.changed`, {
      token: manager,
    });
    expect(before.body.auditLog.every((r: any) => r.createdAt < since)).toBe(true);
  });

  it('is for managers only', async () => {
    expect((await h.api('GET', '/api/v1/audit', { token: cashier })).status).toBe(403);
  });

  it.each([
    'cursor=bm9wZQ',
    'cursor=' + Buffer.from('audit:x').toString('base64url'),
    'staffId=1',
    'start=yesterday',
    'limit=0',
    'limit=501',
    'limit=abc',
    'action=',
    'what=1',
    'limit=1&limit=2',
  ])('answers 422 to %s', async (q) => {
    const res = await h.api('GET', `/api/v1/audit?${q}`, { token: manager });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});
