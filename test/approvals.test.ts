/** Manager approval on the cashier's terminal (X-Approver-Pin + reason): 403 without, audited with both staff. */
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { startHarness, Harness } from './support/harness';
import * as msg from '../core/messages';
import { REJECTION_TYPES } from '../core/failures';

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

/*
 * The API decides on approval from the order as it read it; by the time the change reaches the
 * order's workflow the kitchen may have the line (two terminals: one sends, one voids). The
 * workflow looks again. These send the Update as an API that saw no approval needed.
 */
describe('decided again by the order itself', () => {
  const handle = (orderId: string) => h.deps.temporal.workflow.getHandle(`order-${orderId}`);
  const caller = () => ({ callerLocationId: h.shop.locationId, approval: 'none' as const });

  async function refused(update: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await update.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }

  it('refuses to void a line the kitchen got after the API looked', async () => {
    const o = await order(true);
    const cause = await refused(
      handle(o.id).executeUpdate(msg.removeLineUpdate, { args: [{ lineId: o.lines[0].id, ...caller() }] }),
    );
    expect(cause.type).toBe(REJECTION_TYPES.conflict);
    expect(cause.message).toMatch(/manager's approval/);
    expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.lines).toHaveLength(2);
  });

  it('refuses to cancel an order the kitchen got after the API looked', async () => {
    const o = await order(true);
    const cause = await refused(
      handle(o.id).executeUpdate(msg.cancelUpdate, { args: [{ reason: 'walked out', ...caller() }] }),
    );
    expect(cause.type).toBe(REJECTION_TYPES.conflict);
    expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.status).toBe('open');
  });

  it('refuses a discount that became a bigger share than approvalDiscountPercent after the API looked', async () => {
    const o = await order(false);
    const discount = { id: randomUUID(), name: 'Two off', type: 'amount' as const, value: 200, available: true };
    // 200 off a cart of more than 2,000 was under 10% when the API looked; this cart is smaller.
    expect(o.totals.subtotal).toBeLessThan(2000);
    const cause = await refused(
      handle(o.id).executeUpdate(msg.addDiscountUpdate, {
        args: [{ ...discount, ...caller(), approvalDiscountPercent: 10 }],
      }),
    );
    expect(cause.type).toBe(REJECTION_TYPES.conflict);
    expect((await h.api('GET', `/api/v1/orders/${o.id}`, { token: cashier })).body.discounts).toHaveLength(0);
  });

  it('still takes a void the API approved', async () => {
    const o = await order(true);
    const after = await handle(o.id).executeUpdate(msg.removeLineUpdate, {
      args: [{ lineId: o.lines[0].id, callerLocationId: h.shop.locationId, approval: 'approved' }],
    });
    expect(after.lines).toHaveLength(1);
  });
});
