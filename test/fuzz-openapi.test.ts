import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startHarness, Harness } from './support/harness';
import { ensureSchemathesis } from './support/schemathesis';

/**
 * Schemathesis fuzzes every operation of /openapi.json against a live Tillflow (real API, Temporal
 * and Postgres) as admin. It fails on any 5xx and on any response the spec does not describe
 * (status code, content type, body schema), on a spec-valid request refused for its shape, and on
 * an undeclared method not answered 405. Examples per operation are capped to keep the run within
 * a few minutes on a shared 2-core machine; TILLFLOW_FUZZ_EXAMPLES / TILLFLOW_FUZZ_SEED override.
 */
const EXAMPLES = process.env.TILLFLOW_FUZZ_EXAMPLES ?? '25';
const SEED = process.env.TILLFLOW_FUZZ_SEED ?? '20261201';
/**
 * About 11,000 cases: 330 s alone on this 2-core machine (2026-12-03), and more than 420 s in CI,
 * where the other suites run beside it on the same cores. The cap is for a fuzzer that hangs, not
 * a deadline for a slow machine.
 */
const FUZZ_TIMEOUT_MS = 900_000;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'positive_data_acceptance',
  'unsupported_method',
];
/**
 * Logging out would revoke the fuzzer's own token for every operation after it (auth.test.ts tests
 * it); discovery listens up to 10 s per request and answers 503 with mDNS off (devices.test.ts).
 */
const EXCLUDED_PATHS = ['/api/v1/auth/logout', '/api/v1/devices/discover'];
/**
 * Operations whose 422 may also come from rules no schema can state: ids that must exist in this
 * location's catalog or on the order (the order's workflow answers an unknown line or discount
 * with 422), cart rules, gateways configured here, end not before start. Everywhere else
 * a spec-valid request must never be a 422.
 */
const BUSINESS_RULE_422 = [
  'POST /api/v1/catalog/items',
  'PATCH /api/v1/catalog/items/{id}',
  'POST /api/v1/catalog/modifier-lists',
  'PATCH /api/v1/catalog/modifier-lists/{id}',
  'POST /api/v1/discounts',
  'PATCH /api/v1/discounts/{id}',
  'POST /api/v1/orders',
  'POST /api/v1/orders/{id}/lines',
  'PATCH /api/v1/orders/{id}/lines/{lineId}',
  'DELETE /api/v1/orders/{id}/lines/{lineId}',
  'DELETE /api/v1/orders/{id}/discounts/{discountId}',
  'POST /api/v1/orders/{id}/discounts',
  'POST /api/v1/orders/{id}/payments',
  'GET /api/v1/reports/range',
  'GET /api/v1/staff/{id}/shifts',
  // The item must exist in this location (and, for counts, be part of the count).
  'POST /api/v1/inventory/adjustments',
  'POST /api/v1/stock-counts',
  'POST /api/v1/stock-counts/{id}/counts',
  // Lines must be the order's, the amount within what is refundable, the gateway's rules met.
  'POST /api/v1/orders/{id}/refunds',
  // A bump names a kitchen screen that must exist in this location.
  'POST /api/v1/orders/{id}/ready',
  // Opaque cursors: only one the API handed out names a position (a forged one is a 422).
  'GET /api/v1/audit',
  'GET /api/v1/inventory/movements',
  'GET /api/v1/payments',
  // The PIN length depends on the member's current role when only the PIN changes.
  'PATCH /api/v1/staff/{id}',
  // Station categories must be this location's; the backup a printer here whose chain never loops back.
  'POST /api/v1/printers',
  'PATCH /api/v1/printers/{id}',
  // End not before start, at most 366 days (as the range report).
  'GET /api/v1/reports/items',
  'GET /api/v1/reports/staff',
  // The table and customer must exist (and the table be in use); split lines must be the order's.
  'PATCH /api/v1/orders/{id}',
  'POST /api/v1/orders/{id}/split',
];

const first = (ids: Record<string, string>) => Object.values(ids)[0]!;

/**
 * Real ids for reads and changes, so those operations reach the database instead of answering 404
 * (deletes keep random ids: they would remove what the others work on). Staff changes go to a
 * staff member of their own: the fuzzer also learns ids from responses, and an admin may change
 * their own role, which would take the fuzzer's rights away halfway through the run.
 */
function realIds(victimStaffId: string, printerId: string): Array<[string, string]> {
  const { shop } = h;
  const byPath: Array<[string, string]> = [
    ['/api/v1/catalog/categories/{id}', first(shop.categories)],
    ['/api/v1/catalog/items/{id}', first(shop.items)],
    ['/api/v1/catalog/modifier-lists/{id}', first(shop.modifierLists)],
    ['/api/v1/discounts/{id}', first(shop.discounts)],
    ['/api/v1/printers/{id}', printerId],
  ];
  return [
    ...byPath.flatMap(([p, id]): Array<[string, string]> => [
      [`GET ${p}`, id],
      [`PATCH ${p}`, id],
    ]),
    ['PATCH /api/v1/staff/{id}', victimStaffId],
    ['DELETE /api/v1/staff/{id}', victimStaffId],
  ];
}

/** schemathesis.toml: the business-rule operations may answer 422 to spec-valid data; real ids. */
function configFile(ids: Array<[string, string]>): string {
  const statuses = ['2XX', '401', '403', '404', '409', '422', '429'].map((s) => JSON.stringify(s)).join(', ');
  const toml = [
    ...BUSINESS_RULE_422.map(
      (name) =>
        `[[operations]]\ninclude-name = ${JSON.stringify(name)}\nchecks.positive_data_acceptance.expected-statuses = [${statuses}]\n`,
    ),
    ...ids.map(([name, id]) => `[[operations]]\ninclude-name = "${name}"\nparameters = { "path.id" = "${id}" }\n`),
  ].join('\n');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tillflow-fuzz-')), 'schemathesis.toml');
  fs.writeFileSync(file, toml);
  return file;
}

/**
 * Limits the fuzzer would trip over by design. The harness already raises the rate limits
 * (TEST_LIMITS); orders the fuzzer opens must not pile up as open workflows.
 */
const FUZZ_ENV = {
  TILLFLOW_ORDER_ABANDON_MINUTES: '1',
};

let h: Harness;
let cli: string;
beforeAll(async () => {
  // No printing worker: the fuzzer adds printers at any address the spec allows, and nothing may
  // send tickets to hosts it made up.
  [h, cli] = await Promise.all([startHarness({ env: FUZZ_ENV, printingWorker: false }), ensureSchemathesis()]);
}, 600_000);
afterAll(async () => h?.close());

/** Runs in `cwd` (a temp dir): schemathesis keeps its own state in ./.schemathesis. */
function runSchemathesis(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('OpenAPI fuzzing (schemathesis)', () => {
  it(
    'finds no server error and no response outside /openapi.json in any operation',
    async () => {
      const token = await h.login('1234');
      const victim = await h.api('POST', '/api/v1/staff', {
        token,
        body: { name: 'Fuzz target', role: 'cashier', pin: '9876' },
      });
      const printer = await h.api('POST', '/api/v1/printers', {
        token,
        body: { name: 'Fuzz', role: 'kitchen', address: 'tcp://127.0.0.1:9' },
      });
      expect([victim.status, printer.status]).toEqual([201, 201]);
      const config = configFile(realIds(victim.body.id, printer.body.id));
      const args = [
        '--config-file',
        config,
        'run',
        `${h.baseUrl}/openapi.json`,
        '--checks',
        CHECKS.join(','),
        '--max-examples',
        EXAMPLES,
        '--seed',
        SEED,
        '--phases',
        'examples,coverage,fuzzing',
        '--workers',
        '2',
        '--generation-database',
        'none',
        '--no-color',
        '--header',
        `Authorization: Bearer ${token}`,
        ...EXCLUDED_PATHS.flatMap((p) => ['--exclude-path', p]),
      ];
      const { code, output } = await runSchemathesis(args, path.dirname(config)).finally(() =>
        fs.rmSync(path.dirname(config), { recursive: true, force: true }),
      );
      if (code !== 0) throw new Error(`schemathesis found failures (exit ${code}):\n${output}`);
      // Its warnings (operations it could not reach far) and summary (operations, phases, cases, time).
      const tail = ['WARNINGS', 'SUMMARY'].map((t) => output.search(new RegExp(`=+ ${t} =+`))).filter((i) => i >= 0);
      console.log(output.slice(tail.length ? Math.min(...tail) : -3000));
      expect(output).toMatch(/passed/i);
    },
    FUZZ_TIMEOUT_MS,
  );
});
