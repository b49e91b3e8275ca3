import type { Knex } from 'knex';
import type { Logger } from '../platform/logger';
import type { Gateways } from '../core/gateway';
import type { SmtpConfig } from '../platform/config';

export interface ActivityDeps {
  knex: Knex;
  logger: Logger;
  /** Configured payment gateway adapters (absent: cash only). */
  gateways?: Gateways;
  /** Where e-mailed receipts go out (absent: none are sent). */
  smtp?: SmtpConfig;
}
