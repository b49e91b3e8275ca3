// Every workflow the worker registers. Workflow code is bundled and sandboxed: import only
// @temporalio/workflow, core/ and types from activities/.
export { systemCheck } from './system-check';
export { checkout } from './checkout';
export { printTicket } from './print-ticket';
export { payment } from './payment';
export { refund } from './refund';
export { benchNoop } from './bench-noop';
export { stockCount } from './stock-count';
export { emailReceipt } from './email-receipt';
