import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as yup from 'yup';
import { DEFAULT_PAYMENT_TIMING, type PaymentTiming } from '../core/payment';

/** Thrown for configuration a person must fix; the launcher prints its message, not a stack trace. */
export class ConfigError extends Error {}

/** Where the embedded PostgreSQL, the dev server's SQLite and the token secret live by default. */
export const DEFAULT_DATA_DIR = '.data';

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  temporalAddress?: string;
  temporalNamespace: string;
  dataDir: string;
  tokenSecret: string;
  /** A staff session's life: each refresh token lasts this long, and a refresh renews it. */
  tokenTtlSeconds: number;
  /** An access token's life (short: a terminal that stays logged in refreshes it). */
  accessTokenTtlSeconds: number;
  /** A staff session's absolute limit from login: refreshing renews it only up to here, then the PIN again. */
  sessionMaxAgeSeconds: number;
  taskQueue: string;
  publicBaseUrl?: string;
  /** Cancel an untouched open order (no payment taken) after this long. */
  orderAbandonAfterMs?: number;
  /** Cancel an open stock count nobody touched for this long. */
  stockCountAbandonAfterMs: number;
  /** Airtel posts every callback to one URL set in its portal: /webhooks/airtel/<this token>. */
  airtelCallbackToken?: string;
  /** How gateway payments wait: callback, status polling, expiry, late-success window. */
  paymentTiming: PaymentTiming;
  /** How print jobs retry an unreachable printer. */
  print: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
  temporalUiUrl?: string;
  /**
   * Advertise the API over mDNS (`_pos._tcp`) and allow device discovery (multicast on the LAN).
   * TILLFLOW_MDNS=on|off|auto; auto is on except under NODE_ENV=test or CI. Only processes that
   * serve the API (TILLFLOW_ROLE all/api) use it.
   */
  mdns: boolean;
  /** Wrong PINs per location and hour before PIN checks there are slowed (not refused), and the spacing then. */
  pinGuard: { failuresPerLocationHour: number; slowdownMs: number };
  /**
   * General request limits (0 = off): per client IP for requests without a valid token, per
   * session for requests with one; and PIN changes per acting staff member in 10 minutes.
   */
  rateLimit: { ipPerMinute: number; tokenPerMinute: number; pinChangesPer10Min: number };
  /** Wrong refresh tokens per client IP in 5 minutes before it is refused (429) until they age out. */
  refreshGuard: { failuresPer5Min: number };
  /**
   * Gateways without credentials run against local simulators. TILLFLOW_PAYMENTS_SANDBOX; the
   * default is on, except under NODE_ENV=production where only an explicit `true` enables it.
   */
  paymentsSandbox: boolean;
  /** TILLFLOW_SEED_DEMO: true/false forces it; unset seeds only the embedded default database. */
  seedDemo?: boolean;
  /** TILLFLOW_PG_PREPARED_STATEMENTS: the hot path's statements are prepared once per connection (db/prepared.ts). */
  pgPreparedStatements: boolean;
  /** When set, GET /metrics needs `Authorization: Bearer <this>`. */
  metricsToken?: string;
  /** host:port where a worker process serves the Temporal SDK's Prometheus metrics (off when unset). */
  workerMetricsAddress?: string;
  /**
   * TILLFLOW_WORKFLOW_BUNDLE: a workflow bundle built ahead (bundleWorkflowCode), so a worker
   * starts without bundling the workflows itself (seconds on a Pi or a busy box). Unset: bundled at start.
   */
  workflowBundlePath?: string;
  /** SMTP_URL / SMTP_FROM: where e-mailed receipts go out (unset: e-mail receipts answer 503). */
  smtp?: SmtpConfig;
}

export interface SmtpConfig {
  url: string;
  from: string;
}

const envSchema = yup.object({
  PORT: yup.number().integer().min(0).max(65535).default(8000),
  HOST: yup.string().default('0.0.0.0'),
  DATABASE_URL: yup
    .string()
    .optional()
    .test(
      'pg-url',
      'DATABASE_URL must be a postgres:// or postgresql:// URL',
      (v) => !v || /^postgres(ql)?:\/\/.+/.test(v),
    ),
  TEMPORAL_ADDRESS: yup
    .string()
    .optional()
    .matches(/^[^\s:]+:\d{1,5}$/, 'TEMPORAL_ADDRESS must look like host:port, e.g. localhost:7233'),
  TEMPORAL_NAMESPACE: yup
    .string()
    .matches(/^[A-Za-z0-9._-]+$/, 'TEMPORAL_NAMESPACE may use letters, digits, . _ -')
    .optional(),
  TILLFLOW_DATA_DIR: yup.string().default(DEFAULT_DATA_DIR),
  TILLFLOW_TOKEN_SECRET: yup.string().min(32, 'TILLFLOW_TOKEN_SECRET must be at least 32 characters').optional(),
  TILLFLOW_TOKEN_TTL_SECONDS: yup
    .number()
    .integer()
    .min(60)
    .default(12 * 3600),
  TILLFLOW_ACCESS_TOKEN_TTL_SECONDS: yup
    .number()
    .integer()
    .min(1)
    .default(15 * 60),
  // A shift plus margin; fractions allowed (0.5 = 30 min), at most 31 days.
  TILLFLOW_SESSION_MAX_AGE_HOURS: yup
    .number()
    .positive('TILLFLOW_SESSION_MAX_AGE_HOURS must be more than 0')
    .max(744, 'TILLFLOW_SESSION_MAX_AGE_HOURS must be at most 744 (31 days)')
    .default(16),
  TILLFLOW_TASK_QUEUE: yup.string().default('tillflow'),
  PUBLIC_BASE_URL: yup.string().url('PUBLIC_BASE_URL must be a URL').optional(),
  TEMPORAL_UI_URL: yup.string().url('TEMPORAL_UI_URL must be a URL').optional(),
  TILLFLOW_PRINT_MAX_ATTEMPTS: yup.number().integer().min(1).default(30),
  TILLFLOW_PRINT_BACKOFF_MS: yup.number().integer().min(10).default(2000),
  TILLFLOW_PRINT_MAX_BACKOFF_MS: yup.number().integer().min(10).default(60_000),
  AIRTEL_CALLBACK_TOKEN: yup
    .string()
    .matches(/^[A-Za-z0-9_-]{16,64}$/, 'AIRTEL_CALLBACK_TOKEN must be 16-64 letters, digits, _ or -')
    .optional(),
  TILLFLOW_PAYMENT_CALLBACK_WAIT_MS: yup.number().integer().min(10).default(DEFAULT_PAYMENT_TIMING.callbackWaitMs),
  TILLFLOW_PAYMENT_POLL_MS: yup.number().integer().min(10).default(DEFAULT_PAYMENT_TIMING.pollInitialMs),
  TILLFLOW_PAYMENT_POLL_MAX_MS: yup.number().integer().min(10).default(DEFAULT_PAYMENT_TIMING.pollMaxMs),
  TILLFLOW_PAYMENT_EXPIRE_MS: yup.number().integer().min(100).default(DEFAULT_PAYMENT_TIMING.expireAfterMs),
  TILLFLOW_PAYMENT_LATE_WINDOW_MS: yup.number().integer().min(0).default(DEFAULT_PAYMENT_TIMING.lateWindowMs),
  TILLFLOW_MDNS: yup
    .string()
    .oneOf(['auto', 'on', 'off'], 'TILLFLOW_MDNS must be one of auto, on, off')
    .default('auto'),
  TILLFLOW_PIN_FAILURES_PER_LOCATION_HOUR: yup.number().integer().min(1).default(100),
  TILLFLOW_PIN_SLOWDOWN_MS: yup.number().integer().min(0).max(60_000).default(5_000),
  TILLFLOW_RATE_LIMIT_IP_PER_MINUTE: yup.number().integer().min(0).default(1200),
  TILLFLOW_RATE_LIMIT_TOKEN_PER_MINUTE: yup.number().integer().min(0).default(600),
  TILLFLOW_RATE_LIMIT_PIN_CHANGES: yup.number().integer().min(1).default(5),
  TILLFLOW_RATE_LIMIT_REFRESH_FAILURES: yup.number().integer().min(1).default(10),
  TILLFLOW_PAYMENTS_SANDBOX: yup
    .string()
    .oneOf(['true', 'false'], 'TILLFLOW_PAYMENTS_SANDBOX must be true or false')
    .optional(),
  TILLFLOW_SEED_DEMO: yup.string().oneOf(['true', 'false'], 'TILLFLOW_SEED_DEMO must be true or false').optional(),
  TILLFLOW_PG_PREPARED_STATEMENTS: yup
    .string()
    .oneOf(['true', 'false'], 'TILLFLOW_PG_PREPARED_STATEMENTS must be true or false')
    .default('true'),
  TILLFLOW_ORDER_ABANDON_MINUTES: yup
    .number()
    .integer()
    .min(1, 'TILLFLOW_ORDER_ABANDON_MINUTES must be at least 1')
    .default(12 * 60),
  METRICS_TOKEN: yup.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  TILLFLOW_WORKER_METRICS_ADDRESS: yup
    .string()
    .optional()
    .matches(/^[^\s:]+:\d{1,5}$/, 'TILLFLOW_WORKER_METRICS_ADDRESS must look like host:port, e.g. 0.0.0.0:9464'),
  TILLFLOW_WORKFLOW_BUNDLE: yup.string().optional(),
  SMTP_URL: yup
    .string()
    .optional()
    .matches(/^smtps?:\/\/[^\s]+$/, 'SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465'),
  SMTP_FROM: yup.string().default('Tillflow receipts <receipts@localhost>'),
  TILLFLOW_STOCK_COUNT_ABANDON_HOURS: yup
    .number()
    .integer()
    .min(1, 'TILLFLOW_STOCK_COUNT_ABANDON_HOURS must be at least 1')
    .default(24),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaultNamespace = 'tillflow'): Config {
  let e: yup.InferType<typeof envSchema>;
  try {
    e = envSchema.validateSync(emptyToUndefined(env), { abortEarly: false, stripUnknown: true });
  } catch (err) {
    if (err instanceof yup.ValidationError) {
      throw new ConfigError(`Invalid configuration:\n  - ${err.errors.join('\n  - ')}`);
    }
    throw err;
  }
  const dataDir = path.resolve(e.TILLFLOW_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE ?? defaultNamespace,
    dataDir,
    tokenSecret: e.TILLFLOW_TOKEN_SECRET ?? persistedSecret(dataDir),
    tokenTtlSeconds: e.TILLFLOW_TOKEN_TTL_SECONDS,
    accessTokenTtlSeconds: e.TILLFLOW_ACCESS_TOKEN_TTL_SECONDS,
    sessionMaxAgeSeconds: Math.max(1, Math.round(e.TILLFLOW_SESSION_MAX_AGE_HOURS * 3600)),
    taskQueue: e.TILLFLOW_TASK_QUEUE,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    temporalUiUrl: e.TEMPORAL_UI_URL,
    orderAbandonAfterMs: e.TILLFLOW_ORDER_ABANDON_MINUTES * 60_000,
    stockCountAbandonAfterMs: e.TILLFLOW_STOCK_COUNT_ABANDON_HOURS * 3600_000,
    airtelCallbackToken: e.AIRTEL_CALLBACK_TOKEN,
    paymentTiming: {
      callbackWaitMs: e.TILLFLOW_PAYMENT_CALLBACK_WAIT_MS,
      pollInitialMs: e.TILLFLOW_PAYMENT_POLL_MS,
      pollMaxMs: e.TILLFLOW_PAYMENT_POLL_MAX_MS,
      expireAfterMs: e.TILLFLOW_PAYMENT_EXPIRE_MS,
      lateWindowMs: e.TILLFLOW_PAYMENT_LATE_WINDOW_MS,
    },
    print: {
      maxAttempts: e.TILLFLOW_PRINT_MAX_ATTEMPTS,
      initialBackoffMs: e.TILLFLOW_PRINT_BACKOFF_MS,
      maxBackoffMs: e.TILLFLOW_PRINT_MAX_BACKOFF_MS,
    },
    mdns: e.TILLFLOW_MDNS === 'on' || (e.TILLFLOW_MDNS === 'auto' && !isTestOrCi(env)),
    pinGuard: {
      failuresPerLocationHour: e.TILLFLOW_PIN_FAILURES_PER_LOCATION_HOUR,
      slowdownMs: e.TILLFLOW_PIN_SLOWDOWN_MS,
    },
    rateLimit: {
      ipPerMinute: e.TILLFLOW_RATE_LIMIT_IP_PER_MINUTE,
      tokenPerMinute: e.TILLFLOW_RATE_LIMIT_TOKEN_PER_MINUTE,
      pinChangesPer10Min: e.TILLFLOW_RATE_LIMIT_PIN_CHANGES,
    },
    refreshGuard: { failuresPer5Min: e.TILLFLOW_RATE_LIMIT_REFRESH_FAILURES },
    // Production never simulates payments by accident: only an explicit `true` turns the sandbox on.
    paymentsSandbox: e.TILLFLOW_PAYMENTS_SANDBOX
      ? e.TILLFLOW_PAYMENTS_SANDBOX === 'true'
      : env.NODE_ENV !== 'production',
    seedDemo: e.TILLFLOW_SEED_DEMO === undefined ? undefined : e.TILLFLOW_SEED_DEMO === 'true',
    pgPreparedStatements: e.TILLFLOW_PG_PREPARED_STATEMENTS === 'true',
    metricsToken: e.METRICS_TOKEN,
    workerMetricsAddress: e.TILLFLOW_WORKER_METRICS_ADDRESS,
    workflowBundlePath: e.TILLFLOW_WORKFLOW_BUNDLE || undefined,
    smtp: e.SMTP_URL ? { url: e.SMTP_URL, from: e.SMTP_FROM } : undefined,
  };
}

/** Tests and CI never send multicast unless TILLFLOW_MDNS=on says so. */
function isTestOrCi(env: NodeJS.ProcessEnv): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return env.NODE_ENV === 'test' || (ci !== '' && ci !== 'false' && ci !== '0');
}

function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
}

/** A secret generated once and kept under the data dir, so tokens and PIN lookups survive restarts. */
function persistedSecret(dataDir: string): string {
  const file = path.join(dataDir, 'token-secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    try {
      fs.mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      throw new ConfigError(`TILLFLOW_DATA_DIR ${dataDir} cannot be created: ${(err as Error).message}`);
    }
    const secret = randomBytes(32).toString('hex');
    fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
    return secret;
  }
}
