import { startHarness, Harness } from './support/harness';
import { until } from './support/payments';
import { startApiServer, ApiServer } from '../api/server';
import type { PublishBatch } from '../core/events';

/**
 * An API that wrote a change's events says so with its next change, and the checkout stops
 * repeating them in its answers (issue 10): each answer carries only what is new. What no
 * writer confirmed is still repeated, and still made durable by the close.
 */
let h: Harness;
let otherReplica: ApiServer;
let cashier: string;

beforeAll(async () => {
  h = await startHarness();
  otherReplica = await startApiServer(h.deps, { databaseUrl: h.databaseUrl, port: 0, host: '127.0.0.1' });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await otherReplica?.close();
  await h?.close();
});

const line = (name: string) => ({
  itemId: h.shop.items[name],
  quantity: 1,
  ...(name === 'Espresso' ? { modifierIds: [h.shop.modifiers['Regular']] } : {}),
});

/** Each Update answer of the order as its history holds it, in order. */
async function answers(orderId: string): Promise<Array<{ published?: unknown; batch: PublishBatch }>> {
  const { events } = await h.deps.temporal.workflow.getHandle(`order-${orderId}`).fetchHistory();
  return (events ?? [])
    .map((e) => e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success?.payloads?.[0]?.data)
    .filter((data): data is Uint8Array => data != null)
    .map((data) => JSON.parse(Buffer.from(data).toString()));
}

/** The versions of the events each Update answer of the order carried to its caller, in order. */
async function answeredVersions(orderId: string): Promise<number[][]> {
  return (await answers(orderId)).map((a) => a.batch.events.map((e) => e.version));
}

/** Adds a line through `baseUrl` once the order's newest version is written, as a cashier's next tap finds it. */
async function addLineAfterWrite(baseUrl: string, orderId: string, version: number, body: unknown) {
  await until(
    () => h.deps.knex('order_events').where({ order_id: orderId, version }).first(),
    (row) => row !== undefined,
  );
  const res = await fetch(`${baseUrl}/api/v1/orders/${orderId}/lines`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cashier}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { version: number; [field: string]: unknown };
}

it('answers each change with only the events its API has not written yet', async () => {
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const id = opened.body.id;
  let version = opened.body.version;
  for (const name of ['Croissant', 'Burger', 'Espresso']) {
    ({ version } = await addLineAfterWrite(h.baseUrl, id, version, line(name)));
  }
  expect(await answeredVersions(id)).toEqual([[2], [3], [4]]);
});

it('repeats the events to an API that did not write them', async () => {
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const id = opened.body.id;
  // The opening API wrote version 1, the other one (which had written nothing) versions 1 and 2.
  const first = await addLineAfterWrite(otherReplica.url, id, 1, line('Croissant'));
  await addLineAfterWrite(h.baseUrl, id, first.version, line('Burger'));
  expect(await answeredVersions(id)).toEqual([
    [1, 2],
    [2, 3],
  ]);
});

it("refuses a client's claim of what was written", async () => {
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const id = opened.body.id;
  const { runId } = await h.deps.temporal.workflow.getHandle(`order-${id}`).describe();
  const forged = { ...line('Croissant'), written: { runId, through: 1000 } };
  const res = await h.api('POST', `/api/v1/orders/${id}/lines`, { token: cashier, body: forged });
  expect(res.status).toBe(422);
  expect(res.body.errors).toEqual([{ path: '(body)', message: expect.stringContaining('written') }]);
});

it("holds a cart change's order once in its answer, and the cashier still gets it whole", async () => {
  const opened = await h.api('POST', '/api/v1/orders', { token: cashier, body: { type: 'takeaway' } });
  const added = await addLineAfterWrite(h.baseUrl, opened.body.id, 1, line('Burger'));
  const [answer] = await answers(opened.body.id);
  expect(Object.keys(answer!)).toEqual(['batch']);
  expect(answer!.batch.snapshot).toBeUndefined();
  expect(answer!.batch.events).toEqual([expect.objectContaining({ event: 'order.updated', data: added })]);
  const row = await until(
    () => h.deps.knex('orders').where({ id: opened.body.id }).first('version', 'snapshot'),
    (r) => r?.version === 2,
  );
  expect(row.snapshot).toEqual(added);
});
