import type { Knex } from 'knex';
import { BreakModel, ShiftModel } from '../../db/models/shift';

/**
 * The staff member's open shift, locked FOR UPDATE so concurrent timeclock requests for one person
 * run one after the other (a request that waited re-reads the row and sees it closed).
 */
export async function openShift(trx: Knex.Transaction, staffId: string): Promise<ShiftModel | undefined> {
  return ShiftModel.query(trx).findOne({ staff_id: staffId }).whereNull('clock_out_at').forUpdate();
}

export async function openBreak(trx: Knex.Transaction, shiftId: string): Promise<BreakModel | undefined> {
  return BreakModel.query(trx).findOne({ shift_id: shiftId }).whereNull('end_at');
}

/** Ends a running break and clocks the shift out at `at`; returns the closed shift, if one was open. */
export async function closeOpenShift(
  trx: Knex.Transaction,
  staffId: string,
  at: Date,
): Promise<ShiftModel | undefined> {
  const shift = await openShift(trx, staffId);
  if (!shift) return undefined;
  await BreakModel.query(trx).patch({ end_at: at }).where('shift_id', shift.id).whereNull('end_at');
  return ShiftModel.query(trx).patchAndFetchById(shift.id, { clock_out_at: at });
}

/** True for a unique violation of `constraint`, raw from pg or wrapped by objection (UniqueViolationError). */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string; nativeError?: { code?: string } };
  return (e?.code === '23505' || e?.nativeError?.code === '23505') && e.constraint === constraint;
}
