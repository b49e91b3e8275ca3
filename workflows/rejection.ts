/**
 * How a workflow refuses an Update: the pure rules throw a Rejection (core/failures.ts), which
 * becomes a non-retryable ApplicationFailure of the matching REJECTION_TYPES type, with the
 * offending field as its detail. The API maps that type to 422/409/404 (api/order-service.ts).
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { REJECTION_TYPES, Rejection } from '../core/failures';

export function rejectionFailure(r: Rejection): ApplicationFailure {
  return ApplicationFailure.create({
    type: REJECTION_TYPES[r.kind],
    message: r.message,
    details: [{ path: r.path ?? '' }],
    nonRetryable: true,
  });
}

/** Runs a pure check (an Update validator's or handler's); a Rejection it throws becomes the Update's failure. */
export function guard<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof Rejection) throw rejectionFailure(err);
    throw err;
  }
}
