import { CharacterSet, PrinterTypes, ThermalPrinter } from 'node-thermal-printer';
import { formatMoney } from '../core/format';
import { printJob, PrinterUnavailableError } from '../activities/printing/printer';
import { InvalidPrinterAddressError } from '../core/printer-address';
import { wrap } from '../activities/printing/tickets';
import type { KitchenTicket, OrderNumberTicket, Receipt } from '../activities/printing/types';
import {
  closedAddress,
  escposToText,
  startFakePrinter,
  startUnresponsivePrinter,
  type FakePrinter,
} from './support/fake-printer';

const ESC_INIT = Buffer.from([0x1b, 0x40]);
const FULL_CUT = Buffer.from([0x1d, 0x56, 0x00]);

const kitchen = (over: Partial<KitchenTicket> = {}): KitchenTicket => ({
  orderId: 'ord_01HZX',
  orderNumber: 42,
  type: 'dine_in',
  table: '7',
  customerName: null,
  staffName: 'Maria',
  createdAt: '2025-03-14 12:05',
  lines: [
    { name: 'Cheeseburger', quantity: 2, modifiers: ['No onions', 'Extra cheese'], note: 'Allergy: sesame' },
    { name: 'Fries', quantity: 1, modifiers: [] },
  ],
  ...over,
});

const receipt: Receipt = {
  orderId: 'ord_01HZY',
  orderNumber: 43,
  locationName: 'Tillflow Cafe Downtown',
  currency: 'USD',
  createdAt: '2025-03-14 12:10',
  closedAt: '2025-03-14 12:31',
  staffName: 'Maria',
  lines: [
    { name: 'Flat white', quantity: 2, unitPrice: 1150, modifiers: [{ name: 'Oat milk', price: 100 }], total: 2500 },
  ],
  discounts: [{ name: 'Happy hour 10%', amount: 250 }],
  totals: {
    subtotal: 2500,
    discount: 250,
    serviceCharge: 0,
    tax: 180,
    cardFee: 0,
    tip: 0,
    total: 2430,
    paid: 2430,
    refunded: 0,
    balance: 0,
  },
  taxInclusive: false,
  payments: [{ method: 'cash', amount: 2430, tip: 0, fee: 0, change: 570 }],
};

const orderNumber: OrderNumberTicket = { orderId: 'ord_01HZZ', orderNumber: 44, locationName: 'Tillflow Cafe' };

/** Non-overlapping occurrences of `needle` in `haystack`. */
function count(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

describe('formatMoney', () => {
  it('formats integer minor units with the currency code', () => {
    expect(formatMoney(2430, 'USD')).toBe('USD 24.30');
    expect(formatMoney(5, 'eur')).toBe('EUR 0.05');
    expect(formatMoney(0, 'USD')).toBe('USD 0.00');
    expect(formatMoney(-250, 'USD')).toBe('-USD 2.50');
    expect(formatMoney(123456, 'USD')).toBe('USD 1234.56');
    expect(formatMoney(500, 'JPY')).toBe('JPY 500');
    expect(formatMoney(1234, 'KWD')).toBe('KWD 1.234');
    expect(() => formatMoney(12.5, 'USD')).toThrow(RangeError);
  });
});

describe('wrap', () => {
  it('wraps on words, keeps leading indent and indents continuation lines', () => {
    expect(wrap('    + extra crispy bacon bits', 16, 6)).toEqual(['    + extra', '      crispy', '      bacon bits']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('printJob over TCP', () => {
  let printer: FakePrinter;
  beforeEach(async () => {
    printer = await startFakePrinter();
  });
  afterEach(async () => {
    await printer.close();
  });

  it('prints a kitchen ticket: init, big order number, lines, modifiers, note, cut', async () => {
    const { bytes } = await printJob(printer.address, { kind: 'kitchen', ticket: kitchen() });
    await printer.waitForJobs(1);

    const job = printer.jobs[0];
    expect(job.length).toBe(bytes);
    expect(job.subarray(0, 2)).toEqual(ESC_INIT);
    expect(job.subarray(-3)).toEqual(FULL_CUT);
    expect(count(job, ESC_INIT)).toBe(1);
    expect(count(job, FULL_CUT)).toBe(1);
    // order number at triple size (GS ! 0x22) and bold (ESC E 1)
    expect(job.includes(Buffer.concat([Buffer.from([0x1d, 0x21, 0x22, 0x1b, 0x45, 0x01]), Buffer.from('#42')]))).toBe(
      true,
    );

    const text = printer.text(0);
    expect(text).toContain('DINE IN');
    expect(text).toContain('#42');
    expect(text).toContain('TABLE 7');
    expect(text).toMatch(/^2 x Cheeseburger$/m);
    expect(text).toMatch(/^ {4}\+ No onions$/m);
    expect(text).toMatch(/^ {4}\+ Extra cheese$/m);
    expect(text).toMatch(/^ {4}NOTE: Allergy: sesame$/m);
    expect(text).toMatch(/^1 x Fries$/m);
    expect(text).toContain('Staff: Maria');
    expect(text).toContain('ord_01HZX');
  });

  it('prints a receipt with formatted lines and totals', async () => {
    await printJob(printer.address, { kind: 'receipt', receipt });
    await printer.waitForJobs(1);

    const text = printer.text(0);
    const lines = text.split('\n');
    const row = (label: string) => lines.find((l) => l.startsWith(label));
    expect(text).toContain('Tillflow Cafe Downtown');
    expect(text).toContain('Order #43');
    expect(row('2 x Flat white')).toMatch(/ USD 25\.00$/);
    expect(text).toContain('    @ USD 11.50');
    expect(row('    + Oat milk')).toMatch(/\+USD 1\.00$/);
    expect(row('Subtotal')).toMatch(/ USD 25\.00$/);
    expect(row('Discount: Happy hour 10%')).toMatch(/ -USD 2\.50$/);
    expect(row('Tax')).toMatch(/ USD 1\.80$/);
    expect(row('TOTAL')).toMatch(/ USD 24\.30$/);
    expect(row('Cash')).toMatch(/ USD 24\.30$/);
    expect(row('  Change')).toMatch(/ USD 5\.70$/);
    expect(row('BALANCE DUE')).toBeUndefined();
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(48);
    expect(printer.jobs[0].subarray(-3)).toEqual(FULL_CUT);
  });

  it('prints an order number ticket', async () => {
    await printJob(printer.address, { kind: 'orderNumber', ticket: orderNumber });
    await printer.waitForJobs(1);
    expect(printer.text(0)).toContain('YOUR ORDER NUMBER');
    expect(printer.text(0)).toMatch(/^44$/m);
  });

  it('sends each job on its own connection with only its own ticket', async () => {
    await printJob(printer.address, {
      kind: 'kitchen',
      ticket: kitchen({ orderNumber: 101, lines: [{ name: 'Soup', quantity: 1, modifiers: [] }] }),
    });
    await printJob(printer.address, {
      kind: 'kitchen',
      ticket: kitchen({ orderNumber: 102, lines: [{ name: 'Salad', quantity: 3, modifiers: [] }] }),
    });
    await printer.waitForJobs(2);

    expect(printer.jobs).toHaveLength(2);
    const [first, second] = [printer.text(0), printer.text(1)];
    expect(first).toContain('#101');
    expect(first).toContain('1 x Soup');
    expect(first).not.toContain('#102');
    expect(first).not.toContain('Salad');
    expect(second).toContain('#102');
    expect(second).toContain('3 x Salad');
    expect(second).not.toContain('#101');
    expect(second).not.toContain('Soup');
    for (const job of printer.jobs) {
      expect(count(job, ESC_INIT)).toBe(1);
      expect(count(job, FULL_CUT)).toBe(1);
    }
  });

  it('keeps user text from injecting ESC/POS commands', async () => {
    const ticket = kitchen({ lines: [{ name: 'Tea\x1dV\x00', quantity: 1, modifiers: ['\x1b@x'], note: 'a\nb' }] });
    await printJob(printer.address, { kind: 'kitchen', ticket });
    await printer.waitForJobs(1);
    expect(count(printer.jobs[0], FULL_CUT)).toBe(1);
    expect(count(printer.jobs[0], ESC_INIT)).toBe(1);
    expect(printer.text(0)).toMatch(/^1 x TeaV$/m);
    expect(printer.text(0)).toMatch(/NOTE: a b$/m);
  });

  it('prints Latin accents in code page 437', async () => {
    const ticket = kitchen({
      customerName: 'José',
      lines: [{ name: 'Crème brûlée', quantity: 1, modifiers: ['Früchte'] }],
    });
    await printJob(printer.address, { kind: 'kitchen', ticket });
    await printer.waitForJobs(1);
    expect(printer.jobs[0].subarray(2, 5)).toEqual(Buffer.from([0x1b, 0x74, 0x00])); // ESC t 0 right after ESC @
    expect(printer.jobs[0].includes(Buffer.from([0x43, 0x72, 0x8a, 0x6d, 0x65]))).toBe(true); // "Crème" in CP437
    expect(printer.text(0)).toMatch(/^1 x Crème brûlée$/m);
    expect(printer.text(0)).toContain('+ Früchte');
    expect(printer.text(0)).toContain('José');
  });

  // Documents the library behaviour printJob works around by building a fresh instance per job.
  it('node-thermal-printer keeps its buffer after execute(): a reused instance reprints', async () => {
    const reused = new ThermalPrinter({
      type: PrinterTypes.EPSON,
      interface: printer.address,
      characterSet: CharacterSet.PC437_USA,
    });
    reused.println('first ticket');
    await reused.execute();
    reused.println('second ticket');
    await reused.execute();
    await printer.waitForJobs(2);
    expect(printer.text(1)).toContain('first ticket');
    expect(printer.text(1)).toContain('second ticket');
  });
});

describe('printJob failures', () => {
  it('rejects within the timeout with a clear message when nothing listens', async () => {
    const address = await closedAddress();
    const started = Date.now();
    const result = printJob(address, { kind: 'orderNumber', ticket: orderNumber }, { timeoutMs: 1000 });
    await expect(result).rejects.toThrow(PrinterUnavailableError);
    await expect(result).rejects.toThrow(`Printer ${address} is unreachable: connect ECONNREFUSED`);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('rejects after timeoutMs when the printer never answers', async () => {
    const silent = await startUnresponsivePrinter();
    try {
      const started = Date.now();
      const result = printJob(silent.address, { kind: 'orderNumber', ticket: orderNumber }, { timeoutMs: 500 });
      await expect(result).rejects.toThrow(PrinterUnavailableError);
      await expect(result).rejects.toThrow(`Printer ${silent.address} is unreachable: no answer within 500 ms`);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(1500);
    } finally {
      await silent.close();
    }
  });

  it.each([
    'http://127.0.0.1:9100',
    '127.0.0.1:9100',
    'tcp://127.0.0.1',
    'tcp://127.0.0.1:0',
    'tcp://127.0.0.1:70000',
    'tcp://printer.local:9100/path',
    'tcp://[::1]:9100',
    '/dev/usb/lp0',
    '',
  ])('rejects the bad address %j', async (address) => {
    await expect(printJob(address, { kind: 'orderNumber', ticket: orderNumber })).rejects.toThrow(
      InvalidPrinterAddressError,
    );
    await expect(printJob(address, { kind: 'orderNumber', ticket: orderNumber })).rejects.toThrow(
      /expected tcp:\/\/host:port/,
    );
  });
});

describe('escposToText', () => {
  it('strips commands and keeps text', () => {
    const buf = Buffer.concat([
      ESC_INIT,
      Buffer.from([0x1b, 0x74, 0x00, 0x1d, 0x21, 0x11]),
      Buffer.from('Hi\n'),
      Buffer.from([0x1b, 0x64, 0x04]),
      FULL_CUT,
    ]);
    expect(escposToText(buf)).toBe('Hi\n');
  });
});
