import type { Knex } from 'knex';
import type { Logger } from '../platform/logger';
import type { Gateways } from '../core/gateway';

export interface ActivityDeps {
  knex: Knex;
  logger: Logger;
  /** Configured payment gateway adapters (absent: cash only). */
  gateways?: Gateways;
}
