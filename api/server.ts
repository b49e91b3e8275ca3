import * as http from 'node:http';
import websockify from 'koa-websocket';
import { createApp } from './app';
import { EventHub } from './realtime/hub';
import { websocketHandler, WS_LIMITS } from './realtime/ws';
import type { AppDeps } from './types';
import { SessionCache } from './session-cache';
import { WrittenEvents } from './written-events';

export interface ApiServer {
  server: http.Server;
  hub: EventHub;
  url: string;
  close(): Promise<void>;
}

/** The HTTP API and the WebSocket endpoint on one server, with this replica's event listener. */
export async function startApiServer(
  shared: AppDeps,
  opts: { databaseUrl: string; port: number; host: string; pingIntervalMs?: number },
): Promise<ApiServer> {
  // Each server has its own token cache, kept honest by its own revocation listener, and its own
  // marks of the events it wrote. Everything else is read through to the shared deps (not
  // copied), so a dependency set on them later (mDNS discovery, gateways) reaches this server too.
  const deps: AppDeps = Object.assign(Object.create(shared) as AppDeps, {
    sessions: new SessionCache(),
    writtenEvents: new WrittenEvents(),
  });
  const hub = new EventHub(opts.databaseUrl, deps.knex, deps.logger, deps.sessions);
  await hub.start();
  const app = websockify(createApp(deps) as any);
  app.ws.use(websocketHandler(deps, hub, { pingIntervalMs: opts.pingIntervalMs }) as any);
  const handle = app.callback();
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  // ws would accept 100 MiB frames by default; a larger frame closes the socket with 1009.
  app.ws.listen({ server, maxPayload: WS_LIMITS.maxPayloadBytes });
  const address = server.address() as { port: number };
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    server,
    hub,
    url: `http://${shownHost}:${address.port}`,
    close: async () => {
      for (const client of app.ws.server?.clients ?? []) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await hub.stop();
    },
  };
}
