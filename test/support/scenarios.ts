import type { Harness } from './harness';

/**
 * Representative orders, driven over HTTP. Their workflow histories are exported to
 * test/histories/ (npm run histories:export) and replayed by test/replay.test.ts, so a change
 * that makes the workflows non-deterministic fails the build.
 */
export const scenarios: Record<string, (h: Harness) => Promise<string[]>> = {
  async 'cash-split-with-kitchen'(h) {
    const cashier = await h.login('3456');
    const kitchen = await h.login('4567');
    const { items, modifiers, discounts } = h.shop;
    const order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'dine_in', table: '4', terminalId: 'till-1' } })).body;
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, { token: cashier, body: { itemId: items['Burger'], quantity: 2, modifierIds: [modifiers['Extra cheese']] } });
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, { token: cashier, body: { itemId: items['Croissant'], quantity: 1 } });
    await h.api('POST', `/api/v1/orders/${order.id}/discounts`, { token: cashier, body: { discountId: discounts['Staff 10%'] } });
    await h.api('POST', `/api/v1/orders/${order.id}/submit`, { token: cashier });
    const ready = (await h.api('POST', `/api/v1/orders/${order.id}/ready`, { token: kitchen })).body;
    const half = Math.floor(ready.totals.total / 2);
    await h.api('POST', `/api/v1/orders/${order.id}/payments`, { token: cashier, body: { method: 'cash', amount: half, tendered: half } });
    await h.api('POST', `/api/v1/orders/${order.id}/payments`, { token: cashier, body: { method: 'cash', amount: ready.totals.total - half, tendered: 10000 } });
    return [`order-${order.id}`];
  },

  async 'edits-rejections-and-cancel'(h) {
    const cashier = await h.login('3456');
    const { items, modifiers } = h.shop;
    const order = (await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway', lines: [{ itemId: items['Latte'], quantity: 1, modifierIds: [modifiers['Regular']] }] } })).body;
    const line = (await h.api('POST', `/api/v1/orders/${order.id}/lines`, { token: cashier, body: { itemId: items['Espresso'], quantity: 1, modifierIds: [modifiers['Regular']] } })).body.lines[1];
    await h.api('POST', `/api/v1/orders/${order.id}/lines`, { token: cashier, body: { itemId: items['Latte'], quantity: 0, modifierIds: [] } }); // rejected
    await h.api('PATCH', `/api/v1/orders/${order.id}/lines/${line.id}`, { token: cashier, body: { quantity: 3, modifierIds: [modifiers['Large']], note: 'to go' } });
    await h.api('PATCH', `/api/v1/orders/${order.id}`, { token: cashier, body: { customerName: 'Ada' } });
    await h.api('DELETE', `/api/v1/orders/${order.id}/lines/${line.id}`, { token: cashier });
    await h.api('POST', `/api/v1/orders/${order.id}/cancel`, { token: cashier, body: { reason: 'customer left' } });
    return [`order-${order.id}`];
  },
};
