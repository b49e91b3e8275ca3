import { Model } from 'objection';

/** One break inside a shift (table `breaks`); `end_at` is null while the break is running. */
export class BreakModel extends Model {
  static override tableName = 'breaks';

  declare id: string;
  declare location_id: string;
  declare shift_id: string;
  declare start_at: Date;
  declare end_at: Date | null;
}

/** One clock-in to clock-out (table `shifts`); `hourly_rate` is the staff member's rate at clock-in. */
export class ShiftModel extends Model {
  static override tableName = 'shifts';

  declare id: string;
  declare location_id: string;
  declare staff_id: string;
  declare clock_in_at: Date;
  declare clock_out_at: Date | null;
  declare hourly_rate: number;
  declare breaks?: BreakModel[];

  static override relationMappings = () => ({
    breaks: {
      relation: Model.HasManyRelation,
      modelClass: BreakModel,
      join: { from: 'shifts.id', to: 'breaks.shift_id' },
    },
  });
}

const MINUTE = 60_000;

/**
 * Worked time = (clock-out, or `now` while open) − clock-in − breaks, floored to whole minutes;
 * wage = round(hourly rate × worked minutes / 60) in minor units.
 */
export function shiftView(shift: ShiftModel, now: Date = new Date()) {
  const clockIn = new Date(shift.clock_in_at).getTime();
  const end = shift.clock_out_at ? new Date(shift.clock_out_at).getTime() : now.getTime();
  const breaks = [...(shift.breaks ?? [])].sort(
    (a, b) => new Date(a.start_at).getTime() - new Date(b.start_at).getTime(),
  );
  const breakMs = breaks.reduce(
    (sum, b) => sum + Math.max(0, (b.end_at ? new Date(b.end_at).getTime() : end) - new Date(b.start_at).getTime()),
    0,
  );
  const workedMinutes = Math.max(0, Math.floor((end - clockIn - breakMs) / MINUTE));
  return {
    id: shift.id,
    staffId: shift.staff_id,
    clockInAt: new Date(shift.clock_in_at).toISOString(),
    clockOutAt: shift.clock_out_at ? new Date(shift.clock_out_at).toISOString() : null,
    breaks: breaks.map((b) => ({
      startAt: new Date(b.start_at).toISOString(),
      endAt: b.end_at ? new Date(b.end_at).toISOString() : null,
    })),
    workedMinutes,
    breakMinutes: Math.floor(breakMs / MINUTE),
    wage: Math.round((shift.hourly_rate * workedMinutes) / 60),
  };
}

export type ShiftView = ReturnType<typeof shiftView>;
