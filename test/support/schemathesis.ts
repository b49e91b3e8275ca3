import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { isExecutable, onPath, toolCacheDir } from '../../platform/binaries';

/** Pinned so a new release cannot change what the fuzz test checks. */
export const SCHEMATHESIS_VERSION = '4.32.5';

const INSTALLED_MARK = '.installed';
/** Changes when the venv's layout does (e.g. the patch below), so an older cache is rebuilt. */
const LAYOUT = `${SCHEMATHESIS_VERSION}+ast-patch-1`;

/**
 * CPython 3.11 before 3.11.8 (this machine has 3.11.7) raises "SystemError: AST constructor
 * recursion depth mismatch" when hypothesis parses schemathesis' largest module only to describe
 * a lambda in a repr. Loaded from a .pth file, this turns that one failure into the description
 * hypothesis itself uses for lambdas it cannot read; nothing else changes.
 */
const AST_PATCH = `import hypothesis.internal.lambda_sources as _ls

_original = _ls._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _original(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


_ls._lambda_description = _lambda_description
`;

/**
 * A Python >= 3.9 with the venv module. 3.12 first: CPython 3.11 before 3.11.8 can fail parsing
 * hypothesis' own sources deep in a stack ("AST constructor recursion depth mismatch").
 */
function findPython(): string {
  for (const name of ['python3.12', 'python3.13', 'python3.11', 'python3.10', 'python3']) {
    const bin = onPath(name);
    if (!bin) continue;
    const probe = spawnSync(bin, [
      '-c',
      'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 9) else 1)',
    ]);
    if (probe.status === 0) return bin;
  }
  throw new Error(
    'schemathesis needs Python >= 3.9 with the venv module (Debian/Ubuntu: apt-get install python3-venv)',
  );
}

function run(cmd: string, args: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        // pip prints one "Collecting"/"Downloading" line per package: enough to show it is moving.
        if (/^(Collecting|Downloading|Installing|Successfully)/.test(line.trim())) progress(`  ${line.trim()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`)),
    );
  });
}

/**
 * The schemathesis CLI from a virtualenv cached per machine under
 * ~/.cache/tillflow/schemathesis-<version>/ (installed from PyPI on first use, with progress).
 * The venv is built in place (its scripts hold absolute paths) and marked complete only at the
 * end, so an interrupted install is wiped and redone rather than used half-built.
 */
export async function ensureSchemathesis(
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<string> {
  const dir = toolCacheDir(`schemathesis-${SCHEMATHESIS_VERSION}`);
  const cli = path.join(dir, 'bin', 'schemathesis');
  const mark = path.join(dir, INSTALLED_MARK);
  if (fs.existsSync(mark) && fs.readFileSync(mark, 'utf8').trim() === LAYOUT && isExecutable(cli)) return cli;
  fs.rmSync(dir, { recursive: true, force: true });
  const python = findPython();
  const started = Date.now();
  progress(
    `schemathesis ${SCHEMATHESIS_VERSION} is not cached: installing it into ${dir} with ${python} (first run only)`,
  );
  await run(python, ['-m', 'venv', dir], progress);
  const pip = path.join(dir, 'bin', 'pip');
  await run(
    pip,
    ['install', '--disable-pip-version-check', '--progress-bar', 'off', `schemathesis==${SCHEMATHESIS_VERSION}`],
    progress,
  );
  const sitePackages = spawnSync(path.join(dir, 'bin', 'python'), [
    '-c',
    'import sysconfig; print(sysconfig.get_paths()["purelib"])',
  ])
    .stdout.toString()
    .trim();
  fs.writeFileSync(path.join(sitePackages, 'tillflow_ast_patch.py'), AST_PATCH);
  fs.writeFileSync(path.join(sitePackages, 'tillflow_ast_patch.pth'), 'import tillflow_ast_patch\n');
  if (spawnSync(cli, ['--version']).status !== 0) throw new Error(`installed schemathesis at ${cli} does not run`);
  fs.writeFileSync(mark, `${LAYOUT}\n`);
  progress(`schemathesis ${SCHEMATHESIS_VERSION} installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return cli;
}
