import * as yup from 'yup';
import { money, basisPoints, bool, defined, int, name, noUnknown, nonEmpty } from '../validation';
import { json, route, CASHIER, MANAGER, type AnyRoute } from '../route';
import { ref } from '../openapi-schemas';
import { notFound, validationError } from '../errors';
import { Location } from '../../db/models/location';
import { loadSettings, settingsOf } from '../settings-read';
import { audit, changedFields } from '../audit';
import { FROM_RE, MAX_SCHEDULE_ENTRIES, TO_RE, WEEKDAYS, type Weekday } from '../../core/pricing-schedule';

const priceKind = () =>
  yup.string<'regular' | 'event'>().strict().oneOf(['regular', 'event'], '${path} must be regular or event');

/** One schedule entry (core/pricing-schedule.ts): days, local from/to times and the kind they switch to. */
const scheduleEntry = noUnknown(
  yup.object({
    days: yup
      .array(
        yup
          .string<Weekday>()
          .strict()
          .required()
          .oneOf(WEEKDAYS, '${path} must be one of ' + WEEKDAYS.join(', ')),
      )
      .strict()
      .required()
      .min(1, '${path} must list at least one day')
      .test('unique', '${path} lists a day twice', (v) => !v || new Set(v).size === v.length),
    from: yup.string().strict().required().matches(FROM_RE, '${path} must be a local time HH:MM (00:00 to 23:59)'),
    to: yup
      .string()
      .strict()
      .required()
      .matches(TO_RE, '${path} must be a local time HH:MM (00:00 to 24:00)')
      .test('differs', '${path} must differ from from', function (v) {
        return v !== this.parent.from;
      }),
    pricing: priceKind().required(),
  }),
);

/** The canonical name of an IANA time zone, or undefined when Intl does not know it. */
export function canonicalTimeZone(zone: string): string | undefined {
  if (!/^[A-Za-z]/.test(zone)) return undefined; // Intl also accepts offsets like +05:00, which are not zones
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Every setting of a location, each optional (PUT /settings changes those sent; POST /locations sets them). */
export const settingsFields = {
  name: name(),
  currency: yup
    .string()
    .strict()
    .matches(/^[A-Z]{3}$/, '${path} must be 3 upper-case letters (ISO 4217), e.g. USD'),
  timezone: yup
    .string()
    .strict()
    .test(
      'iana',
      '${path} must be an IANA time zone, e.g. Africa/Nairobi',
      (v) => v === undefined || canonicalTimeZone(v) !== undefined,
    )
    // The spec lists the canonical names; aliases (US/Eastern) are accepted too and stored canonical.
    .meta({ jsonSchema: { enum: Intl.supportedValuesOf('timeZone') } }),
  taxRate: basisPoints(),
  taxInclusive: bool(),
  serviceChargeRate: basisPoints(),
  cardFee: nonEmpty(noUnknown(yup.object({ enabled: bool(), rate: basisPoints(), min: money() }))).default(undefined),
  discountsEnabled: bool(),
  autoPrint: nonEmpty(noUnknown(yup.object({ receipt: bool(), kitchen: bool(), orderNumber: bool() }))).default(
    undefined,
  ),
  // pointsPer100 at most 100 (a point per minor unit): a balance stays far inside its column.
  loyalty: nonEmpty(
    noUnknown(yup.object({ enabled: bool(), pointsPer100: int().min(0).max(100), pointValue: money() })),
  ).default(undefined),
  approvalDiscountPercent: yup.number().strict().integer().min(0).max(100).nullable(),
  pricing: priceKind(),
  // Local times (the location's timezone) at which `pricing` gives way; the first covering entry wins.
  pricingSchedule: yup
    .array(scheduleEntry.required())
    .strict()
    .max(MAX_SCHEDULE_ENTRIES, `\${path} may hold at most ${MAX_SCHEDULE_ENTRIES} entries`),
};

const settingsBody = nonEmpty(noUnknown(yup.object(settingsFields)));

/** The Location columns a settings body sets (only the fields sent). */
export function settingsChanges(body: yup.InferType<typeof settingsBody>): Partial<Location> {
  return defined({
    name: body.name,
    currency: body.currency,
    timezone: body.timezone === undefined ? undefined : canonicalTimeZone(body.timezone),
    taxRate: body.taxRate,
    taxInclusive: body.taxInclusive,
    serviceChargeRate: body.serviceChargeRate,
    cardFeeEnabled: body.cardFee?.enabled,
    cardFeeRate: body.cardFee?.rate,
    cardFeeMin: body.cardFee?.min,
    discountsEnabled: body.discountsEnabled,
    autoPrintReceipt: body.autoPrint?.receipt,
    autoPrintKitchen: body.autoPrint?.kitchen,
    autoPrintOrderNumber: body.autoPrint?.orderNumber,
    loyaltyEnabled: body.loyalty?.enabled,
    loyaltyPointsPer100: body.loyalty?.pointsPer100,
    loyaltyPointValue: body.loyalty?.pointValue,
    approvalDiscountPercent: body.approvalDiscountPercent,
    pricing: body.pricing,
    pricingSchedule: body.pricingSchedule,
  });
}

export function settingsRoutes(): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/settings',
      summary: "This location's settings",
      tag: 'Settings',
      roles: CASHIER,
      responses: { 200: json('Settings', ref('Settings')) },
      handler: async ({ auth, deps }) => {
        const settings = await loadSettings(deps.knex, auth.locationId);
        if (!settings) throw notFound('Location');
        return settings;
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/settings',
      summary: 'Change settings: send the whole object or only the fields to change (nested objects too)',
      tag: 'Settings',
      roles: MANAGER,
      body: settingsBody,
      responses: { 200: json('Settings', ref('Settings')) },
      handler: async ({ body, auth, deps }) => {
        const changes = settingsChanges(body);
        if (!Object.keys(changes).length)
          throw validationError('Send at least one setting to change', [
            { path: '(body)', message: 'No settings sent' },
          ]);
        return deps.knex.transaction(async (trx) => {
          const before = await Location.query(trx).findById(auth.locationId).forUpdate();
          if (!before) throw notFound('Location');
          const [loc] = await Location.query(trx).where('id', auth.locationId).patch(changes).returning('*');
          const diff = changedFields(settingsOf(before), settingsOf(loc!));
          if (diff) await audit(trx, auth, 'settings.changed', auth.locationId, diff);
          return settingsOf(loc!);
        });
      },
    }),
  ];
}
