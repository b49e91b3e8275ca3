/** `npm run tillflow -- <command>`: the operator CLI (see platform/operator-cli.ts). */
import { CliError, runCli } from '../platform/operator-cli';

runCli(process.argv.slice(2), process.env, (line) => process.stdout.write(line + '\n')).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tillflow: ${(err as Error).message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  },
);
