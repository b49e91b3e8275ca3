import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { workflowIds } from '../core/events';

/**
 * The operator CLI (`npm run tillflow -- <command>`): what support does most, through the API
 * and Temporal only — it never edits a table behind a workflow's back. It authenticates like a
 * person (a manager's PIN, for one short session it ends on exit) or with an operator token
 * (`TILLFLOW_OPERATOR_TOKEN`, issued by POST /api/v1/operator-tokens), so every change it makes
 * is audited under that person or operator.
 */
export const USAGE = `Usage: tillflow <command> [options]

  find-order <number> [--date YYYY-MM-DD]        orders with this number (that local day, or the 1000 most recent)
  why-stuck <orderId>                            the order's workflow: pending activities, last failures, child workflows
  resolve-payment <orderId> <paymentId> succeeded|failed --reason "<why>"
  retry-print <orderId> [--kind receipt|kitchen|orderNumber]   print the ticket again (a new print job)
  report [--date YYYY-MM-DD] [--out <file>]      a day's sales report as JSON

Environment: TILLFLOW_API_URL (default http://127.0.0.1:8000), TILLFLOW_OPERATOR_TOKEN or
TILLFLOW_PIN (a manager's PIN; or --pin), TEMPORAL_ADDRESS (default 127.0.0.1:7233),
TEMPORAL_NAMESPACE (default tillflow).`;

/** A mistake in how the CLI was called or answered: printed as one line, exit 2 (usage) or 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

interface Args {
  positional: string[];
  options: Record<string, string>;
}

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) positional.push(a);
    else if (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) throw new CliError(`${a} needs a value`, 2);
    else options[a.slice(2)] = argv[++i]!;
  }
  return { positional, options };
}

type Out = (line: string) => void;

class Api {
  private token?: string;
  private ownSession = false;
  constructor(
    private readonly baseUrl: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly pin?: string,
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
    const token = await this.session();
    const res = await this.fetch(method, path, body, { authorization: `Bearer ${token}`, ...headers });
    if (res.status >= 400)
      throw new CliError(`${method} ${path}: ${res.status} ${res.body?.detail ?? JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Ends the session a PIN opened; an operator token stays valid. */
  async close(): Promise<void> {
    if (this.ownSession && this.token)
      await this.fetch('POST', '/api/v1/auth/logout', undefined, { authorization: `Bearer ${this.token}` }).catch(
        () => undefined,
      );
  }

  private async session(): Promise<string> {
    if (this.token) return this.token;
    const operator = this.env.TILLFLOW_OPERATOR_TOKEN?.trim();
    if (operator) return (this.token = operator);
    if (!this.pin)
      throw new CliError('Set TILLFLOW_OPERATOR_TOKEN, or give a manager PIN with --pin or TILLFLOW_PIN', 2);
    const res = await this.fetch('POST', '/api/v1/auth/login', { pin: this.pin });
    if (res.status !== 200) throw new CliError(`login refused: ${res.status} ${res.body?.detail ?? ''}`);
    this.ownSession = true;
    return (this.token = res.body.token as string);
  }

  private async fetch(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(`cannot reach the API at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
}

async function withTemporal<T>(env: NodeJS.ProcessEnv, fn: (client: Client) => Promise<T>): Promise<T> {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5s' });
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${address}: ${(err as Error).message}`);
  }
  try {
    return await fn(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE || 'tillflow' }));
  } finally {
    await connection.close();
  }
}

const money = (o: any, amount: number) => `${o.currency} ${(amount / 100).toFixed(2)}`;
const orderLine = (o: any) =>
  `#${o.orderNumber ?? '-'}  ${o.id}  ${o.status}  ${o.type}${o.table ? ` table ${o.table}` : ''}  total ${money(o, o.totals.total)}  balance ${money(o, o.totals.balance)}  opened ${o.createdAt}`;

const RECENT_PAGES = 5;

async function findOrder(api: Api, args: Args, out: Out) {
  const number = Number(args.positional[0]);
  if (!Number.isInteger(number) || number < 1) throw new CliError('find-order needs an order number', 2);
  const found: any[] = [];
  let cursor: string | null = null;
  // Without a day, the most recent orders (numbers restart, so a number may match on several days).
  for (let pages = 0; pages < (args.options.date ? Infinity : RECENT_PAGES) && (pages === 0 || cursor); pages++) {
    const q = new URLSearchParams({
      limit: '200',
      ...(args.options.date ? { date: args.options.date } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const page: any = await api.request('GET', `/api/v1/orders?${q}`);
    found.push(...page.orders.filter((o: any) => o.orderNumber === number));
    cursor = page.nextCursor;
  }
  if (!found.length)
    throw new CliError(
      `no order #${number} ${args.options.date ? `on ${args.options.date}` : `among the ${RECENT_PAGES * 200} most recent`}`,
    );
  for (const o of found) out(orderLine(o));
}

/** Pending activities of one workflow execution, one line each, with their last failure. */
function activityLines(raw: any, indent: string): string[] {
  return (raw.pendingActivities ?? []).map(
    (a: any) =>
      `${indent}activity ${a.activityType?.name} attempt ${a.attempt}${a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : ''}` +
      `${a.scheduledTime ? `, next try ${new Date(Number(a.scheduledTime.seconds ?? 0) * 1000).toISOString()}` : ''}`,
  );
}

async function whyStuck(api: Api, env: NodeJS.ProcessEnv, args: Args, out: Out) {
  const orderId = args.positional[0];
  if (!orderId) throw new CliError('why-stuck needs an order id', 2);
  const order = await api.request('GET', `/api/v1/orders/${orderId}`);
  out(orderLine(order));
  for (const p of order.payments.filter((p: any) => p.status === 'pending'))
    out(`  payment ${p.id} ${p.method} ${money(order, p.amount)} pending since ${p.createdAt}`);
  const { stuckOrders } = await api.request('GET', '/api/v1/support/stuck-orders?olderThan=0s&minAttempts=2');
  for (const s of stuckOrders.filter((s: any) => s.orderId === orderId))
    out(`  stuck: ${s.reason} since ${s.since ?? '?'}${s.temporalUiUrl ? `  ${s.temporalUiUrl}` : ''}`);
  await withTemporal(env, async (client) => {
    const d = await client.workflow.getHandle(workflowIds.order(orderId)).describe();
    out(`  workflow ${d.workflowId} (${d.runId}) ${d.status.name}`);
    const lines = activityLines(d.raw, '    ');
    for (const child of d.raw.pendingChildren ?? []) {
      const c = await client.workflow.getHandle(child.workflowId!, child.runId ?? undefined).describe();
      lines.push(`    child ${c.type} ${c.workflowId} ${c.status.name}`, ...activityLines(c.raw, '      '));
    }
    for (const l of lines.length ? lines : ['    nothing pending in Temporal']) out(l);
  });
}

async function resolvePayment(api: Api, args: Args, out: Out) {
  const [orderId, paymentId, outcome] = args.positional;
  if (!orderId || !paymentId || !['succeeded', 'failed'].includes(outcome ?? '') || !args.options.reason) {
    throw new CliError('resolve-payment needs <orderId> <paymentId> succeeded|failed --reason "<why>"', 2);
  }
  const p = await api.request(
    'POST',
    `/api/v1/orders/${orderId}/payments/${paymentId}/resolve`,
    { outcome, reason: args.options.reason },
    { 'Idempotency-Key': randomUUID() },
  );
  out(
    `payment ${p.id} ${p.status}; order #${p.order.orderNumber} ${p.order.status}, balance ${money(p.order, p.order.totals.balance)}`,
  );
}

async function retryPrint(api: Api, args: Args, out: Out) {
  const orderId = args.positional[0];
  if (!orderId) throw new CliError('retry-print needs an order id', 2);
  const kind = args.options.kind ?? 'receipt';
  const job = await api.request(
    'POST',
    `/api/v1/orders/${orderId}/reprint`,
    { kind },
    { 'Idempotency-Key': randomUUID() },
  );
  out(`print job ${job.printJobId ?? job.workflowId ?? JSON.stringify(job)} started (${kind})`);
}

async function report(api: Api, args: Args, out: Out) {
  const q = args.options.date ? `?date=${encodeURIComponent(args.options.date)}` : '';
  const r = await api.request('GET', `/api/v1/reports/daily${q}`);
  const json = JSON.stringify(r, null, 2);
  if (args.options.out) {
    fs.writeFileSync(args.options.out, json + '\n');
    out(`report of ${r.date} written to ${args.options.out}`);
  } else out(json);
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') return out(USAGE);
  const args = parseArgs(rest);
  const api = new Api(
    (env.TILLFLOW_API_URL || 'http://127.0.0.1:8000').replace(/\/+$/, ''),
    env,
    args.options.pin ?? env.TILLFLOW_PIN,
  );
  try {
    if (command === 'find-order') await findOrder(api, args, out);
    else if (command === 'why-stuck') await whyStuck(api, env, args, out);
    else if (command === 'resolve-payment') await resolvePayment(api, args, out);
    else if (command === 'retry-print') await retryPrint(api, args, out);
    else if (command === 'report') await report(api, args, out);
    else throw new CliError(`unknown command "${command}"\n${USAGE}`, 2);
  } finally {
    await api.close();
  }
}
