import type { Harness } from './harness';

/**
 * A dine-in order with one of each of these demo items (the Espresso regular-sized), sent to the
 * kitchen: the order as the submit answers it.
 */
export async function submitDineIn(
  h: Harness,
  token: string,
  items: string[],
): Promise<{ id: string; orderNumber: number; lines: { id: string; itemId: string }[] }> {
  const created = await h.api('POST', '/api/v1/orders', {
    token,
    body: {
      type: 'dine_in',
      lines: items.map((name) => ({
        itemId: h.shop.items[name],
        quantity: 1,
        modifierIds: name === 'Espresso' ? [h.shop.modifiers['Regular']] : [],
      })),
    },
  });
  expect(created.status).toBe(201);
  const sent = await h.api('POST', `/api/v1/orders/${created.body.id}/submit`, { token });
  expect(sent.status).toBe(200);
  return sent.body;
}
