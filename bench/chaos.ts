/**
 * `npm run bench:chaos` (issue 10): checkouts under faults. Ten terminals run full checkouts
 * (cash, Stripe card, M-Pesa through the sandbox process) against two API replicas and one
 * worker process (bench/chaos-stack.ts), first without faults, then while the worker is SIGKILLed
 * and restarted every 10 s, one API replica is SIGKILLed once and PostgreSQL is stopped for 5 s
 * once. A checkout a fault interrupted is completed afterwards by re-sending its requests with its
 * keys; then bench/chaos-verify.ts checks that every checkout happened exactly once. It prints
 * checkouts completed, faults injected, lost, duplicated and the throughput under faults as a
 * ratio of the fault-free run, and writes bench/results/chaos-<time>.json. Exit code 1 when
 * anything was lost, duplicated or out of order, 2 when the stack failed or ran past its ceiling.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { createKnex } from '../db/knex';
import { startChaosStack, type ChaosStack } from './chaos-stack';
import { Terminal, login, newCheckout, RequestFailed, type Checkout, type Line, type Method } from './chaos-terminal';
import { verify, type Findings } from './chaos-verify';
import { runBench } from './run';

const SECONDS = Number(process.env.BENCH_SECONDS || 60);
const TERMINALS = Number(process.env.BENCH_TERMINALS || 10);
const METHODS: Method[] = ['cash', 'card', 'mpesa'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[chaos] ${line}`);

interface Phase {
  name: string;
  checkouts: Checkout[];
  closed: number;
  perSecond: number;
  faults: string[];
}

/** The terminals' loop for `seconds`: a checkout that fails is set aside (unfinished) and the terminal starts the next. */
async function runPhase(name: string, terminals: Terminal[], lines: number, faults: Faults): Promise<Phase> {
  const checkouts: Checkout[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  const injected = faults(() => Date.now() < deadline);
  await Promise.all(
    terminals.map(async (t, i) => {
      for (let n = i; Date.now() < deadline; n++) {
        const c = newCheckout(METHODS[n % METHODS.length]!, lines);
        checkouts.push(c);
        await t.run(c, 30_000).then(
          () => (c.outcome = 'closed'),
          (err: Error) => {
            if (!(err instanceof RequestFailed)) throw err;
            Object.assign(c, { outcome: 'unfinished', error: err.message });
            return sleep(1000); // a terminal shows the error; the cashier tries again
          },
        );
      }
    }),
  );
  const closed = checkouts.filter((c) => c.outcome === 'closed').length;
  log(`${name}: ${closed} checkouts closed, ${checkouts.length - closed} unfinished`);
  return { name, checkouts, closed, perSecond: closed / SECONDS, faults: await injected };
}

type Faults = (running: () => boolean) => Promise<string[]>;

const noFaults: Faults = async () => [];

/** Worker SIGKILL + restart every 10 s, API replica 1 SIGKILLed at 25 s, PostgreSQL down for 5 s at 40 s. */
function chaos(stack: ChaosStack): Faults {
  return async (running) => {
    const injected: string[] = [];
    /** After `s` seconds, unless the phase has ended; true when it ran. */
    const at = async (s: number, name: string, fault: () => Promise<void>) => {
      await sleep(s * 1000);
      if (!running()) return false;
      log(`fault: ${name}`);
      injected.push(name);
      await fault();
      return true;
    };
    const workerKills = (async () => {
      while (await at(10, 'worker SIGKILL', () => stack.killWorker()));
    })();
    await Promise.all([
      workerKills,
      at(SECONDS * 0.4, 'API replica 1 SIGKILL', () => stack.killApi(0, 2_000)),
      at(SECONDS * 0.65, 'PostgreSQL stopped for 5 s', () => stack.stopPostgres(5_000)),
    ]);
    return injected;
  };
}

/** The demo shop for this scenario: KES whole shillings (M-Pesa), no tax, no printing, the three items tracked. */
async function prepareShop(databaseUrl: string): Promise<Line[]> {
  const knex = createKnex(databaseUrl, { min: 0, max: 1 });
  try {
    await knex('locations').update({ currency: 'KES', tax_rate: 0, auto_print_kitchen: false });
    await knex('printers').update({ enabled: false });
    await knex('modifiers').update({ price: knex.raw('round(price / 100.0) * 100') });
    const items = Object.fromEntries(
      (await knex('items').select('id', 'name')).map((r: { id: string; name: string }) => [r.name, r.id]),
    );
    const ids = [items['Croissant'], items['Burger'], items['Espresso']] as string[];
    await knex('items')
      .whereIn('id', ids)
      .update({
        price: knex.raw('greatest(100, round(price / 100.0) * 100)'),
        track_stock: true,
        stock_quantity: 10_000_000,
      });
    const regular = await knex('modifiers').where('name', 'Regular').first('id');
    return [
      { itemId: ids[0]!, quantity: 1 },
      { itemId: ids[1]!, quantity: 1 },
      { itemId: ids[2]!, quantity: 1, ...(regular ? { modifierIds: [regular.id] } : {}) },
    ];
  } finally {
    await knex.destroy();
  }
}

/** Every unfinished checkout again with its keys, on whichever replica answers, until it closes. */
async function completeUnfinished(
  stack: ChaosStack,
  token: string,
  lines: Line[],
  checkouts: Checkout[],
): Promise<number> {
  const unfinished = checkouts.filter((c) => c.outcome !== 'closed');
  let completed = 0;
  for (const c of unfinished) {
    for (let attempt = 0; ; attempt++) {
      const terminal = new Terminal(() => stack.apiUrls[attempt % 2]!, token, lines);
      try {
        await terminal.run(c, 120_000);
        completed++;
        break;
      } catch (err) {
        if (attempt >= 5) {
          log(`checkout ${c.id} did not complete when retried: ${(err as Error).message}`);
          break;
        }
        await sleep(2000);
      }
    }
  }
  return completed;
}

async function main(): Promise<number> {
  const started = Date.now();
  const stack = await startChaosStack(log);
  try {
    const lines = await prepareShop(stack.databaseUrl);
    const token = await login(stack.apiUrls[0], '3456');
    const terminals = Array.from(
      { length: TERMINALS },
      (_, i) => new Terminal(() => stack.apiUrls[i % 2]!, token, lines),
    );
    const calm = await runPhase('fault-free', terminals, lines.length, noFaults);
    const faulty = await runPhase('with faults', terminals, lines.length, chaos(stack));
    const all = [...calm.checkouts, ...faulty.checkouts];
    const retried = await completeUnfinished(stack, token, lines, all);
    const findings = await check(stack, all, lines.length);
    report({ calm, faulty, retried, findings, setupS: (Date.now() - started) / 1000 });
    return findings.lost.length + findings.duplicated.length + findings.disordered.length ? 1 : 0;
  } finally {
    await stack.stop();
  }
}

async function check(stack: ChaosStack, checkouts: Checkout[], trackedLines: number): Promise<Findings> {
  const knex = createKnex(stack.databaseUrl, { min: 0, max: 2 });
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    await waitPersisted(knex, checkouts.length);
    return await verify(knex, client, checkouts, trackedLines, await stack.sandbox.charges());
  } finally {
    await connection.close();
    await knex.destroy();
  }
}

/** The close is written after the cash answer: give the last ones a moment. */
async function waitPersisted(knex: ReturnType<typeof createKnex>, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [row] = await knex('orders').whereNotNull('persisted_at').count({ n: '*' });
    if (Number(row!.n) >= n) return;
    await sleep(500);
  }
}

function report(r: { calm: Phase; faulty: Phase; retried: number; findings: Findings; setupS: number }): void {
  const { calm, faulty, findings } = r;
  const retaken = [...calm.checkouts, ...faulty.checkouts].reduce((n, c) => n + (c.retaken ?? 0), 0);
  const lines = [
    `Terminals ${TERMINALS}, ${SECONDS} s per phase, ${os.cpus().length} cores`,
    `Fault-free:  ${calm.closed} checkouts closed (${calm.perSecond.toFixed(2)}/s), ${calm.checkouts.length - calm.closed} unfinished`,
    `With faults: ${faulty.closed} checkouts closed (${faulty.perSecond.toFixed(2)}/s), ${faulty.checkouts.length - faulty.closed} unfinished`,
    `Faults injected: ${faulty.faults.length} (${summarise(faulty.faults)})`,
    `Unfinished checkouts completed when retried with their keys: ${r.retried}`,
    `Payments taken again under a new key after a failed one: ${retaken}`,
    `Lost: ${findings.lost.length}   Duplicated: ${findings.duplicated.length}   Out of order: ${findings.disordered.length}`,
    `Throughput under faults: ${(faulty.perSecond / calm.perSecond).toFixed(2)}× the fault-free run`,
  ];
  for (const l of lines) console.log(l);
  for (const [kind, list] of Object.entries(findings))
    for (const x of list.slice(0, 10)) console.log(`  ${kind}: ${x}`);
  const at = new Date().toISOString();
  const result = {
    at,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    terminals: TERMINALS,
    seconds: SECONDS,
    faultFree: { closed: calm.closed, unfinished: calm.checkouts.length - calm.closed, perSecond: calm.perSecond },
    withFaults: {
      closed: faulty.closed,
      unfinished: faulty.checkouts.length - faulty.closed,
      perSecond: faulty.perSecond,
    },
    faults: faulty.faults,
    retried: r.retried,
    retaken,
    lost: findings.lost,
    duplicated: findings.duplicated,
    disordered: findings.disordered,
    ratio: faulty.perSecond / calm.perSecond,
  };
  const dir = `${__dirname}/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/chaos-${at.replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`Result written to ${file}`);
}

const summarise = (faults: string[]) =>
  [...new Set(faults)].map((f) => `${faults.filter((x) => x === f).length} × ${f}`).join(', ');

// A hard ceiling well above what setup, both phases, the retries and the checks need; a stack
// that failed exits 2, apart from findings (1).
runBench(main, (15 * 60 + 3 * SECONDS) * 1000, 2);
