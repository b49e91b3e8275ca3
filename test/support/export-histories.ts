/**
 * Runs test/support/scenarios.ts against the real stack and writes each workflow's history to
 * test/histories/<scenario>--<workflow>.json. Run after a deliberate workflow change (with a
 * patch/version marker) or when adding a scenario.
 * `npm run histories:export -- <scenario> …` exports only those scenarios; it never overwrites an
 * existing history, and without arguments it exports only scenarios that have none yet (committed histories are records of real runs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import globalSetup from './global-setup';
import globalTeardown from './global-teardown';
import { startHarness } from './harness';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { scenarios } from './scenarios';

const OUT = path.resolve(__dirname, '..', '..', '..', 'test', 'histories');

async function main() {
  await globalSetup();
  // Gateway scenarios run against the sandbox simulators, with short waits so every payment
  // workflow (including its late-success window) finishes and its whole history is exported.
  const h = await startHarness({
    sandboxPayments: true,
    env: {
      TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: '300',
      TILLFLOW_PAYMENT_POLL_MS: '100',
      TILLFLOW_PAYMENT_POLL_MAX_MS: '200',
      TILLFLOW_PAYMENT_EXPIRE_MS: '3000',
      TILLFLOW_PAYMENT_LATE_WINDOW_MS: '1500',
    },
  });
  try {
    fs.mkdirSync(OUT, { recursive: true });
    const only = process.argv.slice(2);
    const unknown = only.filter((n) => !(n in scenarios));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
    for (const [name, run] of Object.entries(scenarios)) {
      if (only.length && !only.includes(name)) continue;
      // Committed histories are records of real runs: a scenario already exported is never run again.
      if (fs.readdirSync(OUT).some((f) => f.startsWith(`${name}--`))) {
        console.log(`skipped ${name}: its histories are committed`);
        continue;
      }
      const workflowIds = await run(h);
      for (const workflowId of workflowIds) {
        const handle = h.deps.temporal.workflow.getHandle(workflowId);
        await handle.result().catch(() => undefined);
        const history = await handle.fetchHistory();
        const file = path.join(OUT, `${name}--${workflowId.split('-')[0]}.json`);
        if (!history.events?.length) throw new Error(`${workflowId}: empty history`);
        if (fs.existsSync(file)) throw new Error(`${file} exists: a committed history is never overwritten`);
        fs.writeFileSync(
          file,
          JSON.stringify(
            { workflowId, history: JSON.parse(historyToJSON(temporal.api.history.v1.History.fromObject(history))) },
            null,
            1,
          ),
        );
        console.log(`wrote ${path.relative(process.cwd(), file)} (${history.events?.length} events)`);
      }
    }
  } finally {
    await h.close();
    await globalTeardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
