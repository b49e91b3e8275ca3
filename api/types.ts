import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../platform/config';
import type { Logger } from '../platform/logger';
import type { Gateways } from '../core/gateway';
import type { Discovery } from '../platform/mdns';
import type { SessionCache } from './session-cache';
import type { WrittenEvents } from './written-events';
import type { Role } from '../core/roles';

export interface AuthContext {
  /** The staff session, or for a device its device id (revoking either closes its sockets). */
  sessionId: string;
  /** The staff member; for a device its device id. */
  staffId: string;
  /** The location this request works at: the staff member's own, or the one an owner picked. */
  locationId: string;
  /** Staff only: the organisation of their own location (an owner may work at any of its locations). */
  organisationId?: string;
  role: Role;
  name: string;
  /** Displays only: the terminal whose customer display this is. */
  terminalId?: string;
  /** Kitchen screens only: the screen (its device id). */
  screenId?: string;
  /** When the session ends by itself (devices: never). */
  expiresAt?: Date;
}

export interface AppDeps {
  knex: Knex;
  temporal: Client;
  config: Config;
  logger: Logger;
  version: string;
  startedAt: Date;
  /** URL of the Temporal Web UI, for links support staff can follow. */
  temporalUiUrl?: string;
  /** Configured payment gateways (webhooks are parsed and verified by their adapters). */
  gateways?: Gateways;
  /** live / sandbox / off per gateway, shown by /health. */
  paymentModes?: Record<string, 'live' | 'sandbox' | 'off'>;
  /** mDNS advertisement and device discovery; absent when TILLFLOW_MDNS is off. */
  discovery?: Discovery;
  /** This API server's resolved tokens (absent: every request reads the session). */
  sessions?: SessionCache;
  /** How far this API server has written each open order's events (absent: it says nothing). */
  writtenEvents?: WrittenEvents;
}
