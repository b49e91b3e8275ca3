import * as yup from 'yup';
import { json, route, MANAGER } from '../route';
import { ref as component } from '../openapi-schemas';
import { noUnknown } from '../validation';
import { wholeNumber } from '../paging';
import { DURATION_RE, durationMs, findStuckOrders } from '../support';

const DEFAULT_OLDER_THAN = '10m';
const DEFAULT_MIN_ATTEMPTS = 3;

export function supportRoutes() {
  return [
    route({
      method: 'get',
      path: '/api/v1/support/stuck-orders',
      summary:
        'Orders that need support, from Temporal visibility (search attributes) joined with the database: gateway payments pending longer than `olderThan` ' +
        '(`payment_pending`), closes that have not reached the database (`close_not_persisted`), activities that keep failing (`activity_retrying`, attempt >= `minAttempts` (default 3), with the last failure; `since` is when the activity was first scheduled) ' +
        'and print jobs still retrying a printer (`printing_retrying`). Each entry has the workflow, its current-details line and `temporalUiUrl`, a link to its history in the Temporal UI (null when the UI address is unknown).',
      tag: 'Support',
      roles: MANAGER,
      query: noUnknown(
        yup.object({
          olderThan: yup
            .string()
            .strict()
            .matches(DURATION_RE, '${path} must be a duration such as 90s, 10m, 2h or 1d (default 10m)'),
          minAttempts: wholeNumber().min(2).max(1000),
        }),
      ),
      responses: {
        200: json(
          '{stuckOrders: [{orderId, orderNumber, workflowId, runId, workflowType, reason, since, currentDetails, temporalUiUrl, paymentId?, activity?: {type, attempt, lastFailure}}]}, oldest first',
          component('StuckOrders'),
        ),
      },
      errors: [503],
      handler: async ({ query, auth, deps }) => ({
        stuckOrders: await findStuckOrders(deps, {
          locationId: auth.locationId,
          olderThanMs: durationMs(query.olderThan ?? DEFAULT_OLDER_THAN),
          minAttempts: query.minAttempts ?? DEFAULT_MIN_ATTEMPTS,
        }),
      }),
    }),
  ];
}
