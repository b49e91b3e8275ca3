import * as yup from 'yup';
import { randomUUID } from 'node:crypto';
import { json, route, ADMIN } from '../route';
import { ref } from '../openapi-schemas';
import { int, noUnknown, nonBlank } from '../validation';
import { signToken } from '../security';
import { audit } from '../audit';

/** Never an HMAC of a PIN (those are hex), so no PIN ever finds an operator. */
const NO_PIN_LOOKUP = (id: string) => `operator-token-only:${id}`;
/** Not a scrypt hash: verifyPin refuses it. */
const NO_PIN_HASH = 'none';

/**
 * Tokens for tools support staff run (the operator CLI, `TILLFLOW_OPERATOR_TOKEN`). Each belongs
 * to a staff member of its own (role manager, no PIN), so everything done with it is audited under
 * the operator's name, and deactivating or deleting that member revokes it like any session.
 */
export function operatorTokenRoutes() {
  return [
    route({
      method: 'post',
      path: '/api/v1/operator-tokens',
      summary:
        'Issue an operator token (admin): creates a staff member named `name` with role manager and no PIN, and a session of `days` (default 30, at most 365). ' +
        'The token is shown only in this answer; deactivate or delete the member (/api/v1/staff/:id) to revoke it',
      tag: 'Support',
      roles: ADMIN,
      body: noUnknown(yup.object({ name: nonBlank(80).required(), days: int().min(1).max(365) })),
      responses: { 201: json('{token, expiresAt, staff: {id, name, role, locationId}}', ref('Session')) },
      handler: async ({ body, auth, deps, ctx }) => {
        const staffId = randomUUID();
        const sessionId = randomUUID();
        const expiresAt = new Date(Date.now() + (body.days ?? 30) * 86_400_000);
        await deps.knex.transaction(async (trx) => {
          await trx('staff').insert({
            id: staffId,
            location_id: auth.locationId,
            name: body.name,
            role: 'manager',
            pin_lookup: NO_PIN_LOOKUP(staffId),
            pin_hash: NO_PIN_HASH,
          });
          await trx('sessions').insert({
            id: sessionId,
            staff_id: staffId,
            location_id: auth.locationId,
            expires_at: expiresAt,
          });
          await audit(trx, auth, 'operator_token.issued', staffId, {
            name: body.name,
            expiresAt: expiresAt.toISOString(),
          });
        });
        ctx.status = 201;
        return {
          token: await signToken(
            deps.config.tokenSecret,
            { sessionId, staffId, locationId: auth.locationId },
            expiresAt,
          ),
          expiresAt: expiresAt.toISOString(),
          staff: { id: staffId, name: body.name, role: 'manager', locationId: auth.locationId },
        };
      },
    }),
  ];
}
