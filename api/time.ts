import { DateTime } from 'luxon';

/** The UTC instants bounding a location's local calendar day (DST-aware). */
export function localDayRange(date: string, timezone: string): { start: Date; end: Date } {
  const day = DateTime.fromISO(date, { zone: timezone }).startOf('day');
  if (!day.isValid) throw new RangeError(`invalid date ${date} in ${timezone}`);
  return { start: day.toUTC().toJSDate(), end: day.plus({ days: 1 }).toUTC().toJSDate() };
}

export function localToday(timezone: string): string {
  return DateTime.now().setZone(timezone).toISODate()!;
}

export function localDateOf(instant: Date | string, timezone: string): string {
  return DateTime.fromJSDate(new Date(instant)).setZone(timezone).toISODate()!;
}
