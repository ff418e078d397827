import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xmlReceiptChunks, writeXmlReceipt } from '../receipts/xml-receipt';
import { csvReceiptLines } from '../receipts/csv-receipt';
import { collectText } from '../receipts/receipt';
import type { ReceiptHeader, ReceiptIssue } from '../receipts/receipt';
import { parseReceipt } from './helpers/receipt';
import { hasXmllint, parseXmlReceipt, xmllint } from './helpers/xml';

const H: ReceiptHeader = {
  fileId: 'F000042',
  name: 'night "1" <&>\u0007.xml',
  sha256: 'a'.repeat(64),
  received: '2026-11-26T10:00:00.000Z',
  processed: '2026-11-26T10:00:01.000Z',
  status: 'PARTIAL',
  records: 3,
  accepted: 2,
  rejected: 1,
  anomalies: 0,
  warnings: 1,
};
const ISSUES: ReceiptIssue[] = [
  {
    errorNumber: '100000000162',
    line: 3,
    reading: 2,
    ref: 'WO-1',
    vin: 'WVWZZZ1JZXW000001',
    code: 'E12',
    severity: 'E',
    field: 'vin',
    correctable: true,
    message: 'The VIN "A<B&C" is bad.',
  },
  {
    errorNumber: null,
    line: 4,
    ref: null,
    vin: null,
    code: 'W50',
    severity: 'W',
    field: 'date',
    correctable: false,
    message: '=HYPERLINK("x")\u202e\ud800',
  },
];

describe('the XML receipt', () => {
  let text = '';
  beforeAll(async () => {
    text = await collectText(xmlReceiptChunks(H, ISSUES));
  });

  it('carries what the CSV receipt carries, escaped and without control characters', async () => {
    expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202e]/);
    const x = parseXmlReceipt(text);
    const c = parseReceipt(await collectText(csvReceiptLines(H, ISSUES)));
    // The CSV neutralises spreadsheet formulas with a leading quote; XML has no formulas to neutralise.
    c.issues[1].message = c.issues[1].message.replace(/^'/, '');
    // The reading index is the XML receipt's own: a CSV receipt gives the line only.
    c.issues[0].reading = 2;
    expect(x).toEqual(c);
    expect(x.name).toBe('night "1" <&> .xml');
    expect(x.issues[1].message).toBe('=HYPERLINK("x") \ufffd');
    expect(x.trailerCount).toBe(2);
  });

  it("gives a record's reading index after its line", () => {
    expect(text).toContain('<issue errorNumber="100000000162" line="3" reading="2" ref="WO-1" ');
  });

  it('leaves out an absent error number, reading index, ref and VIN', () => {
    expect(text).toContain('<issue line="4" code="W50" severity="W" field="date" correctable="N">');
  });

  (hasXmllint() ? it : it.skip)('validates against schemas/inflow-receipt-1.xsd, empty or not', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'odo-xml-receipt-'));
    try {
      for (const [name, issues] of [
        ['full', ISSUES],
        ['empty', []],
      ] as const) {
        const p = path.join(dir, `${name}.receipt.xml`);
        await writeXmlReceipt(p, { ...H, status: 'ACCEPTED' }, issues);
        expect(xmllint('inflow-receipt-1.xsd', p).stderr).toMatch(/validates/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
