/** Manager approval on the cashier's terminal (X-Approver-Pin + reason): 403 without, audited with both staff. */
import { startHarness, Harness } from './support/harness';

let h: Harness;
let cashier: string;
let manager: string;
const MANAGER_PIN = '2345';
const CASHIER_PIN = '3456';

beforeAll(async () => {
  h = await startHarness({ printingWorker: false });
  [cashier, manager] = await Promise.all([h.login(CASHIER_PIN), h.login(MANAGER_PIN)]);
});
afterAll(async () => h?.close());

const approver = (pin: string) => ({ 'x-approver-pin': pin });

async function order(submit: boolean): Promise<any> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: {
      type: 'dine_in',
      lines: [
        { itemId: h.shop.items['Burger'], quantity: 1 },
        { itemId: h.shop.items['Croissant'], quantity: 1 },
      ],
    },
  });
  expect(created.status).toBe(201);
  if (!submit) return created.body;
  const sent = await h.api('POST', `/api/v1/orders/${created.body.id}/submit`, { token: cashier });
  expect(sent.status).toBe(200);
  return sent.body;
}

const auditRows = (action: string, orderId: string) => h.deps.knex('audit_log').where({ action, subject: orderId });

describe('voiding a line the kitchen has', () => {
  it('is refused (403) without a manager PIN or with a cashier PIN, and changes nothing', async () => {
    const o = await order(true);
    const path = `/api/v1/orders/${o.id}/lines/${o.lines[0].id}?reason=${encodeURIComponent('customer changed mind')}`;
    const bare = await h.api('DELETE', path, { token: cashier });
    expect(bare.status).toBe(403);
    expect(bare.body.code).toBe('FORBIDDEN');
    expect(bare.body.detail).toMatch(/manager's approval/);
    expect((await h.api('DELETE', path, { token: cashier, headers: approver(CASHIER_PIN) })).status).toBe(403);
    expect(
      (
        await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}`, {
          token: cashier,
          headers: approver(MANAGER_PIN),
        })
      ).status,
    ).toBe(403); // no reason
    expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.lines).toHaveLength(2);
    expect(await auditRows('order.line_voided', o.id)).toHaveLength(0);
  });

  it("is done with a manager's PIN and a reason, audited with both staff", async () => {
    const o = await order(true);
    expect(o.lines[0].kitchenStatus).toBe('sent');
    const res = await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}?reason=burnt`, {
      token: cashier,
      headers: approver(MANAGER_PIN),
    });
    expect(res.status).toBe(200);
    expect(res.body.lines).toHaveLength(1);
    const [row] = await auditRows('order.line_voided', o.id);
    expect(row.staff_id).toBe(h.shop.staff['Cashier']);
    expect(row.data.approval).toEqual({
      approvedBy: { id: h.shop.staff['Manager'], name: 'Manager', role: 'manager' },
      reason: 'burnt',
    });
  });

  it('needs no approval for a line not yet sent', async () => {
    const o = await order(false);
    expect((await h.api('DELETE', `/api/v1/orders/${o.id}/lines/${o.lines[0].id}`, { token: cashier })).status).toBe(
      200,
    );
  });
});

it("needs a manager's PIN for a discount above approvalDiscountPercent", async () => {
  expect(
    (await h.api('PUT', '/api/v1/settings', { token: manager, body: { approvalDiscountPercent: 5 } })).status,
  ).toBe(200);
  try {
    const o = await order(false);
    const body = { discountId: h.shop.discounts['Staff 10%'], reason: 'staff meal' };
    expect((await h.api('POST', `/api/v1/orders/${o.id}/discounts`, { token: cashier, body })).status).toBe(403);
    const res = await h.api('POST', `/api/v1/orders/${o.id}/discounts`, {
      token: cashier,
      body,
      headers: approver(MANAGER_PIN),
    });
    expect(res.status).toBe(200);
    expect(res.body.discounts).toHaveLength(1);
    const [row] = await auditRows('order.discount_applied', o.id);
    expect(row).toMatchObject({
      staff_id: h.shop.staff['Cashier'],
      data: { approval: { approvedBy: { id: h.shop.staff['Manager'] }, reason: 'staff meal' } },
    });
  } finally {
    await h.api('PUT', '/api/v1/settings', { token: manager, body: { approvalDiscountPercent: null } });
  }
});

it("needs a manager's PIN to cancel an order the kitchen has", async () => {
  const o = await order(true);
  const body = { reason: 'walked out' };
  expect((await h.api('POST', `/api/v1/orders/${o.id}/cancel`, { token: cashier, body })).status).toBe(403);
  expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.status).toBe('open');
  const res = await h.api('POST', `/api/v1/orders/${o.id}/cancel`, {
    token: cashier,
    body,
    headers: approver(MANAGER_PIN),
  });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('cancelled');
  const [row] = await auditRows('order.cancelled', o.id);
  expect(row).toMatchObject({
    staff_id: h.shop.staff['Cashier'],
    data: { approval: { approvedBy: { id: h.shop.staff['Manager'] }, reason: 'walked out' } },
  });
});
