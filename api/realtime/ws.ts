import type { WebSocket } from 'ws';
import type { ParameterizedContext } from 'koa';
import { resolveToken } from '../auth';
import type { AppDeps, AuthContext } from '../types';
import type { EventHub, HubEvent, Subscriber } from './hub';
import { getOrder } from '../order-service';

const MAX_TOPICS = 50;

type ClientMessage = { type: 'subscribe' | 'unsubscribe'; topics: unknown } | { type: 'ping' };

/**
 * `GET /ws?token=<token>`: subscribe to order, orders, kitchen and display topics. Topics the
 * token may not see are refused with an error message. A new `order:` subscription first gets
 * the current snapshot, so a reconnecting client never starts from a gap.
 */
export function websocketHandler(deps: AppDeps, hub: EventHub, opts: { pingIntervalMs?: number } = {}) {
  return async (ctx: ParameterizedContext & { websocket: WebSocket }) => {
    const socket = ctx.websocket;
    if (ctx.path !== '/ws') {
      socket.close(4404, 'not found');
      return;
    }
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    let closed = false;
    socket.once('close', () => (closed = true));
    const auth = token ? await resolveToken(deps, token).catch(() => undefined) : undefined;
    if (closed) return; // gone while we checked the token: nothing to set up
    if (!auth) {
      send(socket, { type: 'error', code: 'UNAUTHENTICATED', detail: 'A valid token is required: /ws?token=<token>' });
      socket.close(4401, 'unauthenticated');
      return;
    }
    const subscribed = new Set<string>();
    const subscriber: Subscriber = {
      locationId: auth.locationId,
      deliver: (topic: string, e: HubEvent) => send(socket, { type: 'event', topic, event: e.event, version: e.version, orderId: e.orderId, data: e.data }),
    };

    let alive = true;
    socket.on('pong', () => (alive = true));
    const heartbeat = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, opts.pingIntervalMs ?? 30_000);

    socket.on('close', () => {
      clearInterval(heartbeat);
      hub.unsubscribeAll(subscriber);
    });

    socket.on('message', async (raw) => {
      let message: ClientMessage;
      try {
        message = JSON.parse(raw.toString());
      } catch {
        send(socket, { type: 'error', code: 'BAD_REQUEST', detail: 'Messages must be JSON' });
        return;
      }
      if (message?.type === 'ping') {
        send(socket, { type: 'pong' });
        return;
      }
      if (message?.type !== 'subscribe' && message?.type !== 'unsubscribe') {
        send(socket, { type: 'error', code: 'BAD_REQUEST', detail: 'type must be subscribe, unsubscribe or ping' });
        return;
      }
      const topics = message.topics;
      if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== 'string')) {
        send(socket, { type: 'error', code: 'VALIDATION_ERROR', detail: 'topics must be a non-empty list of strings' });
        return;
      }
      if (message.type === 'unsubscribe') {
        for (const t of topics as string[]) {
          hub.unsubscribe(t, subscriber);
          subscribed.delete(t);
        }
        send(socket, { type: 'unsubscribed', topics });
        return;
      }
      const accepted: string[] = [];
      const refused: string[] = [];
      for (const t of topics as string[]) {
        if (subscribed.size + accepted.length >= MAX_TOPICS) refused.push(t);
        else if (await mayWatch(deps, auth, t)) accepted.push(t);
        else refused.push(t);
      }
      if (closed) return; // disconnected while topics were checked: subscribing now would leak
      for (const t of accepted) {
        hub.subscribe(t, subscriber);
        subscribed.add(t);
      }
      send(socket, { type: 'subscribed', topics: accepted });
      if (refused.length) send(socket, { type: 'error', code: 'FORBIDDEN', detail: 'Not allowed to subscribe to these topics', topics: refused });
      // The snapshot is read after subscribing (not reused from the permission check): an event
      // committed in between then arrives as well, never falls into a gap; versions sort it out.
      for (const t of accepted.filter((x) => x.startsWith('order:'))) {
        const snapshot = await getOrder(deps, auth, t.slice('order:'.length)).catch(() => undefined);
        if (snapshot) send(socket, { type: 'snapshot', topic: t, version: snapshot.version, data: snapshot });
      }
    });
    send(socket, { type: 'welcome', staff: { id: auth.staffId, name: auth.name, role: auth.role }, locationId: auth.locationId });
  };
}

function send(socket: WebSocket, message: unknown): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Kitchen staff see only their kitchen feed; everyone else sees their own location's topics. */
async function mayWatch(deps: AppDeps, auth: AuthContext, t: string): Promise<boolean> {
  const [kind, id] = [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)];
  if (!id) return false;
  if (kind === 'kitchen') return id === auth.locationId;
  if (auth.role === 'kitchen') return false;
  if (kind === 'orders') return id === auth.locationId;
  if (kind === 'display') return /^[A-Za-z0-9._:-]{1,64}$/.test(id);
  if (kind === 'order') {
    if (!UUID.test(id)) return false;
    return getOrder(deps, auth, id).then(
      () => true,
      () => false,
    );
  }
  return false;
}
