/** Errors in the contract's format: {"detail", "code", "timestamp", "errors"?}. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_ERROR'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'LOCKED_OUT'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'PAYMENT_FAILED'
  | 'INTERNAL';

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** More fields of the body, e.g. `outcomeUnknown` on every 503. */
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail);
  }
}

export const badRequest = (detail: string) => new ApiError(400, 'BAD_REQUEST', detail);
export const validationError = (detail: string, errors: FieldError[]) =>
  new ApiError(422, 'VALIDATION_ERROR', detail, errors);
export const fieldError = (path: string, message: string) => validationError(message, [{ path, message }]);
export const unauthenticated = (detail = 'Authentication required') => new ApiError(401, 'UNAUTHENTICATED', detail);
export const forbidden = (detail = 'Your role may not do this') => new ApiError(403, 'FORBIDDEN', detail);
export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);
export const conflict = (detail: string) => new ApiError(409, 'CONFLICT', detail);
/** 503: `outcomeUnknown` false means nothing was written; true, the change may have been applied (retry with the same Idempotency-Key). */
export const unavailable = (detail: string, outcomeUnknown = false) =>
  new ApiError(503, 'UNAVAILABLE', detail, undefined, undefined, { outcomeUnknown });

export function errorBody(code: ErrorCode, detail: string, errors?: FieldError[]) {
  return { detail, code, timestamp: new Date().toISOString(), ...(errors ? { errors } : {}) };
}
