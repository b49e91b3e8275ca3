/**
 * Every failure type (ApplicationFailure.type, or the error name Temporal carries as the type)
 * that one layer raises and another acts on: activities throw them, workflows decide retries and
 * branches on them, the API maps them to HTTP statuses. Compared by these constants only, never
 * by message text.
 */

/** Update rejections the API maps to HTTP statuses (422, 409, 404). */
export const REJECTION_TYPES = {
  validation: 'VALIDATION_ERROR',
  conflict: 'CONFLICT',
  not_found: 'NOT_FOUND',
} as const;

/**
 * A request the pure rules refuse: `validation` → 422, `conflict` → 409, `not_found` → 404.
 * Workflows turn it into an Update failure of the matching REJECTION_TYPES type (workflows/rejection.ts).
 */
export class Rejection extends Error {
  constructor(
    readonly kind: keyof typeof REJECTION_TYPES,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An activity's input that Postgres cannot store (SQLSTATE class 22/23): retrying cannot help. */
export const DATA_ERROR_TYPE = 'DATA_ERROR';

/** Gateway failure types that adapters raise and workflows and the API act on. */
export const GATEWAY_FAILURE_TYPES = {
  /** No answer, 5xx or 429: retried with backoff (the idempotency key makes that safe). */
  unavailable: 'GatewayUnavailable',
  /** A request the gateway will keep refusing: non-retryable. */
  rejected: 'GatewayRejected',
  /** No adapter for that gateway in this process: non-retryable. */
  notConfigured: 'GatewayNotConfigured',
} as const;

/** Printer failures: the names of the printing activity's errors, which Temporal reports as their type. */
export const PRINTER_FAILURE_TYPES = {
  /** Refused or no answer to the connection: nothing printed. */
  unavailable: 'PrinterUnavailableError',
  /** The connection failed after it was up: the ticket may have printed, in part or whole. */
  fateUnknown: 'PrinterFateUnknownError',
} as const;

/** Receipt e-mail failures. */
export const EMAIL_FAILURE_TYPES = {
  /** A permanent SMTP refusal (5xx): retrying cannot help. */
  rejected: 'EMAIL_REJECTED',
  /** SMTP_URL is not set on this worker: retried, so a worker that has it can send it. */
  notConfigured: 'SMTP_NOT_CONFIGURED',
  /** The order has no receipt (not sold): non-retryable. */
  noReceipt: 'NO_RECEIPT',
} as const;

/** A signal whose target workflow has ended or never existed (the Temporal SDK's failure type). */
export const WORKFLOW_NOT_RUNNING = 'ExternalWorkflowExecutionNotFound';
