import PDFDocument from 'pdfkit';
import { DateTime } from 'luxon';
import { formatMoney } from '../core/format';
import type { ReceiptDocument } from '../core/receipt-document';

/**
 * A receipt as a PDF (pdfkit): `receipt` is an 80 mm roll (one page as long as it needs), `a4` an
 * A4 invoice. Both show what the printed receipt shows — shop, order and receipt number, local
 * time, staff, lines with modifiers, discounts, service charge, tax, card fee, tip, total,
 * payments — plus the refunds given since.
 */
export type ReceiptLayout = 'receipt' | 'a4';

const MM = 72 / 25.4;
const LINE = 13;

interface Row {
  left: string;
  right?: string;
  bold?: boolean;
  indent?: number;
}

function rowsOf(doc: ReceiptDocument): Row[] {
  const { order: s, refunds } = doc;
  const money = (minor: number) => formatMoney(minor, s.currency);
  const at = (iso: string) => DateTime.fromISO(iso).setZone(doc.timezone).toFormat('yyyy-MM-dd HH:mm');
  const t = s.totals;
  const rows: Row[] = [
    { left: doc.locationName, bold: true },
    { left: `Order #${s.orderNumber ?? ''}` },
    ...(s.receiptNumber !== undefined ? [{ left: `Receipt no. ${s.receiptNumber}` }] : []),
    { left: at(s.closedAt ?? s.createdAt) },
    ...(doc.staffName ? [{ left: `Served by ${doc.staffName}` }] : []),
    { left: '' },
  ];
  for (const l of s.lines) {
    rows.push({ left: `${l.quantity} x ${l.name}`, right: money(l.total) });
    for (const m of l.modifiers)
      rows.push({ left: `+ ${m.name}`, right: m.price ? `+${money(m.price)}` : undefined, indent: 12 });
    if (l.note) rows.push({ left: `Note: ${l.note}`, indent: 12 });
  }
  rows.push({ left: '' }, { left: 'Subtotal', right: money(t.subtotal) });
  for (const d of s.discounts) rows.push({ left: `Discount: ${d.name}`, right: money(-d.amount) });
  if (t.serviceCharge) rows.push({ left: 'Service charge', right: money(t.serviceCharge) });
  if (t.tax && !doc.taxInclusive) rows.push({ left: 'Tax', right: money(t.tax) });
  if (t.cardFee) rows.push({ left: 'Card fee', right: money(t.cardFee) });
  if (t.tip) rows.push({ left: 'Tip', right: money(t.tip) });
  rows.push({ left: 'TOTAL', right: money(t.total), bold: true });
  if (t.tax && doc.taxInclusive) rows.push({ left: 'incl. tax', right: money(t.tax) });
  rows.push({ left: '' });
  for (const p of s.payments.filter((p) => p.status === 'succeeded' || p.status === 'refunded')) {
    rows.push({ left: `Paid: ${p.method}`, right: money(p.amount + p.tip + p.fee) });
    if (p.change) rows.push({ left: 'Change', right: money(p.change), indent: 12 });
  }
  for (const r of refunds)
    rows.push({ left: `Refund${r.method ? `: ${r.method}` : ''} ${at(r.settledAt)}`, right: money(-r.amount) });
  if (refunds.length)
    rows.push({ left: 'Refunded', right: money(refunds.reduce((a, r) => a + r.amount, 0)), bold: true });
  return rows;
}

/** The PDF's bytes. */
export function renderReceiptPdf(doc: ReceiptDocument, layout: ReceiptLayout = 'receipt'): Promise<Buffer> {
  const rows = rowsOf(doc);
  const margin = layout === 'a4' ? 56 : 4 * MM;
  const size: [number, number] | string = layout === 'a4' ? 'A4' : [80 * MM, rows.length * LINE + 2 * margin + 20];
  const pdf = new PDFDocument({
    size,
    margin,
    info: { Title: `Receipt ${doc.order.receiptNumber ?? doc.order.id}`, Producer: 'Tillflow' },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  const width = pdf.page.width - 2 * margin;
  pdf.fontSize(layout === 'a4' ? 10 : 8);
  let y = margin;
  for (const r of rows) {
    if (y + LINE > pdf.page.height - margin) {
      pdf.addPage();
      y = margin;
    }
    pdf.font(r.bold ? 'Helvetica-Bold' : 'Helvetica');
    if (r.left)
      pdf.text(r.left, margin + (r.indent ?? 0), y, { width: width * 0.68, lineBreak: false, ellipsis: true });
    if (r.right) pdf.text(r.right, margin, y, { width, align: 'right', lineBreak: false });
    y += LINE;
  }
  pdf.end();
  return done;
}
