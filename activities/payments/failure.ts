/**
 * How every adapter turns a failed gateway call into an ApplicationFailure: what is worth retrying
 * is decided here once, so Square, Stripe, M-Pesa and Airtel cannot drift apart.
 */
import { ApplicationFailure } from '@temporalio/common';
import { GATEWAY_FAILURE_TYPES } from '../../core/failures';

/** No HTTP answer, a 5xx or a 429 is worth retrying; `alsoTransient` adds a gateway's own (Stripe's 409, Square's 408). */
export function isTransientStatus(status: number | undefined, alsoTransient: number[] = []): boolean {
  return status === undefined || status >= 500 || status === 429 || alsoTransient.includes(status);
}

/** A Retry-After header (seconds) as Temporal's next retry delay (ms), when the gateway sent a usable one. */
export function retryAfterMs(header: unknown): number | undefined {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

export interface GatewayFailureInput {
  message: string;
  /** Retryable GatewayUnavailable when true, non-retryable GatewayRejected otherwise. */
  transient: boolean;
  /** ApplicationFailure details[0] (e.g. GatewayFailureDetails). */
  details?: unknown;
  nextRetryDelay?: number;
  cause?: unknown;
}

export function gatewayFailure(f: GatewayFailureInput): ApplicationFailure {
  return ApplicationFailure.create({
    message: f.message,
    type: f.transient ? GATEWAY_FAILURE_TYPES.unavailable : GATEWAY_FAILURE_TYPES.rejected,
    nonRetryable: !f.transient,
    details: f.details === undefined ? undefined : [f.details],
    nextRetryDelay: f.nextRetryDelay,
    cause: f.cause instanceof Error ? f.cause : undefined,
  });
}

/** A refusal decided before any call (bad input for this gateway): non-retryable GatewayRejected. */
export function gatewayRejected(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, GATEWAY_FAILURE_TYPES.rejected);
}

/** No adapter for that gateway in this process: non-retryable GatewayNotConfigured. */
export function gatewayNotConfigured(gateway: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${gateway} payments are not configured`, GATEWAY_FAILURE_TYPES.notConfigured);
}
