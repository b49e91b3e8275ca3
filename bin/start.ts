/**
 * `npm start`: the whole of Tillflow in one process (see launcher/launcher.ts and README.md).
 * First SIGINT/SIGTERM/SIGHUP stops everything in order and exits 0; a second one forces exit.
 */
import { ConfigError } from '../platform/config';
import { logger } from '../platform/logger';
import { LaunchAborted, LaunchError, Launcher } from '../launcher/launcher';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
/** A graceful stop that takes longer than this is forced. */
const STOP_DEADLINE_MS = 60_000;

let exitCode = 0;
let stopping: Promise<void> | undefined;

const launcher = new Launcher({
  onFatal: (err) => {
    logger.error({ err }, 'a component failed; shutting down');
    exitCode = 1;
    void shutdown('component failure');
  },
});

function shutdown(reason: string): Promise<void> {
  stopping ??= (async () => {
    logger.info({ reason }, 'shutting down (signal again to force)');
    const force = setTimeout(() => forceExit('graceful stop took too long'), STOP_DEADLINE_MS);
    force.unref();
    await launcher.stop();
    clearTimeout(force);
    logger.info({ exitCode }, 'stopped');
    process.exit(exitCode);
  })();
  return stopping;
}

function forceExit(reason: string, code = 1): never {
  logger.warn({ reason }, 'forcing exit');
  launcher.killChildrenSync(true);
  process.exit(code);
}

for (const signal of SIGNALS) {
  process.on(signal, () => {
    if (stopping) forceExit(`second ${signal}`, 128 + (SIGNAL_NUMBERS[signal] ?? 0));
    void shutdown(signal);
  });
}
process.on('uncaughtException', (err) => {
  logger.fatal({ err }, 'uncaught exception');
  exitCode = 1;
  void shutdown('uncaught exception');
});
process.on('unhandledRejection', (err) => {
  logger.fatal({ err }, 'unhandled promise rejection');
  exitCode = 1;
  void shutdown('unhandled rejection');
});
// Whatever ends the process, no Postgres or Temporal child is left running.
process.on('exit', () => launcher.killChildrenSync(false));

// Under `npm start`, `kill <npm pid>` reaches only npm's `sh -c`, which dies and leaves this process
// running without a parent: treat losing the parent like SIGTERM. (Ctrl-C signals the whole group.)
if (process.env.npm_lifecycle_event) {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process (npm) exited');
  }, 1_000).unref();
}

launcher.start().catch((err: unknown) => {
  if (err instanceof LaunchAborted) return; // a signal arrived while starting; shutdown() exits
  if (launcher.stopRequested) {
    logger.warn({ err }, 'start-up failed while shutting down');
    return;
  }
  if (err instanceof ConfigError || err instanceof LaunchError) {
    process.stderr.write(`tillflow: ${err.message}\n`);
  } else {
    logger.fatal({ err }, 'tillflow failed to start');
  }
  // start() has already stopped whatever it had started.
  process.exit(1);
});
