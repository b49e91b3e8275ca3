import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type { SimState } from '../simulators/state';

/**
 * A SimState kept in one file. Everything (every simulator's Maps and the sandbox's own settings)
 * is serialised together with v8's structured clone, which keeps Maps and shared objects (Square's
 * payment by id and by idempotency key are one object) as they were. The simulators change their
 * objects in place, so instead of tracking writes the store snapshots every `intervalMs` and
 * rewrites the file (atomically) only when the bytes changed; `flush()` writes at once.
 */
export interface FileState extends SimState {
  readonly file: string;
  /** Small settings of the sandbox itself (secrets, webhook base), kept in the same file. */
  meta: Record<string, string | undefined>;
  flush(): void;
  close(): void;
}

interface Stored {
  version: 1;
  meta: Record<string, string | undefined>;
  maps: Map<string, Map<string, unknown>>;
}

export function openFileState(file: string, intervalMs = 100): FileState {
  const stored = read(file);
  let last: Buffer | undefined;
  const flush = () => {
    const bytes = v8.serialize(stored);
    if (last && bytes.equals(last)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file + '.tmp', bytes, { mode: 0o600 });
    fs.renameSync(file + '.tmp', file);
    last = bytes;
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return {
    file,
    meta: stored.meta,
    map<V>(name: string) {
      if (!stored.maps.has(name)) stored.maps.set(name, new Map<string, unknown>());
      return stored.maps.get(name) as Map<string, V>;
    },
    flush,
    close() {
      clearInterval(timer);
      flush();
    },
  };
}

function read(file: string): Stored {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, meta: {}, maps: new Map() };
    throw err;
  }
  const value = v8.deserialize(bytes) as Stored;
  if (value?.version !== 1 || !(value.maps instanceof Map))
    throw new Error(`${file} is not a Tillflow sandbox state file`);
  return value;
}
