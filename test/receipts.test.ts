import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { startHarness, Harness } from './support/harness';
import { closedSale } from './support/sales';
import { pdfText } from './support/pdf-text';
import { until } from './support/payments';
import { startFakePrinter } from './support/fake-printer';

/** Receipt numbers, PDF receipts and e-mailed receipts (through a real SMTP server in this process). */
let h: Harness;
let cashier: string;
let smtp: SMTPServer;
const mails: string[] = [];
/** SMTP replies the server gives to the next messages before accepting any (e.g. 451: try later). */
const refusals: number[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const code = refusals.shift();
        if (code) return done(Object.assign(new Error('try again later'), { responseCode: code }));
        mails.push(Buffer.concat(chunks).toString('latin1'));
        done();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  h = await startHarness({ env: { SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Demo Café <till@demo.test>' } });
  cashier = await h.login('3456');
});
afterAll(async () => {
  await h?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

const receiptNumberOf = async (orderId: string) =>
  until(
    async () => (await h.api('GET', `/api/v1/orders/${orderId}`, { token: cashier })).body.receiptNumber,
    (n) => n !== undefined,
  );

/** An order cancelled and persisted (it never gets a receipt). */
async function cancelledOrder(): Promise<string> {
  const created = await h.api('POST', '/api/v1/orders', {
    token: cashier,
    body: { type: 'takeaway', lines: [{ itemId: h.shop.items['Croissant'], quantity: 1 }] },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect(
    (await h.api('POST', `/api/v1/orders/${id}/cancel`, { token: cashier, body: { reason: 'changed mind' } })).status,
  ).toBe(200);
  await until(async () => (await h.deps.knex('orders').where({ id }).first('persisted_at'))?.persisted_at, Boolean);
  return id;
}

describe('receipt numbers', () => {
  it('numbers sold orders 1, 2, 3 … per location, once each, and never a cancelled one', async () => {
    const a = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 1 }]);
    const cancelled = await cancelledOrder();
    const b = await closedSale(h, cashier, [{ item: 'Espresso', quantity: 1, modifiers: ['Regular'] }]);
    expect([await receiptNumberOf(a.id), await receiptNumberOf(b.id)]).toEqual([1, 2]);
    expect((await h.api('GET', `/api/v1/orders/${cancelled}`, { token: cashier })).body.receiptNumber).toBeUndefined();
    expect(await h.deps.knex('locations').where({ id: h.shop.locationId }).first('receipt_counter')).toEqual({
      receipt_counter: 2,
    });
  });

  it('keeps the number when a later change (a refund) replaces the stored snapshot', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Burger', quantity: 1 }]);
    const n = await receiptNumberOf(sale.id);
    const manager = await h.login('2345');
    const payment = sale.payments[0];
    const refund = await h.api('POST', `/api/v1/orders/${sale.id}/refunds`, {
      token: manager,
      headers: { 'Idempotency-Key': `refund-${sale.id}` },
      body: { paymentId: payment.id, amount: 100, reason: 'cold' },
    });
    expect(refund.status).toBeLessThan(300);
    const after = await until(
      async () => (await h.api('GET', `/api/v1/orders/${sale.id}`, { token: cashier })).body,
      (o) => o.totals.refunded === 100,
    );
    expect(after.receiptNumber).toBe(n);
  });

  it('finds an order by its receipt number', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Sparkling water', quantity: 1 }]);
    const n = await receiptNumberOf(sale.id);
    const res = await h.api('GET', `/api/v1/orders?receipt=${n}`, { token: cashier });
    expect(res.status).toBe(200);
    expect(res.body.orders.map((o: any) => o.id)).toEqual([sale.id]);
    expect((await h.api('GET', '/api/v1/orders?receipt=99999', { token: cashier })).body.orders).toEqual([]);
  });

  it('prints the receipt number on the receipt', async () => {
    const printer = await startFakePrinter();
    try {
      await h.deps
        .knex('printers')
        .insert({ location_id: h.shop.locationId, name: 'Front', role: 'receipt', address: printer.address });
      await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_receipt: true });
      const sale = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 2 }]);
      await printer.waitForJobs(1, 15_000);
      expect(printer.text(0)).toContain(`Receipt no. ${await receiptNumberOf(sale.id)}`);
    } finally {
      await h.deps.knex('locations').where({ id: h.shop.locationId }).update({ auto_print_receipt: false });
      await h.deps.knex('printers').where({ location_id: h.shop.locationId }).delete();
      await printer.close();
    }
  });
});

describe('PDF receipt', () => {
  it('shows the shop, numbers, lines with modifiers, discount, tax, payment and totals', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Burger', quantity: 2, modifiers: ['Extra cheese'] }], {
      discount: 'Staff 10%',
    });
    const n = await receiptNumberOf(sale.id);
    const res = await fetch(`${h.baseUrl}/api/v1/orders/${sale.id}/receipt.pdf`, {
      headers: { authorization: `Bearer ${cashier}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = pdfText(pdf);
    expect(text).toEqual(
      expect.arrayContaining([
        'Demo Café',
        `Order #${sale.orderNumber}`,
        `Receipt no. ${n}`,
        '2 x Burger',
        'USD 25.00',
        '+ Extra cheese',
      ]),
    );
    const after = (label: string) => text[text.indexOf(label) + 1];
    expect(after('Discount: Staff 10%')).toBe('-USD 2.50');
    expect(after('Tax')).toBe('USD 1.80');
    expect(after('TOTAL')).toBe('USD 24.30');
    expect(after('Paid: cash')).toBe('USD 24.30');
  });

  it('lists refunds and lays out an A4 invoice on request', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Latte', quantity: 1, modifiers: ['Regular'] }]);
    await h.deps.knex('refunds').insert({
      id: '0190b3e4-6d2a-7c3b-9f00-00000000c001',
      location_id: h.shop.locationId,
      order_id: sale.id,
      payment_id: sale.payments[0].id,
      method: 'cash',
      amount: 120,
      status: 'succeeded',
      reason: 'spilt',
      created_at: new Date(),
      settled_at: new Date(),
    });
    const res = await fetch(`${h.baseUrl}/api/v1/orders/${sale.id}/receipt.pdf?layout=a4`, {
      headers: { authorization: `Bearer ${cashier}` },
    });
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(pdf.toString('latin1')).toMatch(/\/MediaBox \[0 0 595\.28 841\.89\]/);
    const text = pdfText(pdf);
    expect(text[text.indexOf('Refunded') + 1]).toBe('USD 1.20');
  });

  it('is 409 for a cancelled order and 404 for an unknown one', async () => {
    expect(
      (await h.api('GET', `/api/v1/orders/${await cancelledOrder()}/receipt.pdf`, { token: cashier })).status,
    ).toBe(409);
    expect(
      (await h.api('GET', '/api/v1/orders/0190b3e4-6d2a-7c3b-9f00-00000000ffff/receipt.pdf', { token: cashier }))
        .status,
    ).toBe(404);
  });
});

describe('e-mailed receipt', () => {
  /** The base64 PDF attachment of a raw MIME message. */
  function attachment(mail: string): Buffer {
    const part = mail.split(/\r\n--/).find((p) => /Content-Type: application\/pdf/i.test(p))!;
    const body = part.slice(part.indexOf('\r\n\r\n') + 4);
    return Buffer.from(body.replace(/[\r\n]/g, ''), 'base64');
  }

  it('arrives once, from SMTP_FROM, with the PDF attached', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Espresso', quantity: 2, modifiers: ['Regular'] }]);
    const n = await receiptNumberOf(sale.id);
    const before = mails.length;
    const res = await h.api('POST', `/api/v1/orders/${sale.id}/receipt/email`, {
      token: cashier,
      body: { to: 'guest@example.test' },
    });
    expect(res.status).toBe(202);
    await h.deps.temporal.workflow.getHandle(`receipt-email-${sale.id}-${res.body.emailId}`).result();
    expect(mails.length).toBe(before + 1);
    const mail = mails[before]!;
    expect(mail).toMatch(/^From: .*<till@demo\.test>/m);
    expect(mail).toMatch(/^To: guest@example\.test/m);
    expect(mail).toContain(`filename=receipt-${n}.pdf`);
    expect(pdfText(attachment(mail))).toEqual(expect.arrayContaining([`Receipt no. ${n}`, '2 x Espresso']));
  });

  it('is retried while the SMTP server refuses for now, and still arrives once', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 1 }]);
    const n = await receiptNumberOf(sale.id);
    refusals.push(451);
    const res = await h.api('POST', `/api/v1/orders/${sale.id}/receipt/email`, {
      token: cashier,
      body: { to: 'guest@example.test' },
    });
    expect(res.status).toBe(202);
    await h.deps.temporal.workflow.getHandle(`receipt-email-${sale.id}-${res.body.emailId}`).result();
    expect(refusals).toEqual([]);
    expect(mails.filter((m) => m.includes(`filename=receipt-${n}.pdf`))).toHaveLength(1);
  });

  it('sends nothing more for a repeat with the same Idempotency-Key', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Latte', quantity: 1, modifiers: ['Regular'] }]);
    const n = await receiptNumberOf(sale.id);
    const send = () =>
      h.api('POST', `/api/v1/orders/${sale.id}/receipt/email`, {
        token: cashier,
        headers: { 'Idempotency-Key': 'mail-1' },
        body: { to: 'guest@example.test' },
      });
    const first = await send();
    const second = await send();
    expect(second.body.emailId).toBe(first.body.emailId);
    await h.deps.temporal.workflow.getHandle(`receipt-email-${sale.id}-${first.body.emailId}`).result();
    expect(mails.filter((m) => m.includes(`filename=receipt-${n}.pdf`))).toHaveLength(1);
  });

  it('is 503 (nothing written) when no SMTP server is configured', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 1 }]);
    const configured = h.deps.config.smtp;
    h.deps.config.smtp = undefined;
    try {
      const res = await h.api('POST', `/api/v1/orders/${sale.id}/receipt/email`, {
        token: cashier,
        body: { to: 'guest@example.test' },
      });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'UNAVAILABLE', outcomeUnknown: false });
    } finally {
      h.deps.config.smtp = configured;
    }
  });

  it('is 422 for an address that is not one', async () => {
    const sale = await closedSale(h, cashier, [{ item: 'Croissant', quantity: 1 }]);
    const res = await h.api('POST', `/api/v1/orders/${sale.id}/receipt/email`, {
      token: cashier,
      body: { to: 'not an address' },
    });
    expect(res.status).toBe(422);
  });
});
