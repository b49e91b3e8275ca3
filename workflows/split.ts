/**
 * Splitting a bill by items, for the checkout workflow. The Update takes the quantities off this
 * order and, in the same workflow task, commands the new order's own checkout as a child: both
 * are one history event batch, so a worker killed at any moment leaves either no split or the
 * whole split (never a line on both orders or on neither). A start Temporal refuses puts the
 * lines back.
 */
import { ParentClosePolicy, startChild, uuid4 } from '@temporalio/workflow';
import type { OrderState } from '../core/order';
import { applySplit, type SplitRequest } from '../core/split';
import { workflowIds } from '../core/events';
import { SA } from '../core/search-attributes';
import type { CheckoutInput } from './checkout';

export async function splitOrder(
  input: CheckoutInput,
  state: OrderState,
  req: SplitRequest,
  now: string,
): Promise<void> {
  const before = { lines: state.lines.map((l) => ({ ...l })), version: state.version, updatedAt: state.updatedAt };
  const split = applySplit(state, req, uuid4, now);
  try {
    await startChild('checkout', {
      workflowId: workflowIds.order(split.id),
      // Numbered by its own first task (the API opened only the original).
      args: [
        {
          ...input,
          state: split,
          appliedKeys: {},
          pendingPrints: [],
          printSeq: 0,
          openedByApi: false,
        } satisfies CheckoutInput,
      ],
      // The new order lives its own life: it outlives this one.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SA.locationId, value: split.locationId },
        { key: SA.staffId, value: split.staffId },
        { key: SA.orderStatus, value: 'open' },
      ],
      staticSummary: `Split from order #${state.orderNumber}${state.table ? ` (table ${state.table})` : ''}`,
      staticDetails: `Order ${split.id}\nSplit from order ${state.id} (#${state.orderNumber})`,
    });
  } catch (err) {
    Object.assign(state, before);
    throw err;
  }
}
