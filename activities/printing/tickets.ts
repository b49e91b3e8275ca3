/**
 * Ticket layouts. Each render* function only appends text and ESC/POS styling to
 * the given node-thermal-printer instance; printer.ts owns init, cut and I/O.
 * Lines are wrapped here (to printer.getWidth() columns, divided by the text
 * scale) so double-width text never wraps mid-word on the paper.
 */
import type { ThermalPrinter } from 'node-thermal-printer';
import { formatMoney } from '../../core/format';
import type { KitchenTicket, OrderNumberTicket, Receipt } from './types';

// ---------------------------------------------------------------- text helpers

/** Drops control characters so user text (names, notes) can't inject ESC/POS commands. */
export function clean(text: string | null | undefined): string {
  return (
    (text ?? '')
      .replace(/[\t\r\n]+/g, ' ')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
      .trim()
  );
}

/**
 * Greedy word wrap to `width` columns. Leading spaces of `text` are kept; continuation
 * lines start with `indent` spaces; words longer than a line are split.
 */
export function wrap(text: string, width: number, indent = 0): string[] {
  const lines: string[] = [];
  let line = /^ */.exec(text)![0];
  let hasWord = false;
  const room = () => Math.max(1, width - (lines.length === 0 ? 0 : indent));
  for (let word of text.split(' ').filter(Boolean)) {
    if (hasWord && line.length + 1 + word.length <= room()) {
      line += ` ${word}`;
      continue;
    }
    if (hasWord) {
      lines.push(line);
      line = '';
    }
    while (line.length + word.length > room()) {
      const cut = Math.max(1, room() - line.length);
      lines.push(line + word.slice(0, cut));
      word = word.slice(cut);
      line = '';
    }
    line += word;
    hasWord = true;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : ' '.repeat(indent) + l));
}

/** `left` and `right` on one row, right-aligned; a long `left` wraps under itself. */
export function row(left: string, right: string, width: number, indent = 0): string[] {
  const [first, ...rest] = wrap(left, Math.max(1, width - right.length - 1), indent);
  return [first + ' '.repeat(Math.max(1, width - first.length - right.length)) + right, ...rest];
}

function printLines(p: ThermalPrinter, lines: string[]): void {
  for (const line of lines) p.println(line);
}

/** Text at `scale` (1..8) times normal width and height, wrapped to fit. */
function printScaled(p: ThermalPrinter, text: string, scale: number, bold = true): void {
  p.setTextSize(scale - 1, scale - 1);
  p.bold(bold);
  printLines(p, wrap(text, Math.floor(p.getWidth() / scale)));
  p.bold(false);
  p.setTextSize(0, 0);
}

// ---------------------------------------------------------------- copy

/** Heads a ticket a backup printer prints when the first printer may have printed it already. */
export function renderCopyBanner(p: ThermalPrinter): void {
  p.alignCenter();
  printScaled(p, '*** COPY ***', 2);
  p.alignLeft();
}

// ---------------------------------------------------------------- kitchen

/** How an amendment ticket marks a line the kitchen already had. */
const CHANGE_LABEL: Record<string, string> = { amended: 'AMENDED ', void: 'VOID ' };

export function renderKitchenTicket(p: ThermalPrinter, t: KitchenTicket): void {
  const width = p.getWidth();
  p.alignCenter();
  printScaled(p, t.type === 'takeaway' ? 'TAKEAWAY' : 'DINE IN', 2);
  printScaled(p, `#${t.orderNumber}`, 3);
  if (clean(t.table)) printScaled(p, `TABLE ${clean(t.table)}`, 2);
  if (clean(t.customerName)) printScaled(p, clean(t.customerName), 2, false);
  if (t.amendment) printScaled(p, '*** AMENDMENT ***', 2);
  p.alignLeft();
  p.drawLine();

  for (const line of t.lines) {
    p.setTextDoubleHeight();
    p.bold(true);
    const qty = `${CHANGE_LABEL[line.change ?? ''] ?? ''}${line.quantity} x `;
    printLines(p, wrap(`${qty}${clean(line.name)}`, width, qty.length));
    p.bold(false);
    p.setTextNormal();
    if (line.previousQuantity !== undefined) printLines(p, wrap(`    (was ${line.previousQuantity})`, width, 4));
    for (const modifier of line.modifiers.map(clean).filter(Boolean)) {
      printLines(p, wrap(`    + ${modifier}`, width, 6));
    }
    if (clean(line.note)) {
      p.bold(true);
      printLines(p, wrap(`    NOTE: ${clean(line.note)}`, width, 10));
      p.bold(false);
    }
  }

  p.drawLine();
  printLines(p, wrap(clean(t.createdAt) + (clean(t.staffName) ? `  Staff: ${clean(t.staffName)}` : ''), width));
  printLines(p, wrap(`Order ${clean(t.orderId)}`, width));
}

// ---------------------------------------------------------------- receipt

function methodLabel(method: string): string {
  const words = clean(method).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function renderReceipt(p: ThermalPrinter, r: Receipt): void {
  const width = p.getWidth();
  const money = (minor: number) => formatMoney(minor, r.currency);
  const line = (left: string, right: string, indent = 0) => printLines(p, row(left, right, width, indent));
  const { totals } = r;

  p.alignCenter();
  printScaled(p, clean(r.locationName), 2);
  p.bold(true);
  p.println(`Order #${r.orderNumber}`);
  p.bold(false);
  if (r.receiptNumber !== undefined) p.println(`Receipt no. ${r.receiptNumber}`);
  p.println(clean(r.closedAt) || clean(r.createdAt));
  if (clean(r.staffName)) p.println(`Served by ${clean(r.staffName)}`);
  p.alignLeft();
  p.drawLine();

  for (const l of r.lines) {
    const qty = `${l.quantity} x `;
    line(`${qty}${clean(l.name)}`, money(l.total), qty.length);
    if (l.quantity !== 1) p.println(`    @ ${money(l.unitPrice)}`);
    for (const m of l.modifiers) {
      if (m.price === 0) printLines(p, wrap(`    + ${clean(m.name)}`, width, 6));
      else line(`    + ${clean(m.name)}`, `+${money(m.price)}`, 6);
    }
  }
  p.drawLine();

  line('Subtotal', money(totals.subtotal));
  for (const d of r.discounts) line(`Discount: ${clean(d.name)}`, money(-Math.abs(d.amount)), 2);
  if (r.discounts.length === 0 && totals.discount !== 0) line('Discount', money(-Math.abs(totals.discount)));
  if (totals.serviceCharge !== 0) line('Service charge', money(totals.serviceCharge));
  if (totals.tax !== 0 && !r.taxInclusive) line('Tax', money(totals.tax));
  if (totals.cardFee !== 0) line('Card fee', money(totals.cardFee));
  if (totals.tip !== 0) line('Tip', money(totals.tip));

  p.setTextDoubleHeight();
  p.bold(true);
  line('TOTAL', money(totals.total));
  p.bold(false);
  p.setTextNormal();
  if (totals.tax !== 0 && r.taxInclusive) line('  incl. tax', money(totals.tax));

  if (r.payments.length > 0) p.newLine();
  for (const pay of r.payments) {
    line(methodLabel(pay.method), money(pay.amount + pay.tip + pay.fee));
    if (pay.change) line('  Change', money(pay.change));
  }
  line('Paid', money(totals.paid));
  if (totals.refunded !== 0) line('Refunded', money(-Math.abs(totals.refunded)));
  if (totals.balance !== 0) {
    p.bold(true);
    line('BALANCE DUE', money(totals.balance));
    p.bold(false);
  }

  p.newLine();
  p.alignCenter();
  p.println('Thank you!');
  p.println(`Order ${clean(r.orderId)}`);
  p.alignLeft();
}

// ---------------------------------------------------------------- order number

export function renderOrderNumberTicket(p: ThermalPrinter, n: OrderNumberTicket): void {
  p.alignCenter();
  p.bold(true);
  printLines(p, wrap(clean(n.locationName), p.getWidth()));
  p.bold(false);
  p.newLine();
  p.println('YOUR ORDER NUMBER');
  printScaled(p, String(n.orderNumber), 4);
  p.newLine();
  p.println('Please wait until your number is called');
  p.alignLeft();
}
