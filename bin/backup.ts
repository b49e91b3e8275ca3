/**
 * `npm run backup -- <dir>`: copies the stopped data dir (TILLFLOW_DATA_DIR, default .data) into
 * the new directory <dir>. `npm run restore -- <dir>` (`--restore`) puts such a copy into an empty
 * data dir. See platform/backup.ts and README, "Backups".
 */
import { parseArgs } from 'node:util';
import { BackupError, backupDataDir, dataDirOf, restoreDataDir } from '../platform/backup';

function main(): void {
  const { values, positionals } = parseArgs({ options: { restore: { type: 'boolean' } }, allowPositionals: true });
  const [dir] = positionals;
  if (!dir || positionals.length > 1)
    throw new BackupError('usage: npm run backup -- <new backup dir>   |   npm run restore -- <backup dir>');
  const dataDir = dataDirOf();
  if (values.restore) {
    const m = restoreDataDir(dir, dataDir);
    process.stdout.write(`Restored the backup of ${m.takenAt} (${m.files.length} files) into ${dataDir}\n`);
  } else {
    const m = backupDataDir(dataDir, dir);
    process.stdout.write(`Backed up ${dataDir} (${m.files.length} files, PostgreSQL ${m.postgresVersion}) to ${dir}\n`);
  }
}

try {
  main();
} catch (err) {
  if (!(err instanceof BackupError)) throw err;
  process.stderr.write(`tillflow: ${err.message}\n`);
  process.exit(1);
}
