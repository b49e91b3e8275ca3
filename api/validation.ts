import * as yup from 'yup';

/** Any RFC 4122 UUID version (yup's own uuid() rejects v6/v7, which client SDKs generate). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const uuid = () => yup.string().matches(UUID_RE, { message: '${path} must be a UUID', excludeEmptyString: true });
/** Integer minor units (cents). */
export const money = () => yup.number().strict().integer('${path} must be an integer amount in minor units').min(0);
export const basisPoints = () => yup.number().strict().integer().min(0).max(10000);
export const int = () => yup.number().strict().integer();
export const bool = () => yup.boolean().strict();
export const text = (max = 200) => yup.string().strict().trim().max(max);
export const pin = () =>
  yup.string().strict().matches(/^\d{4}$/, { message: 'PIN must be exactly 4 digits', excludeEmptyString: false });

export const idParams = yup.object({ id: uuid().required() });
export const noUnknown = <T extends yup.AnyObject>(s: yup.ObjectSchema<T>) => s.noUnknown(true, '${path} has unknown field(s): ${unknown}');
