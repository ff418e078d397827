/**
 * XML batch files end to end (issue #5) over real FTPS (basic-ftp), real BullMQ on the run's private Redis and real
 * SQLite: upload → worker → `<name>.receipt.xml` in /receipts/. Parity: every CSV fixture and its XML twin, each
 * sent to its own fresh service (so the history one builds does not meet the other's), give the same receipt and
 * store the same readings.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt, type ParsedReceipt } from './helpers/receipt';
import { csvBatch, daysAgo, vin } from './helpers/batch';
import { hasXmllint, parseXmlReceipt, xmlBatch, xmllint } from './helpers/xml';

const GARAGE = '2123456692';
const OTHER = '2200000085';
const PW = 'correct horse battery staple';
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const BIN = path.join(__dirname, '..', 'bin', 'inflow.js');
const XMLLINT = hasXmllint();
if (!XMLLINT) console.warn('xmllint not found (apt-get install libxml2-utils): the XSD checks of e2e-xml.test.ts are skipped');

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'odo-e2e-xml-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** validReceipt checks a written XML receipt against schemas/inflow-receipt-1.xsd. */
function expectValidReceipt(text: string): void {
  if (!XMLLINT) return;
  const p = path.join(tmp, `receipt-${Math.random().toString(36).slice(2)}.xml`);
  fs.writeFileSync(p, text);
  const r = xmllint('inflow-receipt-1.xsd', p);
  expect(r.stderr).toMatch(/validates/);
  expect(r.ok).toBe(true);
}

interface Sender {
  svc: TestService;
  client: Client;
}

async function startSender(): Promise<Sender> {
  const svc = await startTestService();
  await svc.addAccount(GARAGE, PW);
  return { svc, client: await svc.connect(GARAGE, PW) };
}

async function stopSender(s: Sender | undefined): Promise<void> {
  s?.client.close();
  await s?.svc.teardown();
}

const put = (s: Sender, content: string | Buffer, name: string) => s.client.uploadFrom(Readable.from([Buffer.from(content)]), name);

/** send uploads a file and returns its receipt, parsed, and the receipt's text. */
async function send(s: Sender, content: string | Buffer, name: string): Promise<{ r: ParsedReceipt; text: string }> {
  await put(s, content, name);
  const xml = receiptIsXml(content, name);
  const text = await waitForReceipt(s.client, `${name}.receipt.${xml ? 'xml' : 'csv'}`);
  return { r: xml ? parseXmlReceipt(text) : parseReceipt(text), text };
}

function receiptIsXml(content: string | Buffer, name: string): boolean {
  const head = Buffer.from(content)
    .subarray(0, 64)
    .toString('latin1')
    .replace(/^\xef\xbb\xbf/, '')
    .trimStart();
  return head.startsWith('<') || (name.endsWith('.xml') && !head.startsWith('H'));
}

const storedOf = async (s: Sender, fileId: string) =>
  (await s.svc.store.readings.forFile(Number(fileId.slice(1)))).map((x) => ({
    line: x.line,
    vin: x.vin,
    date: x.date,
    odometer: x.odometer,
    unit: x.unit,
    km: x.km,
    work: x.work,
    replaced: x.replaced,
    digits: x.digits,
    sender: x.sender,
    ref: x.ref,
    plate: x.plate,
    status: x.status,
  }));

describe('when every CSV fixture and its XML twin are uploaded (parity)', () => {
  let csv: Sender;
  let xml: Sender;
  beforeAll(async () => {
    [csv, xml] = await Promise.all([startSender(), startSender()]);
  });
  afterAll(async () => Promise.all([stopSender(csv), stopSender(xml)]));

  // In this order on both sides: the valid files first, so the later ones meet the same history.
  it.each([
    'valid-3-readings',
    'valid-no-trailer',
    'bom-crlf',
    'mixed-valid-and-invalid',
    'f01-binary',
    'f01-empty',
    'f02-bad-header',
    'f02-no-header',
    'f03-wrong-sender',
    'f04-trailer-count-mismatch',
    'f04-trailer-sum-mismatch',
    'f05-invalid-utf8',
  ])('%s: same receipt, same readings stored', async (name) => {
    const [c, x] = [fs.readFileSync(path.join(FIXTURES, `${name}.csv`)), fs.readFileSync(path.join(FIXTURES, `${name}.xml`))];
    const a = await send(csv, c, `${name}.csv`);
    const b = await send(xml, x, `${name}.xml`);
    expectValidReceipt(b.text);

    const counts = (r: ParsedReceipt) => [r.status, r.records, r.accepted, r.rejected, r.anomalies, r.warnings];
    expect(counts(b.r)).toEqual(counts(a.r));
    // The twins are laid out line for line with the header on line 1: a record's issues give the same line in both
    // receipts, and the XML one adds the reading index, one less (docs/receipts.md); file-level issues have none.
    // Messages differ only where the defect does (the E10 twins, the missing header) or name the record (E21: line
    // or reading index).
    const same = (i: ParsedReceipt['issues'][number], fromCsv = false) => ({
      line: i.line,
      reading: fromCsv ? (i.severity === 'F' ? undefined : i.line - 1) : i.reading,
      code: i.code,
      severity: i.severity,
      field: i.field,
      correctable: i.correctable,
      numbered: i.errorNumber !== '',
      ref: i.ref,
      vin: i.vin,
      message: i.code === 'E10' || i.code === 'E21' || (i.code === 'F02' && i.field === 'file') ? '' : i.message,
    });
    expect(b.r.issues.map((i) => same(i))).toEqual(a.r.issues.map((i) => same(i, true)));
    expect(b.r.trailerCount).toBe(b.r.issues.length);
    expect(await storedOf(xml, b.r.fileId)).toEqual((await storedOf(csv, a.r.fileId)).map((x) => ({ ...x, line: x.line - 1 })));
    expect(await xml.svc.store.readings.count()).toBe(await csv.svc.store.readings.count());
  });
});

describe('when an XML file is sent', () => {
  let s: Sender;
  beforeAll(async () => {
    s = await startSender();
    await s.svc.addAccount(OTHER, PW);
  });
  afterAll(async () => stopSender(s));

  it('in the layout of docs/formats.md, it is ACCEPTED with an XML receipt', async () => {
    const text = [
      `<inflow version="1" sender="${GARAGE}" created="2026-11-25T22:00:00+01:00" software="DMS 7.3">`,
      '  <reading ref="WO-1001">',
      `    <vin>${vin(1)}</vin><plate>1ABC123</plate><date>${daysAgo(2)}</date>`,
      '    <odometer unit="km">123456</odometer><work>MAINT</work>',
      '    <replaced>N</replaced><digits></digits><corrects></corrects>',
      '  </reading>',
      '  <trailer count="1" sum="123456"/>',
      '</inflow>',
      '',
    ].join('\n');
    const { r, text: receipt } = await send(s, text, 'spec.xml');
    expect(r).toMatchObject({ status: 'ACCEPTED', name: 'spec.xml', records: 1, accepted: 1, rejected: 0, issues: [], trailerCount: 0 });
    expect(receipt.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<receipt format="INFLOW-RECEIPT" version="1" ')).toBe(true);
    expectValidReceipt(receipt);
    expect(await storedOf(s, r.fileId)).toEqual([
      expect.objectContaining({ line: 1, vin: vin(1), odometer: 123456, plate: '1ABC123', ref: 'WO-1001' }),
    ]);
    expect((await s.svc.store.files.get(Number(r.fileId.slice(1))))!.format).toBe('xml');
  });

  it('with valid and invalid readings, each issue names its line and reading index with an error number', async () => {
    const text = xmlBatch(
      GARAGE,
      [
        { ref: 'WO-1', vin: vin(11), odometer: 12000 }, // 2 ok
        { ref: 'WO-2', vin: 'TSTVNZZZ00000000I', odometer: 5 }, // 3 E12
        `<reading ref="WO-3"><vin>${vin(13)}</vin><date>${daysAgo(2)}</date><odometer unit="km">1</odometer><work>MAINT</work><x/></reading>`, // 4 E10
        { ref: 'WO-4', vin: vin(14), work: 'WASH' }, // 5 E19
        '<note>hello</note>', // 6 E10
        { ref: 'WO-5', vin: vin(15), unit: 'yd' }, // 7 E15
      ],
      { trailer: { count: 5, sum: 12000 + 5 + 1 + 10000 + 10000 } },
    );
    const { r, text: receipt } = await send(s, text, 'mixed.xml');
    expectValidReceipt(receipt);
    expect(r.status).toBe('PARTIAL');
    expect([r.records, r.accepted, r.rejected]).toEqual([6, 1, 5]);
    expect(r.issues.map((i) => [i.line, i.reading, i.code, i.field, i.ref])).toEqual([
      [3, 2, 'E12', 'vin', 'WO-2'],
      [4, 3, 'E10', 'record', 'WO-3'],
      [5, 4, 'E19', 'work', 'WO-4'],
      [6, 5, 'E10', 'record', ''],
      [7, 6, 'E15', 'unit', 'WO-5'],
    ]);
    for (const i of r.issues) expect(i.errorNumber).toMatch(/^\d{10,}$/);
    expect((await storedOf(s, r.fileId)).map((x) => x.line)).toEqual([1]);
  });

  it('twice, the second is a DUPLICATE with an XML receipt', async () => {
    const text = xmlBatch(GARAGE, [{ vin: vin(21), odometer: 5000 }], { trailer: true });
    const first = await send(s, text, 'first.xml');
    const second = await send(s, text, 'second.xml');
    expectValidReceipt(second.text);
    expect([first.r.status, second.r.status]).toEqual(['ACCEPTED', 'DUPLICATE']);
    expect(second.r.issues).toMatchObject([{ code: 'F07', severity: 'F', correctable: 'N', errorNumber: '' }]);
  });

  it('the format is taken from the content, not the name', async () => {
    const asCsv = await send(s, csvBatch(GARAGE, [{ vin: vin(31) }], { trailer: true }), 'really-csv.xml');
    expect(asCsv.r.status).toBe('ACCEPTED'); // a CSV receipt: parseReceipt read it
    const asXml = await send(s, xmlBatch(GARAGE, [{ vin: vin(32) }], { trailer: true }), 'really-xml.csv');
    expect(asXml.r.status).toBe('ACCEPTED');
    expectValidReceipt(asXml.text);
  });

  it('naming another establishment as its sender, it is refused with F03 and nothing is stored', async () => {
    const wrong = await send(s, xmlBatch(OTHER, [{ vin: vin(41) }]), 'not-mine.xml');
    expect(wrong.r.issues.map((i) => i.code)).toEqual(['F03']);
    expect(await storedOf(s, wrong.r.fileId)).toEqual([]);
  });

  // In XML readings may share a line: the pipeline keys XML records by reading index (docs/checks.md), not by line.
  it('with all its readings on one line, gives each reading its own issues and stores each good one', async () => {
    const reading = (v: string, odometer: number) =>
      `<reading><vin>${v}</vin><date>${daysAgo(2)}</date><odometer unit="km">${odometer}</odometer><work>MAINT</work></reading>`;
    const one =
      `<inflow version="1" sender="${GARAGE}">` +
      [reading(vin(51), 100), reading('BAD-1', 1), reading('BAD-2', 2), reading(vin(51), 200)].join('') +
      '</inflow>';
    const { r } = await send(s, one, 'one-line.xml');
    expect([r.status, r.records, r.accepted, r.rejected]).toEqual(['PARTIAL', 4, 2, 2]);
    expect(r.issues.map((i) => [i.code, i.line, i.reading])).toEqual([
      ['E12', 1, 2],
      ['E12', 1, 3],
    ]);
    expect((await storedOf(s, r.fileId)).map((x) => x.odometer)).toEqual([100, 200]);
  });

  describe('that must be refused as a whole', () => {
    it.each([
      ['f05-not-well-formed.xml', 'F05', /^Line 3: The XML is not well-formed at column 80: unexpected close tag\.$/],
      ['f05-truncated.xml', 'F05', /^Line 4: The file ends before the XML document does .*truncated/],
      ['f05-billion-laughs.xml', 'F05', /DTD/],
      ['f05-xxe.xml', 'F05', /DTD/],
      ['f01-wrong-root.xml', 'F01', /root element is <invoice>/],
      ['f04-trailer-count-mismatch.xml', 'F04', /trailer counts 4/],
      ['f03-wrong-sender.xml', 'F03', /2200000085/],
    ])('%s gets a REJECTED receipt with %s, fast, in little memory, storing nothing', async (name, code, message) => {
      const count = await s.svc.store.readings.count();
      const rss = process.memoryUsage().rss;
      const t0 = Date.now();
      const { r, text } = await send(s, fs.readFileSync(path.join(FIXTURES, name)), name);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 2 ** 20);
      expectValidReceipt(text);
      expect(r.status).toBe('REJECTED');
      expect(r.issues).toHaveLength(1);
      expect(r.issues[0]).toMatchObject({ code, severity: 'F', errorNumber: '', correctable: 'N' });
      expect(r.issues[0].message).toMatch(message);
      expect(text).not.toMatch(/root:x:0|lollollol/); // nothing expanded, nothing fetched
      expect(await s.svc.store.readings.forFile(Number(r.fileId.slice(1)))).toEqual([]);
      expect(await s.svc.store.readings.count()).toBe(count);
    });
  });

  it('`inflow receipt <id>` prints the XML receipt, and `--xml` renders a CSV file’s receipt as XML', async () => {
    const x = await send(s, xmlBatch(GARAGE, [{ vin: vin(61) }, { vin: vin(62), work: 'NOPE' }]), 'cli.xml');
    const c = await send(s, csvBatch(GARAGE, [{ vin: vin(63) }, { vin: vin(64), work: 'NOPE' }]), 'cli.csv');
    const inflow = (args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, INFLOW_DATA_DIR: s.svc.dir, REDIS_URL: '' },
        timeout: 30_000,
      });
    for (const args of [
      ['receipt', x.r.fileId],
      ['receipt', x.r.fileId, '--xml'],
    ]) {
      const out = inflow(args);
      expect(out.stderr).toBe('');
      expect(out.stdout).toBe(x.text);
    }
    const rendered = inflow(['receipt', c.r.fileId, '--xml']).stdout;
    expectValidReceipt(rendered);
    expect(parseXmlReceipt(rendered)).toEqual(c.r);
    expect(inflow(['receipt', c.r.fileId]).stdout).toBe(c.text);
  });
});

describe('the XSDs', () => {
  const run = XMLLINT ? it : it.skip;
  const VALID = [
    'valid-3-readings',
    'valid-no-trailer',
    'bom-crlf',
    'f03-wrong-sender',
    'f04-trailer-count-mismatch',
    'f04-trailer-sum-mismatch',
  ];
  // Deliberately invalid: an unknown element and bad values (mixed), version 2, no header attributes.
  const INVALID = ['mixed-valid-and-invalid', 'f02-bad-header', 'f02-no-header'];

  run.each(VALID)('%s.xml validates against schemas/inflow-1.xsd', (name) => {
    const r = xmllint('inflow-1.xsd', path.join(FIXTURES, `${name}.xml`));
    expect(r.stderr).toMatch(/validates/);
  });

  run.each(INVALID)('%s.xml does not (it is meant to be refused)', (name) => {
    expect(xmllint('inflow-1.xsd', path.join(FIXTURES, `${name}.xml`)).ok).toBe(false);
  });

  run('every XML fixture is either valid, meant to be invalid, or not an INFLOW document at all (f01, f05)', () => {
    const xmls = fs
      .readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.xml'))
      .map((f) => f.slice(0, -4));
    expect(xmls.filter((n) => !VALID.includes(n) && !INVALID.includes(n) && !/^f0[15]-/.test(n))).toEqual([]);
  });

  run('the documented example file and receipt validate (docs/formats.md, docs/receipts.md)', () => {
    const doc = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'docs', name), 'utf8');
    const example = /```xml\n((?:<\?xml[^\n]*\n)?<inflow[\s\S]*?<\/inflow>\n)```/.exec(doc('formats.md'))?.[1];
    expect(example).toBeDefined();
    const p = path.join(tmp, 'readme.xml');
    fs.writeFileSync(p, example!);
    expect(xmllint('inflow-1.xsd', p).stderr).toMatch(/validates/);
    const receipt = /```xml\n(<\?xml[^\n]*\n<receipt[\s\S]*?<\/receipt>\n)```/.exec(doc('receipts.md'))?.[1];
    expect(receipt).toBeDefined();
    expectValidReceipt(receipt!);
  });
});
