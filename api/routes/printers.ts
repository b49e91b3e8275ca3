import * as yup from 'yup';
import { bool, defined, idParams, name, noUnknown, nonEmpty, uuid as uuidRef } from '../validation';
import type { Knex } from 'knex';
import { json, route, MANAGER, type AnyRoute } from '../route';
import { listOf, ref } from '../openapi-schemas';
import { auditedTable } from '../audited-table';
import { fieldError } from '../errors';
import { Printer, type PrinterRole } from '../../db/models/printer';

const TAG = 'Printing';

/** A literal written case-insensitively without regex flags (JSON Schema patterns have none). */
const anyCase = (literal: string) => literal.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`).replace(/\./g, '\\.');

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const PORT = '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
/** Cloud metadata services: a printer address there would make the print worker an SSRF probe. */
const METADATA_HOSTS = [
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
];
/**
 * tcp://host:port where host is a dotted-quad IPv4 or a host name whose last label starts with a
 * letter (so 0x7f.1 or 2852039166, which the resolver would read as IPv4, are refused), and never
 * link-local (169.254.0.0/16: cloud metadata lives there), 100.100.100.200 or a metadata host name.
 * Loopback stays allowed: a USB printer behind a local raw-TCP server is common on a Pi. IPv6
 * (fe80::/10 included) cannot be written at all: the printer library does not support it.
 */
export const PRINTER_ADDRESS = new RegExp(
  '^tcp://' +
    `(?!169\\.254\\.)(?!100\\.100\\.100\\.200:)(?!(?:${METADATA_HOSTS.map(anyCase).join('|')}):)` +
    `(?:${OCTET}(?:\\.${OCTET}){3}|(?:${LABEL}\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)` +
    `:${PORT}$`,
);

/** A kitchen station's categories (printers and screens): null or empty means no filter. */
export const stationCategories = yup
  .array(uuidRef().required())
  .strict()
  .max(100)
  .nullable()
  .test('unique', '${path} must not repeat an id', (ids) => !ids || new Set(ids).size === ids.length);

const printerFields = {
  name: name(),
  role: yup.string<PrinterRole>().strict().oneOf(['receipt', 'kitchen'], '${path} must be receipt or kitchen'),
  address: yup
    .string()
    .strict()
    .max(300)
    .matches(
      PRINTER_ADDRESS,
      '${path} must look like tcp://192.168.1.50:9100 (no link-local or cloud metadata address)',
    ),
  enabled: bool(),
  /** A kitchen station: only these categories' lines (null or empty: no filter). */
  categoryIds: stationCategories,
  backupPrinterId: uuidRef().nullable(),
};
const printerCreate = noUnknown(
  yup.object({
    ...printerFields,
    name: name().required(),
    role: printerFields.role.required(),
    address: printerFields.address.required(),
  }),
);
const printerPatch = nonEmpty(noUnknown(yup.object(printerFields)));

const printerView = (p: Printer) => ({
  id: p.id,
  name: p.name,
  role: p.role,
  address: p.address,
  enabled: p.enabled,
  categoryIds: p.categoryIds?.length ? p.categoryIds : null,
  backupPrinterId: p.backupPrinterId ?? null,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

// assertRouting locks the backup chain's rows itself; the printer's own row stays unlocked, as before.
const printers = auditedTable({
  model: Printer,
  label: 'Printer',
  entity: 'printer',
  view: printerView,
  lockRow: false,
});

/** 422 unless every category is this location's (kitchen printers and kitchen screens filter by them). */
export async function assertCategories(knex: Knex, locationId: string, categoryIds: string[] | null | undefined) {
  const ids = categoryIds ?? [];
  if (!ids.length) return;
  const found = new Set(
    (await knex('categories').where('location_id', locationId).whereIn('id', ids).select('id')).map(
      (c: { id: string }) => c.id,
    ),
  );
  const missing = ids.findIndex((id) => !found.has(id));
  if (missing >= 0) throw fieldError(`categoryIds[${missing}]`, 'Not a category of this location');
}

/** 422 unless every category is this location's and the backup is another printer here whose chain never leads back. */
async function assertRouting(
  trx: Knex.Transaction,
  locationId: string,
  printerId: string | undefined,
  body: { categoryIds?: string[] | null; backupPrinterId?: string | null },
) {
  await assertCategories(trx, locationId, body.categoryIds);
  if (!body.backupPrinterId) return;
  if (body.backupPrinterId === printerId) throw fieldError('backupPrinterId', 'A printer cannot be its own backup');
  // Walk the backup's chain under row locks: two concurrent changes cannot close a loop between them.
  for (let id: string | null = body.backupPrinterId, first = true; id; first = false) {
    const p: Printer | undefined = await Printer.query(trx).forUpdate().findOne({ id, location_id: locationId });
    if (!p) {
      if (first) throw fieldError('backupPrinterId', 'Not a printer of this location');
      return;
    }
    if (p.backupPrinterId === printerId)
      throw fieldError('backupPrinterId', 'That backup chain leads back to this printer');
    id = p.backupPrinterId ?? null;
  }
}

export function printersRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/printers',
      summary: 'List printers (receipt printers first, then kitchen; by name)',
      tag: TAG,
      roles: MANAGER,
      responses: { 200: json('Printer[]', listOf('Printer')) },
      handler: async ({ auth, deps }) =>
        (await Printer.query(deps.knex).where('location_id', auth.locationId).orderBy(['role', 'name', 'id'])).map(
          printerView,
        ),
    }),
    route({
      method: 'post',
      path: '/api/v1/printers',
      summary: 'Add a printer (role receipt|kitchen, address tcp://host:9100)',
      tag: TAG,
      roles: MANAGER,
      body: printerCreate,
      responses: { 201: json('Printer', ref('Printer')) },
      handler: async ({ body, auth, deps, ctx }) => {
        const p = await printers.create(deps.knex, auth, defined(body), (trx) =>
          assertRouting(trx, auth.locationId, undefined, body),
        );
        ctx.status = 201;
        return p;
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/printers/:id',
      summary: 'Get a printer',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      responses: { 200: json('Printer', ref('Printer')) },
      handler: async ({ params, auth, deps }) =>
        printerView(await printers.find(deps.knex, auth.locationId, params.id)),
    }),
    route({
      method: 'patch',
      path: '/api/v1/printers/:id',
      summary: 'Change a printer',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      body: printerPatch,
      responses: { 200: json('Printer', ref('Printer')) },
      handler: async ({ params, body, auth, deps }) =>
        printers.change(deps.knex, auth, params.id, defined(body), (trx) =>
          assertRouting(trx, auth.locationId, params.id, body),
        ),
    }),
    route({
      method: 'delete',
      path: '/api/v1/printers/:id',
      summary: 'Remove a printer',
      tag: TAG,
      roles: MANAGER,
      params: idParams,
      responses: { 204: 'deleted' },
      handler: async ({ params, auth, deps, ctx }) => {
        await printers.remove(deps.knex, auth, params.id);
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
