import * as yup from 'yup';
import type { Knex } from 'knex';
import { json, route } from '../route';
import { ref } from '../openapi-schemas';
import { conflict } from '../errors';
import { noUnknown, uuid } from '../validation';
import type { AnyRoute } from '../route';
import { pinField, staffByGuardedPin, staffByPin } from './auth';
import { closeOpenShift, isUniqueViolation, openBreak, openShift } from './staff-shifts';
import { BreakModel, ShiftModel, shiftView } from '../../db/models/shift';

type Staff = NonNullable<Awaited<ReturnType<typeof staffByPin>>>;
type Punch = (trx: Knex.Transaction, staff: Staff, now: Date) => Promise<string>;

const notClockedIn = () => conflict('Not clocked in: clock in first');

/** Each action checks the current state, changes it, and returns the shift id. */
const PUNCHES: Record<string, { summary: string; run: Punch }> = {
  'clock-in': {
    summary: 'Clock in (starts a shift at the current hourly rate)',
    run: async (trx, staff, now) => {
      if (await openShift(trx, staff.id)) throw conflict('Already clocked in');
      const shift = await ShiftModel.query(trx).insert({
        location_id: staff.location_id,
        staff_id: staff.id,
        clock_in_at: now,
        hourly_rate: staff.hourly_rate,
      });
      return shift.id;
    },
  },
  'clock-out': {
    summary: 'Clock out (a running break ends first)',
    run: async (trx, staff, now) => {
      const shift = await closeOpenShift(trx, staff.id, now);
      if (!shift) throw notClockedIn();
      return shift.id;
    },
  },
  'break-start': {
    summary: 'Start a break',
    run: async (trx, staff, now) => {
      const shift = await openShift(trx, staff.id);
      if (!shift) throw notClockedIn();
      if (await openBreak(trx, shift.id)) throw conflict('Already on a break');
      await BreakModel.query(trx).insert({ location_id: shift.location_id, shift_id: shift.id, start_at: now });
      return shift.id;
    },
  },
  'break-end': {
    summary: 'End the running break',
    run: async (trx, staff, now) => {
      const shift = await openShift(trx, staff.id);
      const running = shift && (await openBreak(trx, shift.id));
      if (!shift || !running) throw conflict('Not on a break');
      await BreakModel.query(trx).patch({ end_at: now }).where('id', running.id);
      return shift.id;
    },
  },
};

/** Two requests racing past the state checks meet the partial unique indexes: the loser gets 409. */
function raced(err: unknown): never {
  if (isUniqueViolation(err, 'shifts_one_open_per_staff')) throw conflict('Already clocked in');
  if (isUniqueViolation(err, 'breaks_one_open_per_shift')) throw conflict('Already on a break');
  throw err;
}

export function timeclockRoutes(): AnyRoute[] {
  return Object.entries(PUNCHES).map(([action, punch]) =>
    route({
      method: 'post',
      path: `/api/v1/timeclock/${action}`,
      summary: `${punch.summary}; PIN only, no token. Wrong PINs count toward the login lockout`,
      tag: 'Timeclock',
      roles: 'public',
      body: noUnknown(yup.object({ pin: pinField().required(), locationId: uuid().optional() })),
      responses: {
        200: json("{staff: {id, name, role}, status: 'clocked_in'|'on_break'|'clocked_out', shift}", ref('Punch')),
      },
      errors: [401, 409, 429],
      handler: async ({ body, deps, ctx }) => {
        const staff = await staffByGuardedPin(deps, ctx, body, 'timeclock');
        const now = new Date();
        const shift = await deps.knex
          .transaction(async (trx) => {
            const id = await punch.run(trx, staff, now);
            return ShiftModel.query(trx).findById(id).withGraphFetched('breaks').throwIfNotFound();
          })
          .catch(raced);
        const view = shiftView(shift, now);
        const status = view.clockOutAt ? 'clocked_out' : view.breaks.some((b) => !b.endAt) ? 'on_break' : 'clocked_in';
        deps.logger.info({ staffId: staff.id, action }, 'timeclock');
        return { staff: { id: staff.id, name: staff.name, role: staff.role }, status, shift: view };
      },
    }),
  );
}
