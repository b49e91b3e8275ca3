import * as os from 'node:os';
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:dgram';
import Bonjour from 'bonjour-service';
import type { Logger } from './logger';

/**
 * mDNS (DNS-SD) for the shop's LAN: the server advertises itself as `_pos._tcp`, and managers
 * discover network receipt/kitchen printers and kitchen screens.
 *
 * Real multicast only happens when `startDiscovery` gets no `mdns` options (the launcher, with
 * TILLFLOW_MDNS on). Options given explicitly must be loopback-unicast (see `assertLoopbackOnly`):
 * tests pair two instances over 127.0.0.1 so nothing ever leaves the machine.
 */

/** The server's own service type: `_pos._tcp`. */
export const POS_SERVICE_TYPE = 'pos';
/** ESC/POS network printers advertise their raw port (9100) as `_pdl-datastream._tcp`; `_printer._tcp` is LPD. */
export const PRINTER_SERVICE_TYPES = ['pdl-datastream', 'printer'] as const;
/** Kitchen display screens. */
export const KDS_SERVICE_TYPE = 'pos-kds';
export const API_PATH = '/api/v1';
export const DOCS_PATH = '/docs';

/** The multicast-dns options used here (see node_modules/multicast-dns/index.js). */
export interface MdnsOptions {
  /** false: no group membership and no multicast socket options; every packet goes to `ip:port`. */
  multicast?: boolean;
  /** Where every query and answer is sent (default 224.0.0.251). */
  ip?: string;
  /** Port bound (unless `bind: false`) and sent to (default 5353). */
  port?: number;
  /** Address bound, and the multicast interface. */
  interface?: string;
  /** An already-bound socket to use (with `bind: false`). */
  socket?: Socket;
  bind?: string | false;
  reuseAddr?: boolean;
  loopback?: boolean;
  ttl?: number;
  type?: 'udp4';
}

export type PrinterServiceType = `_${(typeof PRINTER_SERVICE_TYPES)[number]}._tcp`;

export interface DiscoveredPrinter {
  /** DNS-SD instance name, e.g. "EPSON TM-T88VI". */
  name: string;
  /** IPv4 address when the printer announced one, else its mDNS host name. */
  host: string;
  port: number;
  /** `tcp://host:port`, ready for POST /api/v1/printers. */
  address: string;
  type: PrinterServiceType;
  /** The SRV target, e.g. "EPSON1A2B3C.local". */
  hostname: string;
}

export interface DiscoveredKitchenScreen {
  name: string;
  host: string;
  port: number;
  /** From the TXT record: `url`, or `path` on http://host:port. */
  url?: string;
}

export interface DiscoveryResult {
  printers: DiscoveredPrinter[];
  kitchenScreens: DiscoveredKitchenScreen[];
}

export interface Discovery {
  /** Publishes `_pos._tcp` (TXT version, api, docs); resolves once announced. Idempotent. */
  advertise(): Promise<void>;
  /** Browses printers and kitchen screens for `timeoutMs`, then returns what answered (de-duplicated). */
  browse(timeoutMs: number): Promise<DiscoveryResult>;
  /** Says goodbye (TTL 0) for the advertisement and closes the socket. Idempotent. */
  stop(): Promise<void>;
}

export interface DiscoveryOptions {
  /** The port the API really listens on. */
  port: number;
  version: string;
  /** Instance name (default "Tillflow <hostname>"). */
  name?: string;
  /** multicast-dns options; when given they must be loopback unicast (tests). Omit for the real LAN. */
  mdns?: MdnsOptions;
  logger?: Logger;
  /** How long advertise() waits for the announcement (default 5 s). */
  advertiseTimeoutMs?: number;
}

type Service = Bonjour.Service;

const isLoopback = (ip: string | undefined) => !!ip && isIPv4(ip) && ip.startsWith('127.');

/**
 * Explicit options are for tests: they must not send a single packet off the machine. multicast-dns
 * sends every query and answer to `ip:port` and, with `multicast: false`, never joins a group or
 * sets a multicast interface.
 */
export function assertLoopbackOnly(o: MdnsOptions): void {
  const problems: string[] = [];
  if (o.multicast !== false) problems.push('multicast must be false');
  if (!isLoopback(o.ip)) problems.push(`ip must be a 127.x address (got ${o.ip ?? 'the default 224.0.0.251'})`);
  if (o.socket) {
    let bound: string | undefined;
    try {
      bound = o.socket.address().address;
    } catch {
      /* not bound */
    }
    if (!isLoopback(bound)) problems.push('socket must already be bound to a 127.x address');
    if (o.bind !== false) problems.push('bind must be false with a bound socket');
  } else if (!isLoopback(typeof o.bind === 'string' ? o.bind : o.interface)) {
    problems.push('interface (or bind) must be a 127.x address');
  }
  if (problems.length) throw new Error(`mDNS options must be loopback unicast: ${problems.join('; ')}`);
}

function localHostName(): string {
  return (os.hostname().split('.')[0] || 'tillflow').toLowerCase();
}

/** DNS labels are at most 63 bytes; bonjour-service turns dots into dashes. */
function instanceName(name: string): string {
  let out = name.replace(/\./g, '-').trim() || 'Tillflow';
  while (Buffer.byteLength(out) > 63) out = out.slice(0, -1);
  return out;
}

const stripDot = (name: string | undefined) => (name ?? '').replace(/\.$/, '');

/** An address the print activity can connect to: an announced IPv4, else where the answer came from, else the host name. */
function reachableHost(s: Service): string {
  const v4 = (s.addresses ?? []).find((a) => isIPv4(a));
  if (v4) return v4;
  if (s.referer && isIPv4(s.referer.address)) return s.referer.address;
  return stripDot(s.host);
}

function validPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) > 0 && (port as number) <= 65535;
}

function txtString(s: Service, key: string): string | undefined {
  const v = (s.txt as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' && v ? v : undefined;
}

function kitchenScreenUrl(s: Service, host: string): string | undefined {
  const url = txtString(s, 'url');
  if (url && /^https?:\/\//i.test(url)) return url;
  const path = txtString(s, 'path');
  if (path) return `http://${host}:${s.port}${path.startsWith('/') ? '' : '/'}${path}`;
  return undefined;
}

const byNameThenAddress = <T extends { name: string; host: string; port: number }>(a: T, b: T) =>
  a.name.localeCompare(b.name) || a.host.localeCompare(b.host) || a.port - b.port;

/** Same endpoint seen twice → once; an LPD entry of a device that also offers raw printing → dropped. */
export function dedupePrinters(found: DiscoveredPrinter[]): DiscoveredPrinter[] {
  const byAddress = new Map<string, DiscoveredPrinter>();
  for (const p of found) {
    const key = p.address.toLowerCase();
    const seen = byAddress.get(key);
    if (!seen || (seen.type === '_printer._tcp' && p.type === '_pdl-datastream._tcp')) byAddress.set(key, p);
  }
  const unique = [...byAddress.values()];
  const raw = unique.filter((p) => p.type === '_pdl-datastream._tcp');
  const sameDevice = (a: DiscoveredPrinter, b: DiscoveredPrinter) =>
    a.host.toLowerCase() === b.host.toLowerCase() ||
    (!!a.hostname && a.hostname.toLowerCase() === b.hostname.toLowerCase());
  return unique
    .filter((p) => p.type === '_pdl-datastream._tcp' || !raw.some((r) => sameDevice(r, p)))
    .sort(byNameThenAddress);
}

function toPrinter(s: Service): DiscoveredPrinter | undefined {
  if (!validPort(s.port) || !s.name) return undefined;
  const type = `_${s.type}._tcp` as PrinterServiceType;
  const host = reachableHost(s);
  if (!host) return undefined;
  return { name: s.name, host, port: s.port, address: `tcp://${host}:${s.port}`, type, hostname: stripDot(s.host) };
}

function toKitchenScreen(s: Service): DiscoveredKitchenScreen | undefined {
  if (!validPort(s.port) || !s.name) return undefined;
  const host = reachableHost(s);
  if (!host) return undefined;
  const url = kitchenScreenUrl(s, host);
  return { name: s.name, host, port: s.port, ...(url ? { url } : {}) };
}

function dedupeScreens(found: DiscoveredKitchenScreen[]): DiscoveredKitchenScreen[] {
  const byEndpoint = new Map<string, DiscoveredKitchenScreen>();
  for (const k of found) byEndpoint.set(`${k.host.toLowerCase()}:${k.port}`, k);
  return [...byEndpoint.values()].sort(byNameThenAddress);
}

/** Publishes the POS service once; settles when it is up, fails after the timeout or when discovery stops. */
function announce(
  bonjour: Bonjour,
  opts: DiscoveryOptions & { name: string },
  onStop: Set<() => void>,
  log: Logger | undefined,
): Promise<void> {
  const { name } = opts;
  return new Promise<void>((resolve, reject) => {
    const service = bonjour.publish({
      name,
      type: POS_SERVICE_TYPE,
      port: opts.port,
      host: `${localHostName()}.local`,
      txt: { version: opts.version, api: API_PATH, docs: DOCS_PATH },
    });
    const timeoutMs = opts.advertiseTimeoutMs ?? 5_000;
    const settle = (err?: Error) => {
      clearTimeout(timer);
      onStop.delete(cancel);
      if (err) reject(err);
      else resolve();
    };
    const cancel = () => settle(new Error('mDNS discovery stopped before the advertisement went out'));
    const timer = setTimeout(
      () =>
        settle(
          new Error(
            `mDNS advertisement "${name}" was not announced within ${timeoutMs} ms (name in use on the network?)`,
          ),
        ),
      timeoutMs,
    );
    timer.unref();
    onStop.add(cancel);
    service.once('up', () => {
      log?.info({ name, type: `_${POS_SERVICE_TYPE}._tcp`, port: opts.port }, 'advertising over mDNS');
      settle();
    });
  });
}

/** The printers and kitchen screens the (stopped) browsers found, deduplicated and sorted. */
function foundServices(browsers: Array<{ type: string; browser: { services: Service[] } }>): DiscoveryResult {
  const printers: DiscoveredPrinter[] = [];
  const kitchenScreens: DiscoveredKitchenScreen[] = [];
  for (const { type, browser } of browsers) {
    for (const s of browser.services) {
      if (type === KDS_SERVICE_TYPE) {
        const k = toKitchenScreen(s);
        if (k) kitchenScreens.push(k);
      } else {
        const p = toPrinter(s);
        if (p) printers.push(p);
      }
    }
  }
  return { printers: dedupePrinters(printers), kitchenScreens: dedupeScreens(kitchenScreens) };
}

export function startDiscovery(opts: DiscoveryOptions): Discovery {
  if (opts.mdns) assertLoopbackOnly(opts.mdns);
  if (!validPort(opts.port)) throw new Error(`mDNS: invalid port ${opts.port}`);
  const log = opts.logger?.child({ component: 'mdns' });
  const onError = (err: Error) => log?.warn({ err }, 'mDNS socket error');
  // bonjour-service's typing of its options is wrong: they go to multicast-dns as they are.
  const bonjour = new Bonjour((opts.mdns ?? {}) as unknown as ConstructorParameters<typeof Bonjour>[0], onError);
  // multicast-dns emits 'error' (EADDRINUSE/EACCES on bind) with no listener of its own: never crash on it.
  const mdns = (bonjour as unknown as { server: { mdns: NodeJS.EventEmitter } }).server.mdns;
  mdns.on('error', onError);
  mdns.on('warning', (err: Error) => log?.debug({ err }, 'mDNS warning'));

  const name = instanceName(opts.name ?? `Tillflow ${localHostName()}`);
  let advertised: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  /** Browses in flight finish early (with what they found) when discovery stops. */
  const finishers = new Set<() => void>();
  const onStop = new Set<() => void>();

  return {
    advertise() {
      if (stopped) return Promise.reject(new Error('mDNS discovery is stopped'));
      advertised ??= announce(bonjour, { ...opts, name }, onStop, log);
      return advertised;
    },

    browse(timeoutMs) {
      if (stopped) return Promise.reject(new Error('mDNS discovery is stopped'));
      const types = [...PRINTER_SERVICE_TYPES, KDS_SERVICE_TYPE];
      const browsers = types.map((type) => ({ type, browser: bonjour.find({ type }) }));
      return new Promise<DiscoveryResult>((resolve) => {
        // mDNS queries get lost: ask again after 1 s, 3 s, … while the window lasts.
        const timers: NodeJS.Timeout[] = [];
        for (let at = 1_000; at < timeoutMs; at *= 3) {
          timers.push(setTimeout(() => browsers.forEach((b) => b.browser.update()), at));
        }
        const finish = () => {
          finishers.delete(finish);
          clearTimeout(deadline);
          timers.forEach(clearTimeout);
          browsers.forEach((b) => b.browser.stop());
          resolve(foundServices(browsers));
        };
        const deadline = setTimeout(finish, timeoutMs);
        finishers.add(finish);
      });
    },

    stop() {
      stopped ??= (async () => {
        [...finishers].forEach((f) => f());
        [...onStop].forEach((f) => f());
        // Goodbye packets (TTL 0) so browsers drop us now rather than when the records expire.
        await withDeadline(new Promise<void>((resolve) => bonjour.unpublishAll(() => resolve())), 2_000);
        await withDeadline(new Promise<void>((resolve) => bonjour.destroy(() => resolve())), 2_000);
      })();
      return stopped;
    },
  };
}

async function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
