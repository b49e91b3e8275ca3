import type { PriceKind } from './order';

/**
 * A location's event-pricing schedule: entries in the location's local time that override its
 * `pricing` setting while they cover the moment a line is added, e.g.
 * `{ days: ['fri', 'sat'], from: '18:00', to: '23:00', pricing: 'event' }`.
 *
 * An entry covers [from, to) on each of its days; `to` may be `24:00` (until midnight), and a `to`
 * before `from` runs overnight: it starts on a listed day and ends the next morning. The first
 * entry that covers the moment wins; when none does, the setting applies.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface PricingScheduleEntry {
  days: Weekday[];
  /** HH:MM, 00:00..23:59. */
  from: string;
  /** HH:MM, 00:00..24:00, not equal to `from`. */
  to: string;
  pricing: PriceKind;
}

/** A local wall-clock moment: ISO weekday (1 = Monday .. 7 = Sunday) and minutes since midnight. */
export interface LocalMoment {
  weekday: number;
  minutes: number;
}

export const MAX_SCHEDULE_ENTRIES = 50;
/** A start time; an end may also be 24:00. */
export const FROM_RE = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
export const TO_RE = /^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function entryCovers(entry: PricingScheduleEntry, at: LocalMoment): boolean {
  const from = minutesOf(entry.from);
  const to = minutesOf(entry.to);
  const on = (weekday: number) => entry.days.includes(WEEKDAYS[weekday - 1]!);
  if (from < to) return on(at.weekday) && at.minutes >= from && at.minutes < to;
  const previous = at.weekday === 1 ? 7 : at.weekday - 1;
  return (on(at.weekday) && at.minutes >= from) || (on(previous) && at.minutes < to);
}

/** The price kind of a line added at `at`: the first covering entry's, else the setting. */
export function priceKindAt(setting: PriceKind, schedule: readonly PricingScheduleEntry[], at: LocalMoment): PriceKind {
  return schedule.find((e) => entryCovers(e, at))?.pricing ?? setting;
}
