/**
 * Cash drawer sessions (`/api/v1/drawers/:drawerId/sessions`): open with a float, paid-in and
 * paid-out with reasons, close with the counted amount. Cash payments and cash refunds are
 * counted in by the database (migration 060_04_cash_drawers). Every change is audited in its
 * transaction.
 */
import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route, CASHIER, type AnyRoute } from '../route';
import { ref } from '../openapi-schemas';
import { audit } from '../audit';
import { conflict, notFound } from '../errors';
import { isoDate, money, noUnknown, nonBlank, uuid } from '../validation';
import { conflictOnUnique } from '../validation';
import { loadSettings } from '../settings-read';
import { localDayRange } from '../time';
import { TERMINAL_ID } from './displays';

const TAG = 'Cash drawers';
const drawerId = () =>
  yup
    .string()
    .strict()
    .matches(/^[A-Za-z0-9._-]{1,32}$/, '${path}: 1-32 letters, digits, . _ -');
const terminalId = () => yup.string().strict().matches(TERMINAL_ID, 'terminalId: 1-64 letters, digits, . _ : -');
const drawerParams = yup.object({ drawerId: drawerId().required() });
const sessionParams = yup.object({ drawerId: drawerId().required(), id: uuid().required() });

interface SessionRow {
  id: string;
  location_id: string;
  drawer_id: string;
  terminal_id: string | null;
  status: 'open' | 'closed';
  float: number;
  opened_by: string | null;
  opened_at: Date;
  expected: number | null;
  counted: number | null;
  closed_by: string | null;
  closed_at: Date | null;
}

/** float + every movement so far (the figure a close fixes as `expected`). */
async function expectedOf(db: Knex | Knex.Transaction, s: SessionRow): Promise<number> {
  const row = await db('drawer_movements').where('session_id', s.id).sum({ total: 'delta' }).first();
  return s.float + Number(row?.total ?? 0);
}

async function sessionView(db: Knex | Knex.Transaction, s: SessionRow) {
  const movements = await db('drawer_movements').where('session_id', s.id).orderBy('created_at').orderBy('id');
  const expected = s.status === 'closed' ? s.expected! : await expectedOf(db, s);
  return {
    id: s.id,
    drawerId: s.drawer_id,
    terminalId: s.terminal_id,
    status: s.status,
    float: s.float,
    openedBy: s.opened_by,
    openedAt: s.opened_at,
    expected,
    counted: s.counted,
    overShort: s.counted === null ? null : s.counted - expected,
    closedBy: s.closed_by,
    closedAt: s.closed_at,
    movements: movements.map((m) => ({
      id: m.id,
      type: m.type,
      amount: Math.abs(Number(m.delta)),
      delta: Number(m.delta),
      reason: m.reason,
      paymentId: m.payment_id,
      refundId: m.refund_id,
      staffId: m.staff_id,
      createdAt: m.created_at,
    })),
  };
}

/** The session under a row lock; 404 unless it is this drawer's at this location, 409 once closed. */
async function openSession(
  trx: Knex.Transaction,
  locationId: string,
  params: { drawerId: string; id: string },
): Promise<SessionRow> {
  const s: SessionRow | undefined = await trx('drawer_sessions')
    .where({ id: params.id, location_id: locationId, drawer_id: params.drawerId })
    .forUpdate()
    .first();
  if (!s) throw notFound('Drawer session');
  if (s.status !== 'open') throw conflict('This drawer session is closed');
  return s;
}

const openDrawerSession = route({
  method: 'post',
  path: '/api/v1/drawers/:drawerId/sessions',
  summary:
    "Open a drawer session with a float (one open session per drawer: 409 otherwise). With terminalId the drawer is that terminal's (one open drawer per terminal: 409 otherwise): the cash it takes counts into this session; terminals without a drawer of their own count into a shared one (opened without terminalId), never into another terminal's.",
  tag: TAG,
  roles: CASHIER,
  params: drawerParams,
  body: noUnknown(yup.object({ float: money().required(), terminalId: terminalId() })),
  responses: { 201: json('DrawerSession', ref('DrawerSession')) },
  errors: [409],
  handler: async ({ params, body, auth, deps, ctx }) => {
    const view = await deps.knex.transaction(async (trx) => {
      const [s] = await trx('drawer_sessions')
        .insert({
          location_id: auth.locationId,
          drawer_id: params.drawerId,
          terminal_id: body.terminalId ?? null,
          float: body.float,
          opened_by: auth.staffId,
        })
        .returning('*')
        .catch(
          conflictOnUnique({
            drawer_sessions_one_open: `Drawer ${params.drawerId} already has an open session`,
            drawer_sessions_one_open_per_terminal: `Terminal ${body.terminalId} already has an open drawer`,
          }),
        );
      await audit(trx, auth, 'drawer.opened', s.id, {
        drawerId: params.drawerId,
        terminalId: body.terminalId ?? null,
        float: body.float,
      });
      return sessionView(trx, s);
    });
    ctx.status = 201;
    return view;
  },
});

const listSessions = route({
  method: 'get',
  path: '/api/v1/drawers/:drawerId/sessions',
  summary: "A drawer's sessions opened on a day (the location's local day; default today), newest first",
  tag: TAG,
  roles: CASHIER,
  params: drawerParams,
  query: noUnknown(yup.object({ date: isoDate() })),
  responses: { 200: json('{sessions}', ref('DrawerSessionList')) },
  handler: async ({ params, query, auth, deps }) => {
    const settings = await loadSettings(deps.knex, auth.locationId);
    const tz = settings?.timezone ?? 'UTC';
    const date = query.date ?? new Date().toLocaleDateString('en-CA', { timeZone: tz });
    const { start, end } = localDayRange(date, tz);
    const rows: SessionRow[] = await deps
      .knex('drawer_sessions')
      .where({ location_id: auth.locationId, drawer_id: params.drawerId })
      .where('opened_at', '>=', start)
      .where('opened_at', '<', end)
      .orderBy('opened_at', 'desc');
    return { sessions: await Promise.all(rows.map((s) => sessionView(deps.knex, s))) };
  },
});

const recordMovement = route({
  method: 'post',
  path: '/api/v1/drawers/:drawerId/sessions/:id/movements',
  summary: 'Paid-in or paid-out of an open session, with a reason',
  tag: TAG,
  roles: CASHIER,
  params: sessionParams,
  body: noUnknown(
    yup.object({
      type: yup
        .string()
        .strict()
        .oneOf(['paid_in', 'paid_out'] as const)
        .required(),
      amount: money().min(1).required(),
      reason: nonBlank(200).required(),
    }),
  ),
  responses: { 201: json('DrawerSession', ref('DrawerSession')) },
  errors: [409],
  handler: async ({ params, body, auth, deps, ctx }) => {
    const view = await deps.knex.transaction(async (trx) => {
      const s = await openSession(trx, auth.locationId, params);
      const delta = body.type === 'paid_in' ? body.amount : -body.amount;
      await trx('drawer_movements').insert({
        location_id: auth.locationId,
        session_id: s.id,
        type: body.type,
        delta,
        reason: body.reason,
        staff_id: auth.staffId,
      });
      await audit(trx, auth, `drawer.${body.type}`, s.id, {
        drawerId: params.drawerId,
        amount: body.amount,
        reason: body.reason,
      });
      return sessionView(trx, s);
    });
    ctx.status = 201;
    return view;
  },
});

const closeSession = route({
  method: 'post',
  path: '/api/v1/drawers/:drawerId/sessions/:id/close',
  summary: 'Close a session with the counted amount → expected, counted, overShort',
  tag: TAG,
  roles: CASHIER,
  params: sessionParams,
  body: noUnknown(yup.object({ counted: money().required() })),
  responses: { 200: json('DrawerSession', ref('DrawerSession')) },
  errors: [409],
  handler: async ({ params, body, auth, deps }) =>
    deps.knex.transaction(async (trx) => {
      const s = await openSession(trx, auth.locationId, params);
      const expected = await expectedOf(trx, s);
      const [closed] = await trx('drawer_sessions')
        .where('id', s.id)
        .update({
          status: 'closed',
          expected,
          counted: body.counted,
          closed_by: auth.staffId,
          closed_at: trx.fn.now(),
        })
        .returning('*');
      await audit(trx, auth, 'drawer.closed', s.id, {
        drawerId: params.drawerId,
        expected,
        counted: body.counted,
        overShort: body.counted - expected,
      });
      return sessionView(trx, closed);
    }),
});

export function drawersRoutes(): AnyRoute[] {
  return [openDrawerSession, listSessions, recordMovement, closeSession];
}
