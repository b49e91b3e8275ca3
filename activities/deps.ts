import type { Knex } from 'knex';
import type { Logger } from '../platform/logger';

export interface ActivityDeps {
  knex: Knex;
  logger: Logger;
}
