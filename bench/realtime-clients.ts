/**
 * The real-time bench's WebSocket subscribers, spread over worker threads (BENCH_CLIENT_THREADS).
 *
 * A thousand subscribers are a thousand devices, each with its own event loop. In one thread
 * they queue behind each other: the hub's frames of one event reach all of them within a
 * millisecond, and the thousandth socket's arrival is noticed only after 999 others were read,
 * which measured the client as much as the server (the bench's own event loop lagged ~100 ms at
 * p99). Here each thread holds its share of the sockets and books what they receive; the main
 * thread runs the terminals and the tally. Arrivals are stamped with `clock()` (time origin +
 * `performance.now()`), one clock for every thread of the process.
 */
import * as path from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** Milliseconds on a clock shared by every thread of this process. */
export const clock = () => performance.timeOrigin + performance.now();

export async function http(base: string, method: string, url: string, token: string, body?: unknown, key?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers['idempotency-key'] = key;
  const res = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** How long a subscriber leaving an order topic waits for its last answered version (see unwatchOnceArrived). */
const UNWATCH_WAIT_MS = 3000;

/** One event a subscriber received, stamped when its socket delivered it. */
export interface Arrival {
  orderId: string;
  version: number;
  at: number;
}

interface TopicState {
  /** Versions older than or equal to this are covered by a snapshot (order: topics); -1: no snapshot (yet). */
  base: number;
  /** Newest event version seen per order. */
  last: Map<string, number>;
  /** The snapshot's version per order (order: topics). */
  snapshots: Map<string, number>;
  /** `orderId:version:event` of every event received. */
  received: Set<string>;
  /** Orders whose gap this subscriber noticed, and the version of the snapshot it fetched then. */
  gapSnapshots: Map<string, number>;
}

/** What one subscription (subscriber × topic) saw in a phase, as the tally checks it. */
export interface SubscriptionBooks {
  subscriber: number;
  topic: string;
  base: number;
  received: string[];
  gapSnapshots: Array<[string, number]>;
}

/** A thread's books of one phase. */
export interface ThreadBooks {
  arrivals: Arrival[];
  outOfOrder: number;
  /** Events no newer than the snapshot that arrived after it (a client ignores them: "versions sort it out"). */
  staleAfterSnapshot: number;
  duplicates: number;
  gaps: number;
  subscriptions: SubscriptionBooks[];
  /** This thread's event-loop delay p99 (ms) during the phase. */
  loopDelayP99: number;
}

/** Main thread → client thread. */
type Command =
  | { type: 'connect'; subscribers: Array<{ index: number; url: string; token: string }>; topic: string }
  | { type: 'start' }
  | { type: 'watch'; subscriber: number; topic: string }
  | { type: 'unwatch'; subscriber: number; topic: string; until: number }
  | { type: 'end' }
  | { type: 'disconnect' };

/** Client thread → main thread: the answer to each command, in order. */
type Answer = { type: 'done' } | { type: 'books'; books: ThreadBooks } | { type: 'failed'; error: string };

// ---- the client thread ------------------------------------------------------------------------

/** What the hub sends first in every event message (api/realtime: type, topic, event, version, orderId, data). */
const EVENT_HEAD = /^\{"type":"event","topic":"([^"]+)","event":"([^"]+)","version":(\d+),"orderId":"([^"]+)"/;

interface Books extends Omit<ThreadBooks, 'subscriptions' | 'loopDelayP99'> {
  subscriptions: Array<{ subscriber: number; topic: string; state: TopicState }>;
}

const newState = (base: number): TopicState => ({
  base,
  last: new Map(),
  snapshots: new Map(),
  received: new Set(),
  gapSnapshots: new Map(),
});

class Subscriber {
  readonly ws: WebSocket;
  readonly topics = new Map<string, TopicState>();
  private pendingSnapshots = new Map<string, (version: number | undefined) => void>();
  private pendingSubscribes: Array<() => void> = [];
  books?: Books;

  constructor(
    readonly index: number,
    private readonly url: string,
    private readonly token: string,
  ) {
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
    this.ws.on('message', (raw) => {
      const at = clock();
      // The client stays cheap: an event's header is read from the frame's start, its data never parsed.
      const head = EVENT_HEAD.exec((raw as Buffer).toString('utf8', 0, 400));
      if (head) this.onEvent({ topic: head[1], event: head[2], version: Number(head[3]), orderId: head[4] }, at);
      else this.onMessage(JSON.parse(raw.toString()));
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Subscribes to one topic; resolves once subscribed (`order:` topics: once its snapshot arrived). */
  subscribe(topic: string): Promise<void> {
    const state = newState(topic.startsWith('order:') ? -1 : 0);
    this.topics.set(topic, state);
    const done = topic.startsWith('order:')
      ? new Promise<number | undefined>((resolve) => this.pendingSnapshots.set(topic, resolve))
      : new Promise<number | undefined>((resolve) => this.pendingSubscribes.push(() => resolve(undefined)));
    this.ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));
    return done.then((version) => {
      if (version !== undefined) state.base = version;
    });
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'unsubscribe', topics: [topic] }));
  }

  private onMessage(m: any): void {
    if (m.type === 'subscribed' && !m.topics.some((t: string) => t.startsWith('order:'))) {
      this.pendingSubscribes.shift()?.();
    } else if (m.type === 'snapshot') {
      this.topics.get(m.topic)?.snapshots.set(m.data.id, m.version);
      this.pendingSnapshots.get(m.topic)?.(m.version);
      this.pendingSnapshots.delete(m.topic);
    } else if (m.type === 'error' && m.code === 'FORBIDDEN') {
      for (const t of m.topics ?? []) this.pendingSnapshots.get(t)?.(undefined);
    }
  }

  private onEvent(m: { topic: string; event: string; version: number; orderId: string }, at: number): void {
    const state = this.topics.get(m.topic);
    const books = this.books;
    if (!state || !books) return;
    books.arrivals.push({ orderId: m.orderId, version: m.version, at });
    const key = `${m.orderId}:${m.version}:${m.event}`;
    if (state.received.has(key)) books.duplicates++;
    state.received.add(key);
    const last = state.last.get(m.orderId);
    const snapshot = state.snapshots.get(m.orderId);
    if (last !== undefined && m.version < last) books.outOfOrder++;
    else if (snapshot !== undefined && m.version <= snapshot) books.staleAfterSnapshot++;
    const known = Math.max(last ?? -1, snapshot ?? -1);
    if (known >= 0 && m.version > known + 1) this.onGap(m.orderId, state, books);
    state.last.set(m.orderId, Math.max(last ?? 0, m.version));
  }

  /** A client that sees a gap fetches the order's snapshot (counted apart from losses). */
  private onGap(orderId: string, state: TopicState, books: Books): void {
    books.gaps++;
    http(this.url, 'GET', `/api/v1/orders/${orderId}`, this.token).then(
      (res) => res.status === 200 && state.gapSnapshots.set(orderId, res.body.version),
      () => undefined,
    );
  }
}

/** One client thread's subscribers, the topic they all follow, and the phase's books. */
class ThreadClients {
  private readonly subs = new Map<number, Subscriber>();
  private topic = '';
  private books?: Books;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  async run(c: Command): Promise<Answer> {
    switch (c.type) {
      case 'connect':
        this.topic = c.topic;
        await this.connect(c.subscribers);
        break;
      case 'start':
        this.start();
        break;
      case 'watch':
        this.watch(c.subscriber, c.topic);
        break;
      case 'unwatch':
        this.unwatchOnceArrived(c.subscriber, c.topic, c.until);
        break;
      case 'end':
        return { type: 'books', books: this.end() };
      case 'disconnect':
        for (const s of this.subs.values()) s.ws.terminate();
        this.subs.clear();
    }
    return { type: 'done' };
  }

  private async connect(list: Array<{ index: number; url: string; token: string }>): Promise<void> {
    for (let i = 0; i < list.length; i += 50) {
      // A few at a time: the replicas check each token.
      await Promise.all(
        list.slice(i, i + 50).map(async ({ index, url, token }) => {
          const s = new Subscriber(index, url, token);
          this.subs.set(index, s);
          await s.opened();
          await s.subscribe(this.topic);
        }),
      );
    }
  }

  private start(): void {
    const books: Books = {
      arrivals: [],
      outOfOrder: 0,
      staleAfterSnapshot: 0,
      duplicates: 0,
      gaps: 0,
      subscriptions: [],
    };
    for (const s of this.subs.values()) {
      s.books = books;
      const state = s.topics.get(this.topic)!;
      state.last.clear();
      state.received.clear();
      books.subscriptions.push({ subscriber: s.index, topic: this.topic, state });
    }
    this.books = books;
    this.loopDelay.reset();
    this.loopDelay.enable();
  }

  private end(): ThreadBooks {
    this.loopDelay.disable();
    for (const s of this.subs.values()) s.books = undefined;
    const { subscriptions, ...counts } = this.books!;
    this.books = undefined;
    return {
      ...counts,
      loopDelayP99: this.loopDelay.percentile(99) / 1e6,
      subscriptions: subscriptions.map(({ subscriber, topic, state }) => ({
        subscriber,
        topic,
        base: state.base,
        received: [...state.received],
        gapSnapshots: [...state.gapSnapshots],
      })),
    };
  }

  /**
   * Leaves an order topic once the subscriber has its version `until` (the last one its terminal
   * was answered), or UNWATCH_WAIT_MS after being asked: the terminal moves on when its answer
   * arrives, while the events of that answer may still be on their way to the watchers, and
   * leaving before them would count them lost although nobody dropped them.
   */
  private unwatchOnceArrived(subscriber: number, topic: string, until: number): void {
    const s = this.subs.get(subscriber);
    const state = s?.topics.get(topic);
    const orderId = topic.slice('order:'.length);
    const giveUpAt = clock() + UNWATCH_WAIT_MS;
    const check = () => {
      const has = Math.max(state?.base ?? -1, state?.last.get(orderId) ?? -1);
      if (!state || has >= until || clock() >= giveUpAt) s?.unsubscribe(topic);
      else setTimeout(check, 10);
    };
    check();
  }

  private watch(subscriber: number, topic: string): void {
    const s = this.subs.get(subscriber)!;
    void s.subscribe(topic);
    this.books?.subscriptions.push({ subscriber, topic, state: s.topics.get(topic)! });
  }
}

function runClientThread(port: NonNullable<typeof parentPort>): void {
  const clients = new ThreadClients();
  // Commands run one after another, so a thread's answers come back in the order they were asked.
  let queue = Promise.resolve();
  port.on('message', (c: Command) => {
    queue = queue.then(() =>
      clients.run(c).then(
        (a) => port.postMessage(a),
        (err: unknown) => port.postMessage({ type: 'failed', error: String((err as Error)?.stack ?? err) }),
      ),
    );
  });
}

if (!isMainThread && parentPort) runClientThread(parentPort);

// ---- the main thread's handle -----------------------------------------------------------------

/** A client thread as the main thread drives it: one command at a time, answered in order. */
class ClientThread {
  private readonly waiting: Array<{ resolve: (a: Answer) => void; reject: (e: Error) => void }> = [];
  private failure?: Error;

  constructor(private readonly worker: Worker) {
    worker.on('message', (a: Answer) => {
      const w = this.waiting.shift();
      if (a.type === 'failed') w?.reject(new Error(`client thread: ${a.error}`));
      else w?.resolve(a);
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`client thread exited with code ${code}`)));
  }

  ask(c: Command): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(c);
    });
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** Subscribers `0 … n-1` spread round-robin over the client threads. */
export class ClientThreads {
  private constructor(private readonly threads: ClientThread[]) {}

  /** Starts `count` client threads (this file, compiled by the same register hook as the bench). */
  static start(count: number): ClientThreads {
    const file = path.join(__dirname, 'realtime-clients.ts');
    const register = require.resolve('@swc-node/register');
    const threads = Array.from(
      { length: count },
      () =>
        new ClientThread(
          new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(file)});`, {
            eval: true,
            execArgv: [],
          }),
        ),
    );
    return new ClientThreads(threads);
  }

  get size(): number {
    return this.threads.length;
  }

  private threadOf(subscriber: number): ClientThread {
    return this.threads[subscriber % this.threads.length]!;
  }

  /** Connects subscribers `0 … count-1` (alternating between the replicas) and subscribes each to `topic`. */
  async connect(urls: string[], tokens: string[], count: number, topic: string): Promise<void> {
    await Promise.all(
      this.threads.map((t, k) => {
        const subscribers = [];
        for (let index = k; index < count; index += this.threads.length)
          subscribers.push({ index, url: urls[index % urls.length]!, token: tokens[index % tokens.length]! });
        return t.ask({ type: 'connect', subscribers, topic });
      }),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ask({ type: 'start' })));
  }

  /** The subscriber follows an order topic from its snapshot on (books of the phase it starts in). */
  watch(subscriber: number, topic: string): void {
    // A thread that failed fails the phase's end(); nothing to wait for here.
    this.threadOf(subscriber)
      .ask({ type: 'watch', subscriber, topic })
      .catch(() => undefined);
  }

  /** The subscriber leaves the topic once it has version `until` (see ThreadClients.unwatchOnceArrived). */
  unwatch(subscriber: number, topic: string, until: number): void {
    this.threadOf(subscriber)
      .ask({ type: 'unwatch', subscriber, topic, until })
      .catch(() => undefined);
  }

  /** Ends the phase: every thread's books. */
  async end(): Promise<ThreadBooks[]> {
    const answers = await Promise.all(this.threads.map((t) => t.ask({ type: 'end' })));
    return answers.map((a) => (a as Extract<Answer, { type: 'books' }>).books);
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ask({ type: 'disconnect' })));
  }

  async stop(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.stop()));
  }
}
