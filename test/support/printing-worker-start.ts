/**
 * Starts a printing worker (activities only) against TEMPORAL_ADDRESS as `npm start` does, lets it
 * poll briefly, then stops it: test/worker-logs.test.ts checks what it printed.
 */
import { randomUUID } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { createPrintingWorker, installRuntime } from '../../workers/worker';

async function main() {
  installRuntime();
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createPrintingWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE!,
    locationId: randomUUID(),
  });
  const run = worker.run();
  await new Promise((r) => setTimeout(r, 2_000));
  worker.shutdown();
  await run;
  await connection.close();
}

void main();
