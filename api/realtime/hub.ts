import { Client as PgClient } from 'pg';
import type { Knex } from 'knex';
import { EVENTS_CHANNEL } from '../../activities/orders';
import type { Logger } from '../../platform/logger';

export interface HubEvent {
  id: number;
  orderId: string;
  locationId: string;
  version: number;
  event: string;
  topics: string[];
  data: unknown;
}

export interface Subscriber {
  locationId: string;
  deliver(topic: string, e: HubEvent): void;
}

interface Notification {
  o: string;
  ids: number[];
  t: string[];
}

/**
 * Fan-out of order events to this process's WebSocket subscribers. Every API replica LISTENs on
 * one Postgres channel; a notification names event rows, which are read only when someone here
 * subscribes to one of their topics. Events of one order are delivered strictly in order.
 */
export class EventHub {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly chains = new Map<string, Promise<void>>();
  private listener?: PgClient;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    private readonly knex: Knex,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new PgClient({ connectionString: this.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL && n.payload) this.onNotification(n.payload);
    });
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'event listener connection lost; reconnecting');
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.listener = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      try {
        await this.start();
      } catch {
        this.scheduleReconnect();
      }
    }, 1000);
  }

  async stop(): Promise<void> {
    this.closed = true;
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
    let n: Notification;
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

  private async deliver(n: Notification): Promise<void> {
    const rows = await this.knex('order_events').whereIn('id', n.ids).orderBy('id').select('id', 'order_id', 'location_id', 'version', 'event', 'topics', 'data');
    for (const row of rows) {
      const e: HubEvent = { id: Number(row.id), orderId: row.order_id, locationId: row.location_id, version: row.version, event: row.event, topics: row.topics, data: row.data };
      for (const topic of e.topics) {
        for (const s of this.subscribers.get(topic) ?? []) {
          // Topics are scoped by location: a display id reused by another shop sees nothing.
          if (s.locationId === e.locationId) s.deliver(topic, e);
        }
      }
    }
  }
}
