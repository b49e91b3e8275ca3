/**
 * Manager approval on the cashier's terminal: some order changes (voiding a line the kitchen
 * has, a discount above the location's `approvalDiscountPercent`, cancelling an order the
 * kitchen has) need a manager's PIN in the same request (`X-Approver-Pin`) with a reason. The
 * PIN is checked behind the same lockout as logins, so the header is no way to guess PINs.
 */
import type { ParameterizedContext } from 'koa';
import type { OrderSnapshot } from '../core/order';
import { ApiError, forbidden } from './errors';
import { guardedPinCheck } from './pin-guard';
import { staffByPin } from './routes/auth';
import { roleRank } from './security';
import type { AppDeps, AuthContext } from './types';

export const APPROVER_PIN_HEADER = 'x-approver-pin';

/** Who approved a change, as its audit row records it. */
export interface Approval {
  approvedBy: { id: string; name: string; role: string };
  reason: string;
}

/**
 * The approval `what` needs: a manager (or above) acting needs no second PIN; anyone else
 * sends a manager's PIN and a reason, or gets 403 naming the approval needed.
 */
export async function requireApproval(
  deps: AppDeps,
  ctx: ParameterizedContext,
  auth: AuthContext,
  what: string,
  reason: string | undefined,
): Promise<Approval> {
  const trimmed = reason?.trim();
  if (roleRank(auth.role) >= roleRank('manager'))
    return { approvedBy: { id: auth.staffId, name: auth.name, role: auth.role }, reason: trimmed || what };
  const pin = ctx.get(APPROVER_PIN_HEADER);
  if (!pin || !trimmed) throw forbidden(`${what} needs a manager's approval: send X-Approver-Pin with a reason`);
  if (!/^\d{4,8}$/.test(pin)) throw forbidden(`${what} needs a manager's approval: X-Approver-Pin is not a PIN`);
  const approver = await guardedPinCheck(deps, { ip: ctx.ip, locationId: auth.locationId }, 'approval', () =>
    staffByPin(deps, pin, auth.locationId),
  ).catch((err) => {
    // A wrong approver PIN says nothing about the cashier's own session: 403, not 401.
    if (err instanceof ApiError && err.status === 401)
      throw forbidden(`${what} needs a manager's approval: wrong approver PIN`);
    throw err;
  });
  if (roleRank(approver.role) < roleRank('manager'))
    throw forbidden(`${what} needs a manager's approval: that PIN is not a manager's`);
  return { approvedBy: { id: approver.id, name: approver.name, role: approver.role }, reason: trimmed };
}

export const sentToKitchen = (s: OrderSnapshot) => s.kitchenStatus !== 'not_sent';
export const lineWithKitchen = (s: OrderSnapshot, lineId: string) => {
  const line = s.lines.find((l) => l.id === lineId);
  // Snapshots from before per-line status: a line counts as sent once the order was.
  return line !== undefined && (line.kitchenStatus ?? s.kitchenStatus) !== 'not_sent';
};
