import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export interface DevServerConfig {
  cli: { module: string; version: string };
  namespace: string;
  ip: string;
  port: number;
  uiPort: number;
  dbFile: string;
  /** Pragmas of the SQLite file (only used with a data dir; the in-memory test server has none). */
  sqlitePragmas: Record<string, string | number>;
  logLevel: string;
  searchAttributes: Record<string, string>;
  dynamicConfig: Record<string, string | number | boolean>;
}

export function loadDevServerConfig(file = findConfigFile()): DevServerConfig {
  const raw = parse(fs.readFileSync(file, 'utf8')) as Partial<DevServerConfig>;
  const required = ['cli', 'namespace', 'port', 'uiPort', 'searchAttributes'] as const;
  for (const key of required) {
    if (raw[key] === undefined) throw new Error(`${file}: missing "${key}"`);
  }
  return {
    ip: '127.0.0.1',
    dbFile: 'temporal.sqlite',
    logLevel: 'warn',
    dynamicConfig: {},
    sqlitePragmas: {},
    ...raw,
  } as DevServerConfig;
}

/** temporal-dev.yml sits at the repo root, both when running from source and from dist/. */
function findConfigFile(): string {
  for (const dir of [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')]) {
    const f = path.join(dir, 'temporal-dev.yml');
    if (fs.existsSync(f)) return f;
  }
  throw new Error('temporal-dev.yml not found next to package.json');
}
