/**
 * Kitchen screens (devices of kind `kitchen_screen`): which lines of an order each one shows.
 * They split an order by category exactly as kitchen printers do (core/stations.ts): a screen
 * with categories takes those lines, the rest go to the screens without a filter (or to every
 * screen when all of them filter), so no line is left without a screen.
 */
import type { Knex } from 'knex';
import { splitForStations } from '../core/stations';
import type { AppDeps, AuthContext } from './types';
import { fieldError, forbidden } from './errors';
import { getOrder } from './order-service';

export interface Screen {
  id: string;
  categoryIds: string[] | null;
}

/** The live screens of a location. */
export async function liveScreens(knex: Knex, locationId: string): Promise<Screen[]> {
  return knex('devices')
    .where({ location_id: locationId, kind: 'kitchen_screen' })
    .whereNull('revoked_at')
    .orderBy('id')
    .select('id', 'category_ids as categoryIds');
}

/** The lines `screenId` shows (in order), or undefined when it is no live screen of the location. */
export async function screenShare<L extends { itemId: string }>(
  knex: Knex,
  locationId: string,
  screenId: string,
  lines: L[],
): Promise<L[] | undefined> {
  const screens = await liveScreens(knex, locationId);
  if (!screens.some((s) => s.id === screenId)) return undefined;
  const itemIds = [...new Set(lines.map((l) => l.itemId).filter((id) => typeof id === 'string'))];
  const rows: { id: string; category_id: string | null }[] = itemIds.length
    ? await knex('items').where('location_id', locationId).whereIn('id', itemIds).select('id', 'category_id')
    : [];
  const category = new Map(rows.map((r) => [r.id, r.category_id]));
  const split = splitForStations(screens, lines, (l) => category.get(l.itemId));
  return split.find((s) => s.printer.id === screenId)?.lines ?? [];
}

/**
 * What `POST /orders/:id/ready {"screenId"}` asks of the order: a screen bumps the lines it shows.
 * A screen's token bumps for itself only (403 for another screen); staff may bump for any live
 * screen of their location (422 otherwise). Without a screen it is the whole order's bump.
 */
export async function readyRequest(
  deps: AppDeps,
  auth: AuthContext,
  orderId: string,
  screenId: string | undefined,
): Promise<{ screenId?: string; lineIds?: string[] }> {
  if (auth.role === 'kitchen_screen') {
    if (screenId !== undefined && screenId !== auth.screenId)
      throw forbidden('A kitchen screen bumps its own lines only');
    screenId = auth.screenId;
  }
  if (screenId === undefined) return {};
  const snapshot = await getOrder(deps, auth, orderId);
  const lines = await screenShare(deps.knex, auth.locationId, screenId, snapshot.lines);
  if (!lines) throw fieldError('screenId', 'Not a kitchen screen of this location');
  return { screenId, lineIds: lines.map((l) => l.id) };
}
