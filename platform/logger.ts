import pino from 'pino';

/** Structured JSON logs. PINs, tokens and secrets are redacted wherever they appear. */
export const logger = pino({
  name: 'tillflow',
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  redact: {
    paths: ['pin', '*.pin', 'token', '*.token', 'secret', '*.secret', 'req.headers.authorization', 'password'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
