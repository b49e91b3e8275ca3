import WebSocket from 'ws';

export interface TestSocket {
  messages: any[];
  events(filter?: (m: any) => boolean): any[];
  send(message: unknown): void;
  waitFor(predicate: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Resolves with the close code and reason once the socket has closed (either side). */
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
  raw: WebSocket;
}

export interface ConnectOptions {
  /** Sent from the `open` handler, as browsers do in `onopen`, before the server has checked the token. */
  sendOnOpen?: unknown[];
  /** An owner's pick of location (`?locationId=`). */
  locationId?: string;
}

/** A real WebSocket client that records every message the server sends. */
export async function connectSocket(baseUrl: string, token: string, opts: ConnectOptions = {}): Promise<TestSocket> {
  const location = opts.locationId === undefined ? '' : `&locationId=${encodeURIComponent(opts.locationId)}`;
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}${location}`);
  const messages: any[] = [];
  const waiters: { predicate: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString());
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.predicate(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      for (const m of opts.sendOnOpen ?? []) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
      resolve();
    });
    ws.once('error', reject);
  });
  const socket: TestSocket = {
    messages,
    raw: ws,
    closed,
    events: (filter = () => true) => messages.filter((m) => m.type === 'event' && filter(m)),
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    waitFor: (predicate, timeoutMs = 10_000) => {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`timed out waiting for a message; got ${JSON.stringify(messages.slice(-5)).slice(0, 2000)}`),
            ),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
  return socket;
}
