/**
 * Daraja's asynchronous Results (posted to a ResultURL of ours), reduced to what a refund needs.
 * Pure: shared by the API (which routes them) and its tests.
 *
 * Two shapes arrive at a refund's ResultURL:
 *  - the reversal's own Result: Result.ConversationID / OriginatorConversationID name the
 *    reversal, ResultCode 0 means it went through;
 *  - a Transaction Status Result: Result.ConversationID is the query's; the queried transaction
 *    is named in ResultParameters (ConversationID, OriginatorConversationID), with its
 *    TransactionStatus. ResultCode 0 only means the query was answered.
 */
export interface MpesaResult {
  ResultCode: number | string;
  ResultDesc?: string;
  ConversationID?: string;
  OriginatorConversationID?: string;
  ResultParameters?: { ResultParameter?: unknown };
}

export interface MpesaOutcome {
  /** The ids this Result names the reversal by. */
  names: string[];
  /** undefined: the Result says nothing final (a status still in progress, a query that failed). */
  status?: 'succeeded' | 'failed';
  failureReason?: string;
  /** Whether this came from a Transaction Status request. */
  statusQuery: boolean;
}

/** TransactionStatus values that end a transaction without the money moving. */
const NOT_DONE = ['declined', 'failed', 'cancelled', 'expired', 'reversed'];

/** Daraja sends ResultParameter as a list, or as one object when there is a single parameter. */
function parameters(result: MpesaResult): Map<string, unknown> {
  const raw = result.ResultParameters?.ResultParameter;
  const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : [];
  const out = new Map<string, unknown>();
  for (const p of list)
    if (p && typeof p === 'object' && typeof (p as { Key?: unknown }).Key === 'string')
      out.set((p as { Key: string }).Key, (p as { Value?: unknown }).Value);
  return out;
}

const strings = (...vs: unknown[]) => vs.filter((v): v is string => typeof v === 'string' && v.length > 0);

export function readMpesaResult(result: MpesaResult): MpesaOutcome {
  const params = parameters(result);
  const transactionStatus = params.get('TransactionStatus');
  if (typeof transactionStatus !== 'string') {
    const ok = String(result.ResultCode) === '0';
    return {
      names: strings(result.ConversationID, result.OriginatorConversationID),
      status: ok ? 'succeeded' : 'failed',
      ...(ok
        ? {}
        : { failureReason: `M-Pesa reversal failed: ${result.ResultDesc ?? `ResultCode ${result.ResultCode}`}` }),
      statusQuery: false,
    };
  }
  const names = strings(params.get('ConversationID'), params.get('OriginatorConversationID'));
  if (String(result.ResultCode) !== '0') return { names, statusQuery: true };
  const s = transactionStatus.trim().toLowerCase();
  if (s === 'completed') return { names, status: 'succeeded', statusQuery: true };
  if (NOT_DONE.includes(s))
    return {
      names,
      status: 'failed',
      failureReason: `M-Pesa reversal ${s}: Transaction Status says "${transactionStatus}"`,
      statusQuery: true,
    };
  return { names, statusQuery: true };
}
