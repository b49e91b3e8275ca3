/**
 * mDNS advertisement and device discovery, entirely over loopback unicast.
 *
 * The server's discovery and a second bonjour instance (the "shop LAN": a printer, an LPD
 * printer, a kitchen screen) form a pair of UDP sockets on 127.0.0.1: each bound to its own random
 * port, each sending (multicast-dns `ip`/`port`) to the other's. `multicast: false` means no group
 * membership and no multicast socket options. A guard on dgram below refuses, before it leaves the
 * socket, any datagram to a non-loopback address and any multicast setup, and the last test checks
 * that every datagram went to one of the pair's two ports.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import Bonjour from 'bonjour-service';
import { startHarness, Harness } from './support/harness';
import {
  assertLoopbackOnly,
  dedupePrinters,
  startDiscovery,
  type Discovery,
  type DiscoveredPrinter,
  type MdnsOptions,
} from '../platform/mdns';
import { ConfigError, loadConfig } from '../platform/config';

// ---- network guard: loopback only -------------------------------------------------------------
const sentTo: string[] = [];
const violations: string[] = [];
const proto = dgram.Socket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
const originals: Record<string, (...args: unknown[]) => unknown> = {};
function installGuard(): void {
  originals.send = proto.send!;
  proto.send = function (this: dgram.Socket, ...args: unknown[]) {
    // send(msg, offset, length, port, address, cb) or send(msg, port, address, cb)
    const [port, address] = typeof args[2] === 'number' ? [args[3], args[4]] : [args[1], args[2]];
    if (typeof address !== 'string' || !/^127\./.test(address)) {
      violations.push(`send to ${String(address)}:${String(port)}`);
      throw new Error(`test network guard: refusing to send a datagram to ${String(address)}:${String(port)}`);
    }
    sentTo.push(`${address}:${String(port)}`);
    return originals.send!.apply(this, args);
  };
  for (const name of [
    'addMembership',
    'setMulticastInterface',
    'setMulticastTTL',
    'setMulticastLoopback',
    'setBroadcast',
  ]) {
    originals[name] = proto[name]!;
    proto[name] = function () {
      violations.push(name);
      throw new Error(`test network guard: ${name} is not allowed`);
    };
  }
}
function removeGuard(): void {
  for (const [name, fn] of Object.entries(originals)) proto[name] = fn;
}

// ---- loopback pair ----------------------------------------------------------------------------
async function loopbackSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}
const pairOptions = (own: dgram.Socket, peer: dgram.Socket): MdnsOptions => ({
  multicast: false,
  socket: own,
  bind: false,
  ip: '127.0.0.1',
  port: peer.address().port,
});

/** bonjour-service builds A records from os.networkInterfaces(): give each fake device its own address. */
let interfaces: jest.SpyInstance;
function lanAddress(ip: string): void {
  interfaces.mockReturnValue({
    lan0: [
      {
        address: ip,
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:00:5e:00:00:01',
        internal: false,
        cidr: `${ip}/24`,
      },
    ],
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

let h: Harness;
let manager: string;
let cashier: string;
let serverSocket: dgram.Socket;
let lanSocket: dgram.Socket;
let discovery: Discovery;
let lan: Bonjour;
const lanErrors: Error[] = [];
const D = '/api/v1/devices/discover';

beforeAll(async () => {
  installGuard();
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
  interfaces = jest.spyOn(os, 'networkInterfaces');

  serverSocket = await loopbackSocket();
  lanSocket = await loopbackSocket();
  const apiPort = Number(new URL(h.baseUrl).port);

  // The shop LAN: devices publish in turn, each announced (records registered) before the next.
  lan = new Bonjour(pairOptions(lanSocket, serverSocket) as any, (err: Error) => lanErrors.push(err));
  const publish = async (ip: string, config: Parameters<Bonjour['publish']>[0]) => {
    lanAddress(ip);
    const service = lan.publish({ disableIPv6: true, probe: false, ...config });
    await within(new Promise((resolve) => service.once('up', resolve)), 5_000, `publishing ${config.name}`);
  };
  await publish('192.0.2.50', {
    name: 'Kitchen TM-T20',
    type: 'pdl-datastream',
    port: 9100,
    host: 'epson-kitchen.local',
  });
  await publish('192.0.2.50', {
    name: 'Kitchen TM-T20 (LPD)',
    type: 'printer',
    port: 515,
    host: 'epson-kitchen.local',
  });
  await publish('192.0.2.51', { name: 'Bar LPD', type: 'printer', port: 515, host: 'bar-printer.local' });
  await publish('192.0.2.60', {
    name: 'Line KDS',
    type: 'pos-kds',
    port: 8080,
    host: 'kds-1.local',
    txt: { path: '/screen' },
  });

  // The server: exactly what the launcher does, on the loopback pair, after the API listens.
  lanAddress('192.0.2.10');
  discovery = startDiscovery({
    port: apiPort,
    version: 'test',
    name: 'Tillflow test',
    mdns: pairOptions(serverSocket, lanSocket),
  });
  await within(discovery.advertise(), 5_000, 'advertising _pos._tcp');
});

afterAll(async () => {
  await discovery?.stop();
  await new Promise<void>((resolve) => (lan ? lan.unpublishAll(() => lan.destroy(() => resolve())) : resolve()));
  interfaces?.mockRestore();
  await h?.close();
  removeGuard();
});

describe('configuration', () => {
  const cfg = (env: Record<string, string>) => loadConfig({ TILLFLOW_TOKEN_SECRET: 'x'.repeat(40), ...env });

  it('TILLFLOW_MDNS: auto is off under NODE_ENV=test and CI, on otherwise; on/off are explicit', () => {
    expect(cfg({}).mdns).toBe(true);
    expect(cfg({ TILLFLOW_MDNS: 'auto', NODE_ENV: 'test' }).mdns).toBe(false);
    expect(cfg({ CI: 'true' }).mdns).toBe(false);
    expect(cfg({ CI: 'false' }).mdns).toBe(true);
    expect(cfg({ TILLFLOW_MDNS: 'on', NODE_ENV: 'test', CI: '1' }).mdns).toBe(true);
    expect(cfg({ TILLFLOW_MDNS: 'off' }).mdns).toBe(false);
    expect(() => cfg({ TILLFLOW_MDNS: 'yes' })).toThrow(ConfigError);
    // The suite itself runs with discovery off.
    expect(h.deps.config.mdns).toBe(false);
  });

  it('explicit mDNS options must be loopback unicast (checked before any socket exists)', () => {
    expect(() => startDiscovery({ port: 8000, version: 't', mdns: {} })).toThrow(/multicast must be false/);
    expect(() =>
      startDiscovery({ port: 8000, version: 't', mdns: { multicast: false, interface: '127.0.0.1' } }),
    ).toThrow(/ip must be a 127/);
    expect(() =>
      assertLoopbackOnly({ multicast: false, ip: '224.0.0.251', port: 5353, interface: '127.0.0.1' }),
    ).toThrow(/ip must be a 127/);
    expect(() => assertLoopbackOnly({ multicast: false, ip: '127.0.0.1', port: 5353, interface: '0.0.0.0' })).toThrow(
      /interface/,
    );
    expect(() =>
      assertLoopbackOnly({ multicast: false, ip: '127.0.0.1', port: 5353, interface: '127.0.0.1' }),
    ).not.toThrow();
    expect(() => assertLoopbackOnly(pairOptions(serverSocket, lanSocket))).not.toThrow();
  });
});

describe('GET /api/v1/devices/discover', () => {
  it('answers 503 when discovery is off', async () => {
    expect(h.deps.discovery).toBeUndefined();
    const res = await h.api('GET', D, { token: manager });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'UNAVAILABLE', detail: 'mDNS discovery is off (TILLFLOW_MDNS)' });
  });

  it('finds the printers and kitchen screens advertised on the LAN', async () => {
    h.deps.discovery = discovery;
    const [configured, elsewhere, byName] = await h.deps
      .knex('printers')
      .insert([
        { location_id: h.shop.locationId, name: 'Kitchen', role: 'kitchen', address: 'tcp://192.0.2.50:9100' },
        { location_id: h.shop.locationId, name: 'Old till', role: 'receipt', address: 'tcp://192.0.2.99:9100' },
        { location_id: h.shop.locationId, name: 'By name', role: 'receipt', address: 'tcp://EPSON-KITCHEN.local:9100' },
      ])
      .returning('id');

    const started = Date.now();
    const res = await h.api('GET', `${D}?timeoutMs=600`, { token: manager });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(res.body.printers).toEqual([
      {
        name: 'Bar LPD',
        host: '192.0.2.51',
        port: 515,
        address: 'tcp://192.0.2.51:515',
        type: '_printer._tcp',
        hostname: 'bar-printer.local',
      },
      // Its LPD entry (same device) is left out: raw 9100 is what receipts and tickets are sent to.
      {
        name: 'Kitchen TM-T20',
        host: '192.0.2.50',
        port: 9100,
        address: 'tcp://192.0.2.50:9100',
        type: '_pdl-datastream._tcp',
        hostname: 'epson-kitchen.local',
      },
    ]);
    expect(res.body.kitchenScreens).toEqual([
      { name: 'Line KDS', host: '192.0.2.60', port: 8080, url: 'http://192.0.2.60:8080/screen' },
    ]);
    expect([...res.body.alreadyConfigured].sort()).toEqual([configured.id, byName.id].sort());
    expect(res.body.alreadyConfigured).not.toContain(elsewhere.id);
  });

  it('registers a discovered kitchen screen with its url as the address', async () => {
    h.deps.discovery = discovery;
    const found = await h.api('GET', `${D}?timeoutMs=600`, { token: manager });
    const [kds] = found.body.kitchenScreens;
    const res = await h.api('POST', '/api/v1/kitchen-screens', {
      token: manager,
      body: { name: kds.name, address: kds.url },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Line KDS',
      address: 'http://192.0.2.60:8080/screen',
      token: expect.any(String),
    });
  });

  it('advertises the server itself as _pos._tcp with TXT version, api and docs', async () => {
    const browser = lan.find({ type: 'pos' });
    try {
      const service = await within(
        new Promise<Bonjour.Service>((resolve) => browser.once('up', resolve)),
        5_000,
        'browsing _pos._tcp',
      );
      expect(service.name).toBe('Tillflow test');
      expect(service.type).toBe('pos');
      expect(service.protocol).toBe('tcp');
      expect(service.port).toBe(Number(new URL(h.baseUrl).port));
      expect(service.txt).toEqual({ version: 'test', api: '/api/v1', docs: '/docs' });
      expect(service.addresses).toEqual(['192.0.2.10']);
    } finally {
      browser.stop();
    }
  });

  it('is for managers only', async () => {
    expect((await h.api('GET', D)).status).toBe(401);
    expect((await h.api('GET', D, { token: cashier })).status).toBe(403);
  });

  it('rejects a bad timeoutMs with 422', async () => {
    for (const t of ['abc', '199', '10001', '1.5', '-1']) {
      const res = await h.api('GET', `${D}?timeoutMs=${t}`, { token: manager });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('VALIDATION_ERROR');
      expect(res.body.errors.map((e: any) => e.path)).toContain('query.timeoutMs');
    }
    expect((await h.api('GET', `${D}?timeout=500`, { token: manager })).status).toBe(422);
  });

  it('is in the OpenAPI document', async () => {
    const spec = await h.api('GET', '/openapi.json');
    const op = spec.body.paths['/api/v1/devices/discover'].get;
    expect(op.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name)).toEqual(['timeoutMs']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '422', '503']));
  });
});

describe('de-duplication', () => {
  const p = (o: Partial<DiscoveredPrinter>): DiscoveredPrinter => ({
    name: 'P',
    host: '10.0.0.5',
    port: 9100,
    address: 'tcp://10.0.0.5:9100',
    type: '_pdl-datastream._tcp',
    hostname: 'p.local',
    ...o,
  });

  it('keeps one entry per endpoint and drops LPD entries of a device that offers raw printing', () => {
    expect(dedupePrinters([p({}), p({ name: 'P again' })])).toHaveLength(1);
    expect(dedupePrinters([p({ type: '_printer._tcp' }), p({})])).toEqual([p({})]);
    const lpd = p({ type: '_printer._tcp', port: 515, address: 'tcp://10.0.0.5:515' });
    expect(dedupePrinters([lpd, p({})])).toEqual([p({})]);
    expect(dedupePrinters([lpd])).toEqual([lpd]);
    // A print server with two raw ports is two printers.
    const second = p({ name: 'P2', port: 9101, address: 'tcp://10.0.0.5:9101' });
    expect(dedupePrinters([second, p({})])).toEqual([p({}), second]);
  });
});

describe('network', () => {
  it('sent every datagram over loopback between the two paired sockets only', () => {
    expect(lanErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(sentTo.length).toBeGreaterThan(0);
    const pair = new Set([`127.0.0.1:${serverSocket.address().port}`, `127.0.0.1:${lanSocket.address().port}`]);
    expect(sentTo.filter((d) => !pair.has(d))).toEqual([]);
  });
});
