import pino, { type DestinationStream } from 'pino';
import { currentLogIds } from './log-context';

/**
 * Structured JSON logs. PINs, tokens and secrets are redacted wherever they appear; the ids of
 * the request or activity being served (log-context.ts) are on every line.
 */
export function createLogger(opts: { destination?: DestinationStream; level?: string } = {}) {
  return pino(
    {
      name: 'tillflow',
      level: opts.level ?? process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
      redact: {
        paths: ['pin', '*.pin', 'token', '*.token', 'secret', '*.secret', 'req.headers.authorization', 'password'],
        censor: '[redacted]',
      },
      mixin: () => ({ ...currentLogIds() }),
    },
    opts.destination,
  );
}

export const logger = createLogger();

export type Logger = typeof logger;
