import { startHarness, Harness } from './support/harness';
import { openBurgerOrder, until } from './support/payments';
import { loadDevServerConfig } from '../platform/temporal-dev-config';
import { ensureTemporalCli } from '../platform/temporal-cli';
import { startTemporalDevServer, DevServerHandle } from '../platform/temporal-server';

/**
 * The stuck-orders `temporalUiUrl` opens in a real Temporal UI. The suite's dev server runs
 * headless, so this file starts its own dev server with the UI (as `npm start` does) and runs
 * Tillflow against it.
 */
let server: DevServerHandle;
let h: Harness;
let manager: string;

beforeAll(async () => {
  const cfg = loadDevServerConfig();
  const cli = process.env.TILLFLOW_TEST_TEMPORAL_CLI ?? (await ensureTemporalCli(cfg)).path;
  server = await startTemporalDevServer({ cliPath: cli, cfg, randomPorts: true, headless: false });
  process.env.TEMPORAL_ADDRESS = server.address; // this test file's own environment (jest copies it per file)
  h = await startHarness({ env: { TEMPORAL_UI_URL: server.uiUrl!, TILLFLOW_PRINT_MAX_ATTEMPTS: '1000' } });
  manager = await h.login('2345');
}, 120_000);
afterAll(async () => {
  await h?.close();
  await server?.stop();
});

/** A print job that keeps retrying a printer nobody listens on: a stuck order with a link. */
async function stuckPrintEntry(): Promise<any> {
  const printer = await h.api('POST', '/api/v1/printers', {
    token: manager,
    body: { name: 'Dead printer', role: 'receipt', address: 'tcp://127.0.0.1:1' },
  });
  expect(printer.status).toBe(201);
  const o = await openBurgerOrder(h, manager);
  const job = await h.api('POST', `/api/v1/orders/${o.id}/reprint`, { token: manager, body: { kind: 'receipt' } });
  expect(job.status).toBe(202);
  const res = await until(
    () => h.api('GET', '/api/v1/support/stuck-orders?olderThan=1s', { token: manager }),
    (r) => r.status === 200 && r.body.stuckOrders.some((s: any) => s.workflowId === job.body.workflowId),
    30_000,
  );
  return res.body.stuckOrders.find((s: any) => s.workflowId === job.body.workflowId);
}

describe('Temporal UI links', () => {
  it('open the workflow in the dev server UI: the page loads and the UI API answers with that run', async () => {
    const entry = await stuckPrintEntry();
    expect(entry.temporalUiUrl).toBe(
      `${server.uiUrl}/namespaces/${server.namespace}/workflows/${entry.workflowId}/${entry.runId}/history`,
    );

    const page = await until(
      () =>
        fetch(entry.temporalUiUrl).then(async (r) => ({
          status: r.status,
          type: r.headers.get('content-type') ?? '',
          html: await r.text(),
        })),
      (r) => r.status === 200,
    );
    expect(page.type).toContain('text/html');
    expect(page.html).toMatch(/<html/i);

    // The UI is a single-page app: the page is the same for any path, so also ask the UI's own API
    // for the run the link names.
    const apiUrl = `${server.uiUrl}/api/v1/namespaces/${server.namespace}/workflows/${encodeURIComponent(entry.workflowId)}?execution.runId=${entry.runId}`;
    const described = await fetch(apiUrl);
    expect(described.status).toBe(200);
    const body = (await described.json()) as any;
    expect(body.workflowExecutionInfo.execution).toEqual({ workflowId: entry.workflowId, runId: entry.runId });
    expect(body.workflowExecutionInfo.type.name).toBe('printTicket');
    await h.deps.temporal.workflow.getHandle(entry.workflowId).terminate('test done');
  });
});
