import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from './support/harness';
import { seedDemoShop } from '../db/seed';

/**
 * Location scoping is decided in one place (the auth middleware); every route must honour it.
 * This walks every route of the OpenAPI spec with a token of location A (the demo café's admin)
 * against ids of location B (a sister location of the same organisation, with an order, a
 * payment, a refund, catalog, staff, tables, customers, printers, displays, drawers and a stock
 * count of its own) and expects 404 or 403 everywhere: never a 2xx, never any of B's data.
 */
let h: Harness;
let tokenA: string;
/** B's ids by the path segment that names them (the segment before the parameter). */
const idsOfB: Record<string, string> = {};
/** Every id and name of B that must never appear in an answer to A. */
const secretsOfB: string[] = [];

const UNIQUE_BARCODE = '7700000000017';

async function asB(token: string, method: string, path: string, body?: unknown, idempotent = false) {
  const res = await h.api(method, path, {
    token,
    body,
    headers: idempotent ? { 'Idempotency-Key': randomUUID() } : {},
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Location B with one of everything, created through the API by B's own admin. */
async function seedLocationB(): Promise<void> {
  const b = (await seedDemoShop(h.deps.knex, h.deps.config.tokenSecret, { force: true, name: 'Walk B' }))!;
  const { organisation_id } = await h.deps.knex('locations').where('id', h.shop.locationId).first('organisation_id');
  await h.deps.knex('locations').where('id', b.locationId).update({ organisation_id });
  const login = await h.api('POST', '/api/v1/auth/login', { body: { pin: '1234', locationId: b.locationId } });
  const t = login.body.token as string;
  const item = await asB(t, 'POST', '/api/v1/catalog/items', {
    name: 'B-only bun',
    categoryId: b.categories.Food,
    price: 500,
    barcode: UNIQUE_BARCODE,
  });
  const order = await asB(t, 'POST', '/api/v1/orders', {
    type: 'takeaway',
    lines: [{ itemId: b.items.Burger, quantity: 2 }],
  });
  const discounted = await asB(t, 'POST', `/api/v1/orders/${order.id}/discounts`, {
    discountId: b.discounts['$2 off'],
  });
  const payment = await asB(
    t,
    'POST',
    `/api/v1/orders/${order.id}/payments`,
    { method: 'cash', amount: 100, tendered: 100 },
    true,
  );
  const sold = await asB(t, 'POST', '/api/v1/orders', { type: 'takeaway', lines: [{ itemId: item.id, quantity: 1 }] });
  const balance = sold.totals.balance;
  await asB(
    t,
    'POST',
    `/api/v1/orders/${sold.id}/payments`,
    { method: 'cash', amount: balance, tendered: balance },
    true,
  );
  await waitPersisted(sold.id);
  const refund = await asB(t, 'POST', `/api/v1/orders/${sold.id}/refunds`, { reason: 'walk', amount: 100 }, true);
  const table = await asB(t, 'POST', '/api/v1/tables', { name: 'B table', seats: 2 });
  const customer = await asB(t, 'POST', '/api/v1/customers', { name: 'B customer' });
  const printer = await asB(t, 'POST', '/api/v1/printers', {
    name: 'B printer',
    role: 'kitchen',
    address: 'tcp://10.9.9.9:9100',
  });
  const display = await asB(t, 'POST', '/api/v1/displays', { name: 'B display', terminalId: 'b-terminal' });
  const screen = await asB(t, 'POST', '/api/v1/kitchen-screens', { name: 'B screen' });
  const drawer = await asB(t, 'POST', '/api/v1/drawers/b-drawer/sessions', { float: 1000 });
  const count = await asB(t, 'POST', '/api/v1/stock-counts', { itemIds: [b.items.Croissant] }, true);
  const group = await asB(t, 'POST', '/api/v1/discount-groups', { name: 'B group' });
  // Raised by the stock activity when stock runs low; inserted here, as that activity would.
  const [alert] = await h.deps
    .knex('low_stock_alerts')
    .insert({ location_id: b.locationId, item_id: b.items.Croissant, quantity: 1, min_stock: 5 })
    .returning('id');
  Object.assign(idsOfB, {
    alerts: alert.id,
    orders: order.id,
    lines: order.lines[0].id,
    'order-discounts': discounted.discounts[0].id,
    payments: payment.id ?? payment.payment?.id,
    refunds: refund.id ?? refund.refund?.id,
    customers: customer.id,
    discounts: b.discounts['$2 off'],
    displays: display.id ?? display.display?.id,
    'kitchen-screens': screen.id ?? screen.screen?.id,
    drawers: 'b-drawer',
    sessions: drawer.id,
    locations: b.locationId,
    printers: printer.id,
    staff: b.staff.Cashier,
    tables: table.id,
    categories: b.categories.Food,
    items: item.id,
    'modifier-lists': b.modifierLists.Size,
    barcode: UNIQUE_BARCODE,
    'stock-counts': count.id,
    'discount-groups': group.id,
  });
  secretsOfB.push(
    ...Object.values(idsOfB).filter((v) => v !== 'b-drawer'),
    b.locationId,
    'B-only bun',
    'B table',
    'B customer',
  );
  secretsOfB.push('B printer', 'B display', 'Walk B');
}

async function waitPersisted(orderId: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const row = await h.deps.knex('orders').where({ id: orderId }).first('persisted_at');
    if (row?.persisted_at) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`order ${orderId} was never persisted`);
}

beforeAll(async () => {
  h = await startHarness();
  tokenA = await h.login('1234');
  await seedLocationB();
});
afterAll(() => h?.close());

type JsonSchema = Record<string, any>;

/** A body valid by the spec (so validation does not answer first), with ids of B wherever an id goes. */
function example(schema: JsonSchema, spec: JsonSchema): unknown {
  if (schema.$ref) return example(spec.components.schemas[schema.$ref.split('/').pop()], spec);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s: JsonSchema) => example(s, spec)));
  if (schema.anyOf ?? schema.oneOf) return example((schema.anyOf ?? schema.oneOf)[0], spec);
  if (schema.enum) return schema.enum.find((v: unknown) => v !== null);
  const type = [schema.type].flat().find((t) => t !== 'null');
  if (type === 'object') {
    const props: Record<string, JsonSchema> = schema.properties ?? {};
    const keys: string[] = schema.required?.length ? schema.required : Object.keys(props).slice(0, 1);
    return Object.fromEntries(keys.map((k) => [k, example(props[k] ?? { type: 'string' }, spec)]));
  }
  if (type === 'array') return schema.minItems ? [example(schema.items ?? {}, spec)] : [];
  if (type === 'integer' || type === 'number') return Math.max(schema.minimum ?? 1, 1);
  if (type === 'boolean') return true;
  // A's own ids in bodies: only the path names something of B, so the answer is about that.
  if (schema.format === 'uuid' || /\[0-9a-f\]\{8\}/i.test(schema.pattern ?? '')) return h.shop.items.Burger;
  if (schema.format === 'date') return '2026-01-01';
  if (schema.format === 'date-time') return '2026-01-01T00:00:00Z';
  if (schema.format === 'email') return 'walk@example.com';
  if (schema.pattern && /\\d/.test(schema.pattern)) return '1234';
  return 'walk';
}

/** The path with every parameter replaced by the id of B that its segment names. */
function pathForB(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, _name, offset: number) => {
    const segments = path.slice(0, offset).split('/').filter(Boolean);
    const owner = segments[segments.length - 1]!;
    const key = owner === 'discounts' && segments.includes('orders') ? 'order-discounts' : owner;
    const id = idsOfB[key];
    if (!id) throw new Error(`No id of B for the parameter after /${owner}/ in ${path}: add one to seedLocationB`);
    return encodeURIComponent(id);
  });
}

/**
 * Bodies valid at A that the generator cannot make: rules the spec states conditionally, and ids
 * of A's own of a kind other than an item.
 */
const bodies = (): Record<string, unknown> => ({
  'post /api/v1/orders/{id}/payments': { method: 'cash', amount: 100, tendered: 100 },
  'post /api/v1/orders/{id}/discounts': { discountId: h.shop.discounts['$2 off'] },
  'post /api/v1/stock-counts/{id}/counts': { itemId: h.shop.items.Croissant, counted: 1 },
});

/** The required query parameters of an operation, each with an example value. */
function queryFor(op: JsonSchema, spec: JsonSchema): string {
  const required = (op.parameters ?? []).filter((p: JsonSchema) => p.in === 'query' && p.required);
  const pairs = required.map((p: JsonSchema) => `${p.name}=${encodeURIComponent(String(example(p.schema, spec)))}`);
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** Routes whose parameter is a name chosen by the client, not an id B owns: A may use the same name for its own. */
const NAMED_BY_CLIENT = new Set([
  'get /api/v1/drawers/{drawerId}/sessions',
  'post /api/v1/drawers/{drawerId}/sessions',
]);

it('answers every route with a token of location A against ids of location B with 404 or 403, never B data', async () => {
  const spec = (await h.api('GET', '/openapi.json')).body;
  const BODIES = bodies();
  const answers: string[] = [];
  let walked = 0;
  for (const [path, ops] of Object.entries<Record<string, JsonSchema>>(spec.paths)) {
    if (!path.includes('{')) continue;
    for (const [method, op] of Object.entries(op0(ops))) {
      if (Array.isArray(op.security) && op.security.length === 0) continue; // public: no location behind a token
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const res = await h.api(method.toUpperCase(), pathForB(path) + queryFor(op, spec), {
        token: tokenA,
        body: BODIES[`${method} ${path}`] ?? (bodySchema ? example(bodySchema, spec) : undefined),
        headers: { 'Idempotency-Key': randomUUID() },
      });
      walked++;
      const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '');
      const leaked = secretsOfB.filter((s) => text.includes(s));
      const allowed = NAMED_BY_CLIENT.has(`${method} ${path}`)
        ? res.status < 300 || [403, 404].includes(res.status)
        : [403, 404].includes(res.status);
      if (!allowed || leaked.length)
        answers.push(
          `${method.toUpperCase()} ${path} → ${res.status} ${leaked.length ? `leaks ${leaked}` : text.slice(0, 200)}`,
        );
    }
  }
  expect(walked).toBeGreaterThan(40);
  expect(answers).toEqual([]);
});

/** The operations of a path item (its other keys, e.g. parameters, are not methods). */
function op0(ops: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const methods = ['get', 'post', 'put', 'patch', 'delete'];
  return Object.fromEntries(Object.entries(ops).filter(([m]) => methods.includes(m)));
}
