import { Client as PgClient } from 'pg';
import type { Knex } from 'knex';
import { EVENTS_CHANNEL } from '../../core/events';
import type { Logger } from '../../platform/logger';
import { REVOCATIONS_CHANNEL } from '../../db/migrations/005_devices';
import type { SessionCache } from '../session-cache';
import { eventDataForTopic } from '../../core/views';
import type { EventNotification, NotifiedEvent } from '../../db/events';

export interface HubEvent {
  id: number;
  /** Null for a location's events (tables, stock alerts): they share one delivery chain. */
  orderId: string | null;
  locationId: string;
  version: number;
  event: string;
  topics: string[];
  data: unknown;
  /**
   * The `event` message of a topic's audience (core/views), serialised once for every socket of
   * that topic; undefined when the audience gets nothing of this event.
   */
  frame(topic: string): Buffer | undefined;
}

export interface Subscriber {
  locationId: string;
  deliver(topic: string, e: HubEvent): void;
}

/** A socket's session (or device) as seen by the revocation listener. */
export interface RevocationWatcher {
  /** Its session was revoked: close it. */
  revoked(): void;
  /** The listener was disconnected and notices may have been missed: check the session again. */
  recheck(): void;
}

/** How long a revocation is remembered, for sockets whose token check read the session just before it. */
const RECENT_REVOCATION_MS = 60_000;

/**
 * Fan-out of order events to this process's WebSocket subscribers. Every API replica LISTENs on
 * one Postgres channel; a notification carries its event rows (or, when they are too large for a
 * payload, names them: they are then read only when someone here subscribes to one of their
 * topics). Events of one order are delivered strictly in order.
 */
export class EventHub {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly chains = new Map<string | null, Promise<void>>();
  private listener?: PgClient;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly watchers = new Map<string, Set<RevocationWatcher>>();
  private readonly recentlyRevoked = new Map<string, number>();
  private started = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly knex: Knex,
    private readonly logger: Logger,
    /** Told of every revocation and of the listener's state (it is only trusted while listening). */
    private readonly sessions?: SessionCache,
  ) {}

  async start(): Promise<void> {
    const client = new PgClient({ connectionString: this.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL && n.payload) this.onNotification(n.payload);
      if (n.channel === REVOCATIONS_CHANNEL && n.payload) this.onRevoked(n.payload);
    });
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'event listener connection lost; reconnecting');
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    await client.query(`LISTEN ${REVOCATIONS_CHANNEL}`);
    this.listener = client;
    this.sessions?.setListening(true);
    // After a reconnect, revocations sent while we were away are lost: every socket checks again.
    if (this.started) for (const set of this.watchers.values()) for (const w of set) w.recheck();
    this.started = true;
  }

  /**
   * Calls `w.revoked()` when the session or device `id` is revoked (on any replica). The caller
   * read the session as live a moment ago; a revocation announced since then counts too.
   * Returns the function that stops watching.
   */
  watchRevocation(id: string, w: RevocationWatcher): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(w);
    if (this.recentlyRevoked.has(id)) w.revoked();
    return () => {
      set.delete(w);
      if (set.size === 0 && this.watchers.get(id) === set) this.watchers.delete(id);
    };
  }

  private onRevoked(id: string): void {
    const now = Date.now();
    for (const [old, at] of this.recentlyRevoked) {
      if (now - at < RECENT_REVOCATION_MS) break; // insertion order: the rest are newer
      this.recentlyRevoked.delete(old);
    }
    this.recentlyRevoked.delete(id);
    this.recentlyRevoked.set(id, now);
    this.sessions?.revoked(id);
    for (const w of [...(this.watchers.get(id) ?? [])]) w.revoked();
  }

  private scheduleReconnect(): void {
    this.sessions?.setListening(false);
    if (this.closed || this.reconnectTimer) return;
    this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.start().catch(() => this.scheduleReconnect());
    }, 1000);
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.sessions?.setListening(false);
    clearTimeout(this.reconnectTimer);
    await Promise.allSettled(this.chains.values());
    await this.listener?.end().catch(() => undefined);
  }

  subscribe(topic: string, s: Subscriber): void {
    let set = this.subscribers.get(topic);
    if (!set) this.subscribers.set(topic, (set = new Set()));
    set.add(s);
  }

  unsubscribe(topic: string, s: Subscriber): void {
    const set = this.subscribers.get(topic);
    set?.delete(s);
    if (set?.size === 0) this.subscribers.delete(topic);
  }

  unsubscribeAll(s: Subscriber): void {
    for (const topic of [...this.subscribers.keys()]) this.unsubscribe(topic, s);
  }

  get topicCount(): number {
    return this.subscribers.size;
  }

  private onNotification(payload: string): void {
    let n: EventNotification;
    try {
      n = JSON.parse(payload);
    } catch {
      return;
    }
    if (!n.t?.some((t) => this.subscribers.has(t))) return;
    const previous = this.chains.get(n.o) ?? Promise.resolve();
    const next = previous
      .then(() => this.deliver(n))
      .catch((err) => this.logger.warn({ err: (err as Error).message, orderId: n.o }, 'event delivery failed'))
      .finally(() => {
        if (this.chains.get(n.o) === next) this.chains.delete(n.o);
      });
    this.chains.set(n.o, next);
  }

  private async deliver(n: EventNotification): Promise<void> {
    for (const row of n.rows ?? (await this.readRows(n.ids))) {
      const e = hubEvent({ ...row, o: n.o });
      for (const topic of e.topics) {
        for (const s of this.subscribers.get(topic) ?? []) {
          // Topics are scoped by location: a display id reused by another shop sees nothing.
          if (s.locationId === e.locationId) s.deliver(topic, e);
        }
      }
    }
  }

  /** The rows of a notification too large to carry them, in the payload's shape. */
  private async readRows(ids: number[]): Promise<NotifiedEvent[]> {
    return this.knex('order_events')
      .whereIn('id', ids)
      .orderBy('id')
      .select('id', 'location_id as l', 'version as v', 'event as e', 'topics as t', 'data as d');
  }
}

/** An event row as subscribers get it, its messages serialised at most once per topic. */
function hubEvent(row: NotifiedEvent & { o: string | null }): HubEvent {
  const frames = new Map<string, Buffer | undefined>();
  const e: HubEvent = {
    id: Number(row.id),
    orderId: row.o,
    locationId: row.l,
    version: row.v,
    event: row.e,
    topics: row.t,
    data: row.d,
    frame(topic) {
      if (!frames.has(topic)) {
        const data = eventDataForTopic(topic, e.event, e.data);
        const message = { type: 'event', topic, event: e.event, version: e.version, orderId: e.orderId, data };
        frames.set(topic, data === undefined ? undefined : Buffer.from(JSON.stringify(message)));
      }
      return frames.get(topic);
    },
  };
  return e;
}
