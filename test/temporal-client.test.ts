import * as net from 'node:net';
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { startHarness, Harness } from './support/harness';
import { connectTemporalClient } from '../platform/temporal-client';
import { benchDoneSignal } from '../workflows/bench-noop';

// The SDK retries a call that failed for a moment from a timer; a channel closed while that timer
// waits makes it throw outside any promise ("Channel has been shut down"), which ended whatever
// test file a Jest worker ran next (replay, security-webhooks-mpesa in CI) and would end the API
// on SIGTERM. Closing must wait for such a call to finish instead.
let h: Harness;
let proxy: net.Server;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  h = await startHarness();
  const [host, port] = process.env.TEMPORAL_ADDRESS!.split(':');
  proxy = net.createServer((inbound) => {
    const outbound = net.connect(Number(port), host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s)).on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await h?.close();
});

it('closes only after a call that is retrying after a dropped connection has finished', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const client = await connectTemporalClient(`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
    const temporal = new Client({ connection: client.connection, namespace: h.deps.config.temporalNamespace });
    const handle = await temporal.workflow.start('benchNoop', { taskQueue: h.taskQueue, workflowId: randomUUID() });
    const result = handle.result(); // a long poll, in flight below
    await new Promise((r) => setTimeout(r, 300));
    for (const s of sockets) s.destroy(); // UNAVAILABLE: the SDK retries from a timer
    const closed = client.close();
    await h.deps.temporal.workflow.getHandle(handle.workflowId).signal(benchDoneSignal);
    expect(await result).toBe(0);
    await closed;
    expect(client.inFlight()).toBe(0);
    await new Promise((r) => setTimeout(r, 1000)); // any retry timer left would have fired by now
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
