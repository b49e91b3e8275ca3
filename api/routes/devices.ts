import * as yup from 'yup';
import { noUnknown } from '../validation';
import { json, route, MANAGER, type AnyRoute } from '../route';
import { ref } from '../openapi-schemas';
import { unavailable } from '../errors';
import { Printer } from '../../db/models/printer';
import { parsePrinterAddress } from '../../core/printer-address';
import type { DiscoveredPrinter } from '../../platform/mdns';

const TAG = 'Printing';

const discoverQuery = noUnknown(
  yup.object({
    timeoutMs: yup
      .number()
      .typeError('${path} must be a number of milliseconds')
      .integer('${path} must be a whole number of milliseconds')
      .min(200)
      .max(10_000)
      .default(2_000),
  }),
);

/** Configured printers that point at a discovered one (by its IPv4 or its mDNS host name, and port). */
function matchesDiscovered(address: string, found: DiscoveredPrinter[]): boolean {
  let target: { host: string; port: number };
  try {
    target = parsePrinterAddress(address);
  } catch {
    return false;
  }
  const host = target.host.toLowerCase().replace(/\.$/, '');
  return found.some((p) => p.port === target.port && [p.host, p.hostname].some((h) => h && h.toLowerCase() === host));
}

export function devicesRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/devices/discover',
      summary:
        'Find network printers (_pdl-datastream._tcp, _printer._tcp) and kitchen screens (_pos-kds._tcp) over mDNS for timeoutMs (200-10000, default 2000)',
      tag: TAG,
      roles: MANAGER,
      query: discoverQuery,
      responses: {
        200: json(
          '{printers: [{name, host, port, address, type, hostname}], kitchenScreens: [{name, host, port, url?}], alreadyConfigured: [printer id]}',
          ref('Discovery'),
        ),
      },
      errors: [503],
      handler: async ({ query, auth, deps }) => {
        if (!deps.discovery) throw unavailable('mDNS discovery is off (TILLFLOW_MDNS)');
        // browse() only fails once discovery has stopped (shutting down).
        const found = await deps.discovery.browse(query.timeoutMs).catch(() => {
          throw unavailable('mDNS discovery is stopping');
        });
        const configured = await Printer.query(deps.knex)
          .where('location_id', auth.locationId)
          .orderBy(['role', 'name', 'id']);
        return {
          printers: found.printers,
          kitchenScreens: found.kitchenScreens,
          alreadyConfigured: configured.filter((p) => matchesDiscovered(p.address, found.printers)).map((p) => p.id),
        };
      },
    }),
  ];
}
