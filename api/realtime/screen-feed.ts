/**
 * A kitchen screen's topic, `kitchen:<locationId>:<screenId>`: the location's kitchen feed cut to
 * the lines that screen shows (api/kitchen-screens.ts). Tickets with none of its lines are not
 * sent to it; ready announcements are. Deliveries stay in event order per subscription.
 */
import type { Knex } from 'knex';
import { topic as topics } from '../../core/events';
import { kitchenEventData } from '../../core/views';
import { screenShare } from '../kitchen-screens';
import type { HubEvent, Subscriber } from './hub';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const screenTopic = (locationId: string, screenId: string) => `${topics.kitchen(locationId)}:${screenId}`;

/** The location and screen a screen topic names, or undefined when `t` is no screen topic. */
export function parseScreenTopic(t: string): { locationId: string; screenId: string } | undefined {
  const [kind, locationId, screenId, ...rest] = t.split(':');
  if (kind !== 'kitchen' || rest.length || !UUID.test(locationId ?? '') || !UUID.test(screenId ?? '')) return undefined;
  return { locationId: locationId!, screenId: screenId! };
}

/** Whether `screenId` is a live screen of the location. */
export async function isLiveScreen(knex: Knex, locationId: string, screenId: string): Promise<boolean> {
  const row = await knex('devices')
    .where({ id: screenId, location_id: locationId, kind: 'kitchen_screen' })
    .whereNull('revoked_at')
    .first('id');
  return row !== undefined;
}

/**
 * The hub subscriber (on the location's kitchen topic) that feeds one screen topic to `send`.
 * `onError` hears of a ticket that could not be cut (the database is down): it is not sent.
 */
export function screenSubscriber(
  knex: Knex,
  t: string,
  send: (message: unknown) => void,
  onError: (err: Error) => void,
): { hubTopic: string; subscriber: Subscriber } {
  const { locationId, screenId } = parseScreenTopic(t)!;
  let chain = Promise.resolve();
  const cut = async (e: HubEvent) => {
    const data = kitchenEventData(e.event, await screenData(knex, locationId, screenId, e));
    if (data !== undefined)
      send({ type: 'event', topic: t, event: e.event, version: e.version, orderId: e.orderId, data });
  };
  return {
    hubTopic: topics.kitchen(locationId),
    subscriber: {
      locationId,
      deliver: (_hubTopic, e) => {
        chain = chain.then(() => cut(e)).catch(onError);
      },
    },
  };
}

/** The event's data with a ticket's lines cut to this screen's (undefined: nothing for it). */
async function screenData(knex: Knex, locationId: string, screenId: string, e: HubEvent): Promise<unknown> {
  if (e.event !== 'kitchen.ticket') return e.data;
  const ticket = e.data as { lines?: { itemId: string }[] };
  const lines = await screenShare(knex, locationId, screenId, Array.isArray(ticket.lines) ? ticket.lines : []);
  return lines?.length ? { ...ticket, lines } : undefined;
}
