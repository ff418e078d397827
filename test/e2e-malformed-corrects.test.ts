/**
 * A `corrects` value that is not an error number, in CSV and XML, over real FTPS, BullMQ and SQLite: the record is a
 * correction that fails (E30, `correctable=N`, as is every other issue of the record), nothing of it is stored, and
 * a later attempt to correct that E30 by its number gets E32.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt, type ParsedReceipt } from './helpers/receipt';
import { csvBatch, vin, type R } from './helpers/batch';
import { hasXmllint, parseXmlReceipt, xmlBatch, xmllint } from './helpers/xml';
import { formatErrorNumber } from '../rules/error-number';

const GARAGE = '2123456692';
const PW = 'correct horse battery staple';

const good = formatErrorNumber(42);
const wrongCheck = good.slice(0, 10) + String((Number(good.slice(10)) % 97) + 1).padStart(2, '0');

/** Each malformed form, and what the E30 message says about it. */
const MALFORMED: [string, RegExp][] = [
  ['ABC-123', /^"ABC-123" is not a valid error number: an error number has digits only\.$/],
  ['12345678901X', /^"12345678901X" is not a valid error number: an error number has digits only\.$/],
  ['12345', /has 12 digits, this one has 5/],
  [good + '0', /has 12 digits, this one has 13/],
  [wrongCheck, /check digits do not match/],
  ['000000000000', /not an error number of this registry/],
];

let svc: TestService;
let client: Client;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'odo-e2e-corrects-'));
  svc = await startTestService();
  await svc.addAccount(GARAGE, PW);
  client = await svc.connect(GARAGE, PW);
});

afterAll(async () => {
  client?.close();
  await svc?.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function send(format: 'csv' | 'xml', name: string, records: R[]): Promise<ParsedReceipt> {
  const text = format === 'csv' ? csvBatch(GARAGE, records, { trailer: true }) : xmlBatch(GARAGE, records, { trailer: true });
  await client.uploadFrom(Readable.from([Buffer.from(text)]), `${name}.${format}`);
  const receipt = await waitForReceipt(client, `${name}.${format}.receipt.${format}`);
  if (format === 'csv') return parseReceipt(receipt);
  if (hasXmllint()) {
    const p = path.join(tmp, `${name}.receipt.xml`);
    fs.writeFileSync(p, receipt);
    expect(xmllint('inflow-receipt-1.xsd', p).stderr).toMatch(/validates/);
  }
  return parseXmlReceipt(receipt);
}

describe.each([
  ['csv', 100],
  ['xml', 200],
] as const)('a %s record whose corrects is not an error number', (format, base) => {
  // The record's position among the file's records: CSV receipts give it as the line (header on line 1), XML
  // receipts as `reading`, with the line where the reading starts (xmlBatch: one reading per line after the root).
  const where = (k: number) => (format === 'csv' ? { line: k + 1 } : { line: k + 1, reading: k });
  let first: ParsedReceipt;

  beforeAll(async () => {
    first = await send(format, `malformed-${format}`, [
      ...MALFORMED.map(([corrects], k) => ({ ref: `M-${k}`, vin: vin(base + k), corrects })),
      { ref: 'BOTH', vin: vin(base + 10), work: 'WASH', corrects: 'ABC-123' },
      { ref: 'OK', vin: vin(base + 11) },
    ]);
  });

  it('gets E30 on field corrects, correctable=N, with the reason, and is not stored', async () => {
    const e30s = first.issues.filter((i) => i.ref.startsWith('M-'));
    expect(
      e30s.map(({ line, reading, code, severity, field, correctable }) => ({ line, reading, code, severity, field, correctable })),
    ).toEqual(MALFORMED.map((_m, k) => ({ ...where(k + 1), code: 'E30', severity: 'E', field: 'corrects', correctable: 'N' })));
    MALFORMED.forEach(([, message], k) => expect(e30s[k].message).toMatch(message));
    for (const i of first.issues) expect(i.errorNumber).toMatch(/^\d{12}$/);
    expect([first.status, first.records, first.accepted, first.rejected]).toEqual(['PARTIAL', 8, 1, 7]);
    const stored = await svc.store.readings.forFile(Number(first.fileId.slice(1)));
    expect(stored.map((r) => r.ref)).toEqual(['OK']);
  });

  it("makes the record's other issues not correctable either", () => {
    const both = first.issues.filter((i) => i.ref === 'BOTH');
    expect(both.map((i) => [i.line, i.reading, i.code, i.field, i.correctable])).toEqual([
      [where(7).line, where(7).reading, 'E19', 'work', 'N'],
      [where(7).line, where(7).reading, 'E30', 'corrects', 'N'],
    ]);
  });

  it('and a later correction naming that E30 (or the E19 beside it) gets E32', async () => {
    const e30 = first.issues.find((i) => i.ref === 'M-0')!.errorNumber;
    const e19 = first.issues.find((i) => i.ref === 'BOTH' && i.code === 'E19')!.errorNumber;
    const again = await send(format, `again-${format}`, [
      { ref: 'FIX-1', vin: vin(base), corrects: e30 },
      { ref: 'FIX-2', vin: vin(base + 10), corrects: e19 },
    ]);
    expect(again.issues.map((i) => [i.ref, i.code, i.field, i.correctable])).toEqual([
      ['FIX-1', 'E32', 'corrects', 'N'],
      ['FIX-2', 'E32', 'corrects', 'N'],
    ]);
    expect(again.issues[0].message).toBe(
      `Error number ${e30} was raised on a correction and cannot be corrected electronically; use the correction form.`,
    );
    expect(await svc.store.readings.forFile(Number(again.fileId.slice(1)))).toEqual([]);
  });
});
