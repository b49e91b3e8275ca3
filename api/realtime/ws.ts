import type { WebSocket, RawData } from 'ws';
import type { ParameterizedContext } from 'koa';
import { atLocation, resolveToken } from '../auth';
import type { AppDeps, AuthContext } from '../types';
import type { EventHub, HubEvent, Subscriber } from './hub';
import { getOrder } from '../order-service';
import { TERMINAL_ID } from '../routes/displays';
import { wsConnections } from '../metrics';
import { isLiveScreen, parseScreenTopic, screenSubscriber, screenTopic } from './screen-feed';

/** What one socket may ask of the server (frames over maxPayloadBytes close it with 1009). */
export const WS_LIMITS = {
  maxPayloadBytes: 64 * 1024,
  topicsPerMessage: 20,
  topicsPerSocket: 50,
  topicChars: 200,
  subscribesPerWindow: 20,
  windowMs: 10_000,
  /** Messages waiting behind a slow one (or the token check) before further ones are refused. */
  queuedMessages: 100,
  echoTopics: 10,
  echoTopicChars: 100,
};

/** Never echo unbounded client input: a few topics, each cut to a prefix. */
const echo = (topics: string[]) =>
  topics.slice(0, WS_LIMITS.echoTopics).map((t) => t.slice(0, WS_LIMITS.echoTopicChars));

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
    // Listen before the token is checked: browsers subscribe in `onopen`, so messages arrive
    // while we wait; they are queued behind the check and handled one at a time, in order.
    const connection = new Connection(deps, hub, socket, token);
    const session = token ? await resolveToken(deps, token).catch(() => undefined) : undefined;
    // Browsers cannot send headers here: an owner picks the location with ?locationId= instead.
    const requested = typeof ctx.query.locationId === 'string' ? ctx.query.locationId : undefined;
    const auth = session && (await atLocation(deps, session, requested).catch(() => undefined));
    if (session && !auth) connection.refuseLocation();
    else connection.start(auth, opts.pingIntervalMs ?? 30_000);
  };
}

/** One client socket: its identity, its subscriptions and its queue of messages. */
class Connection {
  private auth?: AuthContext;
  private closed = false;
  private readonly subscribed = new Set<string>();
  private queued = 0;
  private reserved = 0;
  private windowStart = 0;
  private subscribesInWindow = 0;
  private readonly subscriber: Subscriber;
  /** Kitchen screen topics: each is its own hub subscriber on the location's kitchen topic. */
  private readonly screenFeeds = new Map<string, { hubTopic: string; subscriber: Subscriber }>();
  private opened!: (ok: boolean) => void;
  /** Messages are handled strictly one after another, the first ones after the token check. */
  private queue: Promise<boolean> = new Promise((resolve) => (this.opened = resolve));

  constructor(
    private readonly deps: AppDeps,
    private readonly hub: EventHub,
    private readonly socket: WebSocket,
    private readonly token: string,
  ) {
    this.subscriber = {
      locationId: '',
      deliver: (topic: string, e: HubEvent) => this.deliver(topic, e),
    };
    wsConnections.inc();
    socket.on('message', (raw) => this.enqueue(raw));
    socket.once('close', () => {
      wsConnections.dec();
      this.closed = true;
      this.opened(false);
      hub.unsubscribeAll(this.subscriber);
      for (const feed of this.screenFeeds.values()) hub.unsubscribeAll(feed.subscriber);
    });
  }

  /** Called once the token is checked: refuses the socket, or greets it and handles its queue. */
  start(auth: AuthContext | undefined, pingIntervalMs: number): void {
    if (this.closed) return; // gone while we checked the token: nothing to set up
    if (!auth) {
      this.end('A valid token is required: /ws?token=<token>');
      this.opened(false);
      return;
    }
    this.auth = auth;
    this.subscriber.locationId = auth.locationId;
    this.closeWhenRevoked(auth);
    this.heartbeat(pingIntervalMs);
    this.send({ type: 'welcome', ...welcomeOf(auth), locationId: auth.locationId });
    this.opened(true);
  }

  /** A location the token may not use (?locationId=): told apart from a bad token, like the HTTP 404. */
  refuseLocation(): void {
    this.opened(false);
    if (this.closed) return;
    this.send({ type: 'error', code: 'NOT_FOUND', detail: 'Location not found' });
    this.socket.close(4404, 'location not found');
  }

  /** A logout, staff change or device revocation on any replica ends this socket (4401). */
  private closeWhenRevoked(auth: AuthContext): void {
    const revoked = () => this.end('The session was revoked');
    const recheck = () => {
      resolveToken(this.deps, this.token).then(
        (still) => still || revoked(),
        () => undefined, // the database is down too: the next reconnect checks again
      );
    };
    const stop = this.hub.watchRevocation(auth.sessionId, { revoked, recheck });
    // An expired session ends its socket too (setTimeout holds at most ~24.8 days).
    const expiry = auth.expiresAt
      ? setTimeout(
          () => this.end('The session expired'),
          Math.min(Math.max(0, auth.expiresAt.getTime() - Date.now()), 2 ** 31 - 1),
        )
      : undefined;
    this.socket.once('close', () => {
      stop();
      clearTimeout(expiry);
    });
  }

  /** Ends the socket the way an invalid token would: an UNAUTHENTICATED error, then close 4401. */
  private end(detail: string): void {
    this.send({ type: 'error', code: 'UNAUTHENTICATED', detail });
    this.socket.close(4401, 'unauthenticated');
  }

  private heartbeat(intervalMs: number): void {
    let alive = true;
    this.socket.on('pong', () => (alive = true));
    const timer = setInterval(() => {
      if (!alive) {
        this.socket.terminate();
        return;
      }
      alive = false;
      this.socket.ping();
    }, intervalMs);
    this.socket.once('close', () => clearInterval(timer));
  }

  /** Parses and rate-counts a message on arrival (so a slow queue cannot stretch the window), then queues it. */
  private enqueue(raw: RawData): void {
    if (this.queued >= WS_LIMITS.queuedMessages) {
      this.send({
        type: 'error',
        code: 'RATE_LIMITED',
        detail: `At most ${WS_LIMITS.queuedMessages} messages may wait for an answer`,
      });
      return;
    }
    const message = parse(raw);
    const limited = message?.type === 'subscribe' && this.rateLimited();
    this.queued++;
    this.queue = this.queue.then(async (ok) => {
      if (ok && !this.closed)
        await this.handle(message, limited).catch((err) =>
          this.deps.logger.warn({ err: (err as Error).message }, 'websocket message failed'),
        );
      this.queued--;
      return ok;
    });
  }

  private rateLimited(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= WS_LIMITS.windowMs) {
      this.windowStart = now;
      this.subscribesInWindow = 0;
    }
    return ++this.subscribesInWindow > WS_LIMITS.subscribesPerWindow;
  }

  private async handle(message: ClientMessage | undefined, limited: boolean): Promise<void> {
    if (!message) {
      this.send({ type: 'error', code: 'BAD_REQUEST', detail: 'Messages must be JSON' });
      return;
    }
    if (message?.type === 'ping') {
      this.send({ type: 'pong' });
      return;
    }
    if (message?.type !== 'subscribe' && message?.type !== 'unsubscribe') {
      this.send({ type: 'error', code: 'BAD_REQUEST', detail: 'type must be subscribe, unsubscribe or ping' });
      return;
    }
    if (limited) {
      const seconds = Math.ceil(WS_LIMITS.windowMs / 1000);
      this.send({
        type: 'error',
        code: 'RATE_LIMITED',
        detail: `At most ${WS_LIMITS.subscribesPerWindow} subscribe messages per ${seconds} s`,
      });
      return;
    }
    const topics = validTopics(message.topics);
    if (typeof topics === 'string') {
      const count = Array.isArray(message.topics) ? message.topics.length : undefined;
      this.send({ type: 'error', code: 'VALIDATION_ERROR', detail: topics, ...(count !== undefined && { count }) });
      return;
    }
    if (message.type === 'unsubscribe') this.unsubscribe(topics);
    else await this.subscribe(topics);
  }

  private unsubscribe(topics: string[]): void {
    for (const t of topics) {
      this.hub.unsubscribe(t, this.subscriber);
      this.unwatchScreen(t);
      this.subscribed.delete(t);
    }
    this.send({ type: 'unsubscribed', topics });
  }

  private async subscribe(topics: string[]): Promise<void> {
    const auth = this.auth!;
    // Slots are taken before any await: the cap holds even if checks ever run concurrently.
    const fresh = topics.filter((t) => !this.subscribed.has(t));
    const free = Math.max(0, WS_LIMITS.topicsPerSocket - this.subscribed.size - this.reserved);
    const candidates = fresh.slice(0, free);
    const overCap = fresh.slice(free);
    this.reserved += candidates.length;
    const accepted: string[] = topics.filter((t) => this.subscribed.has(t));
    const refused: string[] = [];
    try {
      for (const t of candidates) ((await mayWatch(this.deps, auth, t)) ? accepted : refused).push(t);
    } finally {
      this.reserved -= candidates.length;
    }
    if (this.closed) return; // disconnected while topics were checked: subscribing now would leak
    for (const t of accepted.filter((x) => !this.subscribed.has(x))) {
      if (parseScreenTopic(t)) this.watchScreen(t);
      else this.hub.subscribe(t, this.subscriber);
      this.subscribed.add(t);
    }
    this.send({ type: 'subscribed', topics: accepted });
    if (refused.length)
      this.send({
        type: 'error',
        code: 'FORBIDDEN',
        detail: 'Not allowed to subscribe to these topics',
        topics: echo(refused),
        refusedCount: refused.length,
      });
    if (overCap.length) {
      const detail = `A socket may hold at most ${WS_LIMITS.topicsPerSocket} topics`;
      this.send({ type: 'error', code: 'FORBIDDEN', detail, topics: echo(overCap), refusedCount: overCap.length });
    }
    // The snapshot is read after subscribing (not reused from the permission check): an event
    // committed in between then arrives as well, never falls into a gap; versions sort it out.
    for (const t of accepted.filter((x) => x.startsWith('order:'))) {
      const snapshot = await getOrder(this.deps, auth, t.slice('order:'.length)).catch(() => undefined);
      if (snapshot) this.send({ type: 'snapshot', topic: t, version: snapshot.version, data: snapshot });
    }
  }

  private watchScreen(t: string): void {
    const feed = screenSubscriber(
      this.deps.knex,
      t,
      (m) => this.send(m),
      (err) => this.deps.logger.warn({ err: err.message, topic: t }, 'kitchen screen delivery failed'),
    );
    this.screenFeeds.set(t, feed);
    this.hub.subscribe(feed.hubTopic, feed.subscriber);
  }

  private unwatchScreen(t: string): void {
    const feed = this.screenFeeds.get(t);
    if (feed) this.hub.unsubscribe(feed.hubTopic, feed.subscriber);
    this.screenFeeds.delete(t);
  }

  /** Each topic's audience gets its own view of the event (kitchen, customer display), built once per topic. */
  private deliver(topic: string, e: HubEvent): void {
    const frame = e.frame(topic);
    if (frame !== undefined && this.socket.readyState === this.socket.OPEN) this.socket.send(frame, { binary: false });
  }

  private send(message: unknown): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** Who the server greets: a device by what it is, staff by name and role. */
function welcomeOf(auth: AuthContext) {
  if (auth.role === 'display') return { display: { id: auth.sessionId, name: auth.name, terminalId: auth.terminalId } };
  if (auth.role === 'kitchen_screen')
    return {
      kitchenScreen: { id: auth.screenId, name: auth.name, topic: screenTopic(auth.locationId, auth.screenId!) },
    };
  return { staff: { id: auth.staffId, name: auth.name, role: auth.role } };
}

/** The client's message, or undefined when it is not JSON. */
function parse(raw: RawData): ClientMessage | undefined {
  try {
    return JSON.parse(raw.toString()) ?? {};
  } catch {
    return undefined;
  }
}

/** The message's topics, de-duplicated, or why they are not acceptable (never echoing them). */
function validTopics(topics: unknown): string[] | string {
  if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== 'string' || t.length === 0)) {
    return 'topics must be a non-empty list of non-empty strings';
  }
  if (topics.length > WS_LIMITS.topicsPerMessage) return `At most ${WS_LIMITS.topicsPerMessage} topics per message`;
  return [...new Set(topics as string[])];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A display device sees only its own terminal's display topic, and display topics are for display
 * devices only; a kitchen screen sees only its own screen topic; kitchen staff see only their
 * kitchen feeds (the location's and its live screens'); other staff their location's topics.
 */
async function mayWatch(deps: AppDeps, auth: AuthContext, t: string): Promise<boolean> {
  if (t.length > WS_LIMITS.topicChars) return false;
  const [kind, id] = [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)];
  if (!id) return false;
  if (auth.role === 'display') return kind === 'display' && TERMINAL_ID.test(id) && id === auth.terminalId;
  if (auth.role === 'kitchen_screen') return t === screenTopic(auth.locationId, auth.screenId!);
  if (kind === 'display') return false;
  const screen = parseScreenTopic(t);
  if (screen)
    return screen.locationId === auth.locationId && isLiveScreen(deps.knex, screen.locationId, screen.screenId);
  if (kind === 'kitchen') return id === auth.locationId;
  if (auth.role === 'kitchen') return false;
  if (kind === 'orders') return id === auth.locationId;
  if (kind === 'order') {
    if (!UUID.test(id)) return false;
    return getOrder(deps, auth, id).then(
      () => true,
      () => false,
    );
  }
  return false;
}
