import { DateTime } from 'luxon';
import { startHarness, Harness } from './support/harness';
import { priceKindAt, WEEKDAYS, type PricingScheduleEntry } from '../core/pricing-schedule';

/**
 * Event-pricing schedule: entries in the location's local time switch the price kind of new
 * lines while they cover the moment the line is added. The API decides the kind when it resolves
 * the line (api/catalog-read.ts), so the tests set schedules around the real current time.
 */

let h: Harness;
let manager: string;
let cashier: string;
const S = '/api/v1/settings';
const NY = 'America/New_York'; // the seeded location's timezone

beforeAll(async () => {
  h = await startHarness();
  [manager, cashier] = await Promise.all([h.login('2345'), h.login('3456')]);
  // Croissant gets an event price (400; regular 325).
  const res = await h.api('PATCH', `/api/v1/catalog/items/${h.shop.items.Croissant}`, {
    token: manager,
    body: { eventPrice: 400 },
  });
  expect(res.status).toBe(200);
});
afterAll(async () => h?.close());

const put = (body: Record<string, unknown>) => h.api('PUT', S, { token: manager, body });
const hhmm = (t: DateTime) => t.toFormat('HH:mm');
const now = () => DateTime.now().setZone(NY);
/** Every day, from two hours ago to two hours from now (overnight when that spans midnight). */
const aroundNow = (pricing: string) => ({
  days: [...WEEKDAYS],
  from: hhmm(now().minus({ hours: 2 })),
  to: hhmm(now().plus({ hours: 2 })),
  pricing,
});

/** The price kind and unit price of a Croissant added now. */
async function croissantNow(): Promise<[string, number]> {
  const res = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Croissant, quantity: 1 }] },
  });
  expect(res.status).toBe(201);
  return [res.body.lines[0].priceKind, res.body.lines[0].unitPrice];
}

describe('the pricing schedule setting', () => {
  it('is empty by default, and a manager sets one (GET /settings shows it)', async () => {
    expect((await h.api('GET', S, { token: cashier })).body.pricingSchedule).toEqual([]);
    const schedule = [{ days: ['fri', 'sat'], from: '18:00', to: '23:00', pricing: 'event' }];
    const res = await put({ pricingSchedule: schedule });
    expect(res.status).toBe(200);
    expect(res.body.pricingSchedule).toEqual(schedule);
    expect((await h.api('GET', S, { token: cashier })).body.pricingSchedule).toEqual(schedule);
    expect((await put({ pricingSchedule: [] })).body.pricingSchedule).toEqual([]);
  });

  const entry = { days: ['fri'], from: '18:00', to: '23:00', pricing: 'event' };
  it.each([
    ['an unknown day', { ...entry, days: ['fry'] }, 'pricingSchedule[0].days[0]'],
    ['no days', { ...entry, days: [] }, 'pricingSchedule[0].days'],
    ['a day twice', { ...entry, days: ['fri', 'fri'] }, 'pricingSchedule[0].days'],
    ['hour 25', { ...entry, from: '25:00' }, 'pricingSchedule[0].from'],
    ['minute 60', { ...entry, to: '18:60' }, 'pricingSchedule[0].to'],
    ['a time without leading zero', { ...entry, from: '8:00' }, 'pricingSchedule[0].from'],
    ['from 24:00', { ...entry, from: '24:00' }, 'pricingSchedule[0].from'],
    ['from equal to to', { ...entry, to: '18:00' }, 'pricingSchedule[0].to'],
    ['an unknown kind', { ...entry, pricing: 'happy-hour' }, 'pricingSchedule[0].pricing'],
    ['a missing time', { days: ['fri'], from: '18:00', pricing: 'event' }, 'pricingSchedule[0].to'],
    ['a number for a time', { ...entry, from: 1800 }, 'pricingSchedule[0].from'],
  ])('422 for %s', async (_what, bad, path) => {
    const res = await put({ pricingSchedule: [bad] });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
  });

  it('422 for an entry with an unknown field, and for a schedule that is not a list', async () => {
    expect((await put({ pricingSchedule: [{ ...entry, note: 'x' }] })).status).toBe(422);
    expect((await put({ pricingSchedule: entry })).status).toBe(422);
  });
});

describe('event pricing on a schedule', () => {
  afterEach(async () => expect((await put({ pricing: 'regular', pricingSchedule: [] })).status).toBe(200));

  it('prices a new line at the event price while an entry covers now, the setting being regular', async () => {
    expect((await put({ pricing: 'regular', pricingSchedule: [aroundNow('event')] })).status).toBe(200);
    expect(await croissantNow()).toEqual(['event', 400]);
  });

  it('prices a new line at the regular price while a regular entry covers now, the setting being event', async () => {
    expect((await put({ pricing: 'event', pricingSchedule: [aroundNow('regular')] })).status).toBe(200);
    expect(await croissantNow()).toEqual(['regular', 325]);
  });

  it('keeps the setting when no entry covers now (other days, or later today)', async () => {
    const today = WEEKDAYS[now().weekday - 1]!;
    const yesterday = WEEKDAYS[now().minus({ days: 1 }).weekday - 1]!;
    const otherDays = { ...aroundNow('event'), days: WEEKDAYS.filter((d) => d !== today && d !== yesterday) };
    const later = { ...aroundNow('event'), from: hhmm(now().plus({ hours: 3 })), to: hhmm(now().plus({ hours: 4 })) };
    expect((await put({ pricing: 'regular', pricingSchedule: [otherDays, later] })).status).toBe(200);
    expect(await croissantNow()).toEqual(['regular', 325]);
  });

  it('changes only new lines: a line added before the entry applied keeps its price', async () => {
    const created = await h.api('POST', '/api/v1/orders', {
      token: cashier,
      body: { type: 'takeaway', lines: [{ itemId: h.shop.items.Croissant, quantity: 1 }] },
    });
    expect((await put({ pricingSchedule: [aroundNow('event')] })).status).toBe(200);
    const res = await h.api('POST', `/api/v1/orders/${created.body.id}/lines`, {
      token: cashier,
      body: { itemId: h.shop.items.Croissant, quantity: 1 },
    });
    expect(res.status).toBe(200);
    expect(res.body.lines.map((l: any) => [l.priceKind, l.unitPrice])).toEqual([
      ['regular', 325],
      ['event', 400],
    ]);
  });
});

describe('priceKindAt (the schedule in local wall-clock time)', () => {
  const friNight: PricingScheduleEntry = { days: ['fri'], from: '22:00', to: '02:00', pricing: 'event' };
  const at = (weekday: number, time: string) => ({
    weekday,
    minutes: Number(time.slice(0, 2)) * 60 + Number(time.slice(3)),
  });
  it.each([
    ['Friday 21:59', at(5, '21:59'), 'regular'],
    ['Friday 22:00', at(5, '22:00'), 'event'],
    ['Saturday 01:59 (overnight from Friday)', at(6, '01:59'), 'event'],
    ['Saturday 02:00 (the end is exclusive)', at(6, '02:00'), 'regular'],
    ['Saturday 23:00 (not a listed day)', at(6, '23:00'), 'regular'],
    ['Friday 01:00 (Thursday night is not listed)', at(5, '01:00'), 'regular'],
  ])('an overnight Friday entry at %s', (_what, moment, kind) => {
    expect(priceKindAt('regular', [friNight], moment)).toBe(kind);
  });

  it('covers until midnight with 24:00, Sunday night runs into Monday, and the first covering entry wins', () => {
    expect(
      priceKindAt('regular', [{ days: ['mon'], from: '18:00', to: '24:00', pricing: 'event' }], at(1, '23:59')),
    ).toBe('event');
    expect(
      priceKindAt('regular', [{ days: ['sun'], from: '23:00', to: '01:00', pricing: 'event' }], at(1, '00:30')),
    ).toBe('event');
    const first: PricingScheduleEntry = { days: ['mon'], from: '10:00', to: '12:00', pricing: 'regular' };
    const second: PricingScheduleEntry = { days: ['mon'], from: '09:00', to: '13:00', pricing: 'event' };
    expect(priceKindAt('event', [first, second], at(1, '11:00'))).toBe('regular');
    expect(priceKindAt('regular', [first, second], at(1, '12:30'))).toBe('event');
  });
});
