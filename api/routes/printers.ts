import * as yup from 'yup';
import { bool, defined, idParams, name, noUnknown, nonEmpty } from '../validation';
import type { Knex } from 'knex';
import { route, MANAGER, type AnyRoute } from '../route';
import { audit, changedFields } from '../audit';
import { notFound } from '../errors';
import { Printer, type PrinterRole } from '../../db/models/printer';
import { parsePrinterAddress } from '../../activities/printing/printer';

const TAG = 'Printing';

/** Accepts exactly what the print activity can connect to. */
const isPrinterAddress = (v: string | undefined) => {
  if (v === undefined) return true;
  try {
    parsePrinterAddress(v);
    return true;
  } catch {
    return false;
  }
};

const printerFields = {
  name: name(),
  role: yup.string<PrinterRole>().strict().oneOf(['receipt', 'kitchen'], '${path} must be receipt or kitchen'),
  address: yup.string().strict().max(300).test('tcp', '${path} must look like tcp://192.168.1.50:9100', isPrinterAddress),
  enabled: bool(),
};
const printerCreate = noUnknown(
  yup.object({ ...printerFields, name: name().required(), role: printerFields.role.required(), address: printerFields.address.required() }),
);
const printerPatch = nonEmpty(noUnknown(yup.object(printerFields)));

const printerView = (p: Printer) => ({
  id: p.id,
  name: p.name,
  role: p.role,
  address: p.address,
  enabled: p.enabled,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

async function findPrinter(knex: Knex, locationId: string, id: string): Promise<Printer> {
  const p = await Printer.query(knex).findOne({ id, location_id: locationId });
  if (!p) throw notFound('Printer');
  return p;
}

export function printersRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get', path: '/api/v1/printers', summary: 'List printers (receipt printers first, then kitchen; by name)', tag: TAG, roles: MANAGER,
      responses: { 200: 'Printer[]' },
      handler: async ({ auth, deps }) =>
        (await Printer.query(deps.knex).where('location_id', auth.locationId).orderBy(['role', 'name', 'id'])).map(printerView),
    }),
    route({
      method: 'post', path: '/api/v1/printers', summary: 'Add a printer (role receipt|kitchen, address tcp://host:9100)', tag: TAG, roles: MANAGER,
      body: printerCreate,
      responses: { 201: 'Printer' },
      handler: async ({ body, auth, deps, ctx }) => {
        const p = await deps.knex.transaction(async (trx) => {
          const created = await Printer.query(trx).insert({ ...defined(body), locationId: auth.locationId }).returning('*');
          await audit(trx, auth, 'printer.created', created.id, { after: printerView(created) });
          return created;
        });
        ctx.status = 201;
        return printerView(p);
      },
    }),
    route({
      method: 'get', path: '/api/v1/printers/:id', summary: 'Get a printer', tag: TAG, roles: MANAGER,
      params: idParams,
      responses: { 200: 'Printer' },
      handler: async ({ params, auth, deps }) => printerView(await findPrinter(deps.knex, auth.locationId, params.id)),
    }),
    route({
      method: 'patch', path: '/api/v1/printers/:id', summary: 'Change a printer', tag: TAG, roles: MANAGER,
      params: idParams, body: printerPatch,
      responses: { 200: 'Printer' },
      handler: async ({ params, body, auth, deps }) => {
        return deps.knex.transaction(async (trx) => {
          const before = await findPrinter(trx, auth.locationId, params.id);
          const [p] = await Printer.query(trx).where({ id: params.id, location_id: auth.locationId }).patch(defined(body)).returning('*');
          const diff = changedFields(printerView(before), printerView(p!));
          if (diff) await audit(trx, auth, 'printer.changed', params.id, diff);
          return printerView(p!);
        });
      },
    }),
    route({
      method: 'delete', path: '/api/v1/printers/:id', summary: 'Remove a printer', tag: TAG, roles: MANAGER,
      params: idParams,
      responses: { 204: 'deleted' },
      handler: async ({ params, auth, deps, ctx }) => {
        await deps.knex.transaction(async (trx) => {
          const before = await findPrinter(trx, auth.locationId, params.id);
          await Printer.query(trx).where({ id: params.id }).delete();
          await audit(trx, auth, 'printer.deleted', params.id, { before: printerView(before) });
        });
        ctx.status = 204;
        return undefined;
      },
    }),
  ];
}
