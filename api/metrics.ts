import type Koa from 'koa';
import type { Knex } from 'knex';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PAYMENT_METHODS, TAKEN_PAYMENT_STATUSES } from './reports';

/**
 * Metrics, in two kinds:
 * - this process's own figures (HTTP durations, WebSocket connections, Node runtime), kept in
 *   `registry` by prom-client;
 * - the business figures (orders, payments, sales, refunds, kitchen time), which are NOT counted
 *   in memory: orders close in whichever worker runs them, so a per-process counter would be
 *   split across workers and reset on every deploy. They are read from Postgres at scrape time,
 *   so every API replica answers the same totals and they survive restarts. Each "counter" only
 *   ever grows because it counts rows in a final state (see businessMetrics).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'tillflow_' });

const httpDuration = new Histogram({
  name: 'tillflow_http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/** Open WebSocket connections of this process (api/realtime/ws.ts counts them). */
export const wsConnections = new Gauge({
  name: 'tillflow_ws_connections',
  help: 'Open WebSocket connections of this API process',
  registers: [registry],
});

export function httpMetrics(): Koa.Middleware {
  return async (ctx, next) => {
    const end = httpDuration.startTimer({ method: ctx.method });
    try {
      await next();
    } finally {
      end({ route: (ctx as any)._matchedRoute ?? 'unmatched', status: String(ctx.status) });
    }
  };
}

/** Kitchen time (first ticket to the bump) buckets, in seconds. */
export const KITCHEN_BUCKETS = [60, 120, 300, 600, 900, 1200, 1800, 3600] as const;

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
}
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Array<Sample & { suffix?: string }>;
}

const num = (v: unknown) => Number(v ?? 0);

/** The business figures, read in one read-only snapshot so they agree with each other. */
export async function businessMetrics(knex: Knex): Promise<Family[]> {
  return knex.transaction(
    async (trx) => {
      // Ended orders only: an order is counted once, as closed (refunds later do not move it) or cancelled.
      const orders = await trx('orders')
        .whereNotNull('persisted_at')
        .whereNot('status', 'open')
        .groupByRaw('1, 2')
        .select(
          trx.raw("case when status = 'cancelled' then 'cancelled' else 'closed' end as status"),
          'type',
          trx.raw('count(*) as n'),
        );
      // Settled payments; a refunded payment was taken (its refund is in tillflow_refunds_total).
      const payments = await trx('payments')
        .whereNot('status', 'pending')
        .groupByRaw('1, 2')
        .select(
          'method',
          trx.raw("case when status = 'refunded' then 'succeeded' else status end as status"),
          trx.raw('count(*) as n'),
        );
      const pending = await trx('payments')
        .where('status', 'pending')
        .groupBy('method')
        .select('method', trx.raw('count(*) as n'));
      const sales = await trx('payments as p')
        .join('orders as o', 'o.id', 'p.order_id')
        .whereIn('p.status', TAKEN_PAYMENT_STATUSES)
        .groupBy('o.currency', 'p.method')
        .select('o.currency', 'p.method', trx.raw('sum(p.amount) as n'));
      const refunds = await trx('refunds as r')
        .leftJoin('payments as p', 'p.id', 'r.payment_id')
        .whereNot('r.status', 'pending')
        .groupByRaw('1, 2')
        .select(trx.raw("coalesce(p.method, 'cash') as method"), 'r.status', trx.raw('count(*) as n'));
      const kitchen = await kitchenHistogram(trx);
      const pendingBy = new Map(pending.map((r: any) => [r.method as string, num(r.n)]));
      return [
        family('tillflow_orders_total', 'counter', 'Orders ended, by outcome (closed or cancelled) and type', orders, [
          'status',
          'type',
        ]),
        family('tillflow_payments_total', 'counter', 'Payments settled, by method and outcome', payments, [
          'method',
          'status',
        ]),
        family(
          'tillflow_sales_minor_units_total',
          'counter',
          'Money taken (payment amounts, minor units, before refunds), by currency and method',
          sales,
          ['currency', 'method'],
        ),
        family(
          'tillflow_refunds_total',
          'counter',
          'Refunds settled, by the refunded payment method and outcome',
          refunds,
          ['method', 'status'],
        ),
        {
          name: 'tillflow_payments_pending',
          type: 'gauge',
          help: 'Gateway payments waiting for their outcome now, by method',
          samples: PAYMENT_METHODS.map((method) => ({ labels: { method }, value: pendingBy.get(method) ?? 0 })),
        },
        kitchen,
      ];
    },
    { readOnly: true, isolationLevel: 'repeatable read' },
  );
}

function family(name: string, type: Family['type'], help: string, rows: any[], labelNames: string[]): Family {
  return {
    name,
    type,
    help,
    samples: rows.map((r) => ({
      labels: Object.fromEntries(labelNames.map((l) => [l, String(r[l])])),
      value: num(r.n),
    })),
  };
}

/** Seconds from an order's first kitchen ticket to its bump, over every bumped order. */
async function kitchenHistogram(trx: Knex.Transaction): Promise<Family> {
  const perOrder = trx('order_events')
    .whereIn('event', ['kitchen.ticket', 'order.ready'])
    .groupBy('order_id')
    .select(
      trx.raw(
        "extract(epoch from min(created_at) filter (where event = 'order.ready') - min(created_at) filter (where event = 'kitchen.ticket'))::float8 as s",
      ),
    )
    .as('k');
  const row: any = await trx
    .from(perOrder)
    .whereNotNull('s')
    .first([
      ...KITCHEN_BUCKETS.map((b, i) => trx.raw(`count(*) filter (where s <= ?) as b${i}`, [b])),
      trx.raw('coalesce(sum(s), 0) as sum'),
      trx.raw('count(*) as count'),
    ]);
  const buckets = [
    ...KITCHEN_BUCKETS.map((b, i) => ({ le: String(b), value: num(row?.[`b${i}`]) })),
    { le: '+Inf', value: num(row?.count) },
  ];
  return {
    name: 'tillflow_kitchen_seconds',
    type: 'histogram',
    help: "Seconds from an order's first kitchen ticket to the kitchen's bump",
    samples: [
      ...buckets.map((b) => ({ suffix: '_bucket', labels: { le: b.le }, value: b.value })),
      { suffix: '_sum', labels: {}, value: num(row?.sum) },
      { suffix: '_count', labels: {}, value: num(row?.count) },
    ],
  };
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** Prometheus text exposition format (version 0.0.4). */
export function renderFamilies(families: Family[]): string {
  return families
    .map((f) => {
      const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
      for (const s of f.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
        lines.push(`${f.name}${s.suffix ?? ''}${labels.length ? `{${labels.join(',')}}` : ''} ${s.value}`);
      }
      return lines.join('\n') + '\n';
    })
    .join('');
}

/** Everything /metrics serves: this process's figures, then the shared business figures. */
export async function scrape(knex: Knex): Promise<string> {
  const [own, business] = await Promise.all([registry.metrics(), businessMetrics(knex)]);
  return own + '\n' + renderFamilies(business);
}
