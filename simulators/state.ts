/**
 * Where a simulator keeps what it knows (payments, sessions, idempotency keys, …). By default a
 * fresh in-memory Map per name; the standalone sandbox (`npm run sandbox`, cluster/sandbox.ts)
 * passes a store that is written to a state file, so a restarted sandbox still knows every charge.
 * Pending timers (a reader that has not answered yet) are not state and do not survive a restart.
 */
export interface SimState {
  /** The Map kept under this name (the same Map for the same name). */
  map<V>(name: string): Map<string, V>;
}

export function memoryState(): SimState {
  const maps = new Map<string, Map<string, unknown>>();
  return {
    map<V>(name: string) {
      if (!maps.has(name)) maps.set(name, new Map<string, unknown>());
      return maps.get(name) as Map<string, V>;
    },
  };
}
