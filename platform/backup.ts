import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { DEFAULT_DATA_DIR } from './config';
import { isAlive } from './processes';

/**
 * Backups of a data dir (embedded PostgreSQL 18, the Temporal dev server's SQLite, the token
 * secret) taken while nothing runs on it: the embedded package ships no pg_dump or pg_basebackup
 * (and Debian's pg_dump 15 refuses a server 18), and SQLite's file may only be copied while no one
 * writes it. A copy of a stopped data dir is consistent, PostgreSQL and Temporal with each other
 * too, which no pair of online copies taken one after the other would be.
 */
export class BackupError extends Error {}

export const MANIFEST = 'tillflow-backup.json';
/** Process locks, not data: a restored one would name some other process on the new machine. */
const PID_FILES = ['tillflow.pid', path.join('postgres', 'postmaster.pid'), path.join('temporal', 'temporal.pid')];

interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}
export interface Manifest {
  format: 1;
  takenAt: string;
  dataDir: string;
  postgresVersion: string | null;
  files: ManifestFile[];
}

export function dataDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.TILLFLOW_DATA_DIR || DEFAULT_DATA_DIR);
}

/** Refuses a data dir some process still uses (the launcher, its PostgreSQL or its dev server). */
function assertNothingRunsOn(dataDir: string): void {
  for (const file of PID_FILES) {
    const pid = Number.parseInt(readOr(path.join(dataDir, file), '').split('\n')[0] ?? '', 10);
    if (pid > 0 && isAlive(pid)) {
      throw new BackupError(
        `Tillflow is running on ${dataDir} (${file}: pid ${pid}). Stop it first (sudo systemctl stop tillflow, ` +
          'or Ctrl-C its npm start), then back up or restore, then start it again: PostgreSQL and the Temporal ' +
          'dev server are copied only while stopped, so the copy is consistent.',
      );
    }
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Every regular file and directory under `root` (relative paths), parents before children. */
function walk(root: string, rel = ''): { rel: string; dir: boolean }[] {
  return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const child = path.join(rel, e.name);
    if (e.isDirectory()) return [{ rel: child, dir: true }, ...walk(root, child)];
    return e.isFile() ? [{ rel: child, dir: false }] : []; // sockets and the like are not data
  });
}

/** Copies mode, and owner when root (the embedded PostgreSQL's files belong to `postgres` then). */
function copyAttributes(from: string, to: string): void {
  const st = fs.statSync(from);
  fs.chmodSync(to, st.mode & 0o7777);
  if (process.getuid?.() === 0) fs.chownSync(to, st.uid, st.gid);
  fs.utimesSync(to, st.atime, st.mtime);
}

function sha256(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Copies the tree `from` → `to` (which exists), skipping `skip`; directories get their attributes last. */
function copyTree(from: string, to: string, skip: Set<string> = new Set()): ManifestFile[] {
  const entries = walk(from).filter((e) => !skip.has(e.rel));
  const files: ManifestFile[] = [];
  for (const e of entries) {
    const src = path.join(from, e.rel);
    const dst = path.join(to, e.rel);
    if (e.dir) fs.mkdirSync(dst);
    else {
      fs.copyFileSync(src, dst);
      copyAttributes(src, dst);
      files.push({ path: e.rel, size: fs.statSync(dst).size, sha256: sha256(dst) });
    }
  }
  for (const e of entries.filter((x) => x.dir).reverse()) copyAttributes(path.join(from, e.rel), path.join(to, e.rel));
  copyAttributes(from, to);
  return files;
}

/**
 * Copies the stopped data dir into `target` (which must not exist): first into `<target>.partial`,
 * renamed once complete, so an interrupted backup never looks like one. Returns its manifest.
 */
export function backupDataDir(dataDir: string, target: string): Manifest {
  if (!fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')))
    throw new BackupError(`${dataDir} holds no Tillflow data (no postgres/PG_VERSION); set TILLFLOW_DATA_DIR`);
  if (fs.existsSync(target)) throw new BackupError(`${target} already exists: back up into a new directory`);
  assertNothingRunsOn(dataDir);
  const partial = `${target}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  const files = copyTree(dataDir, partial, new Set(PID_FILES));
  assertNothingRunsOn(dataDir); // it was not started while we copied
  const manifest: Manifest = {
    format: 1,
    takenAt: new Date().toISOString(),
    dataDir,
    postgresVersion: readOr(path.join(dataDir, 'postgres', 'PG_VERSION'), '').trim() || null,
    files,
  };
  fs.writeFileSync(path.join(partial, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(partial, target);
  return manifest;
}

function readManifest(backup: string): Manifest {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(backup, MANIFEST), 'utf8')) as Manifest;
    if (manifest.format !== 1 || !Array.isArray(manifest.files)) throw new Error('unknown format');
    return manifest;
  } catch (err) {
    throw new BackupError(`${backup} is not a Tillflow backup (${MANIFEST}: ${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Every file of the backup is there with the size and checksum its manifest records. */
function assertIntact(backup: string, manifest: Manifest): void {
  for (const f of manifest.files) {
    const file = path.join(backup, f.path);
    if (!fs.existsSync(file) || fs.statSync(file).size !== f.size || sha256(file) !== f.sha256)
      throw new BackupError(`${backup} is damaged: ${f.path} differs from its manifest; nothing was restored`);
  }
}

/**
 * Restores a backup into `dataDir`, which must be empty or missing (it may be the mount point
 * of a drive, so it is filled in place rather than renamed). The backup is checked first.
 */
export function restoreDataDir(backup: string, dataDir: string): Manifest {
  const manifest = readManifest(backup);
  assertIntact(backup, manifest);
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0)
    throw new BackupError(`${dataDir} is not empty: restore into an empty data dir (move this one aside first)`);
  fs.mkdirSync(dataDir, { recursive: true });
  copyTree(backup, dataDir, new Set([MANIFEST]));
  return manifest;
}
