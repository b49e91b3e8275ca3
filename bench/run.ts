/**
 * What every bench's entry point does alike: a stop request on Ctrl-C or SIGTERM (the phases end
 * and the stack is torn down; a second one forces exit), a hard ceiling so a bench always stops by
 * itself, and the process's exit code from main's.
 */
export const stop = { requested: false };

export function installStopSignals(): void {
  const onSignal = () => {
    if (stop.requested) process.exit(130);
    stop.requested = true;
    console.error('\n[bench] stopping: finishing in-flight operations and tearing down (Ctrl-C again to force)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Runs `main` and exits with its code (`thrownCode` when it throws); exit 2 once `ceilingMs` has passed. */
export function runBench(main: () => Promise<number>, ceilingMs: number, thrownCode = 1): void {
  setTimeout(() => {
    console.error(`[bench] still running after ${ceilingMs / 1000} s: giving up`);
    process.exit(2);
  }, ceilingMs).unref();
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(thrownCode);
    },
  );
}
