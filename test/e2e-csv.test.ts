/**
 * End to end over real FTPS (basic-ftp), real BullMQ on the run's private Redis and real SQLite:
 * upload → worker → receipt in /receipts/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { auditEvents } from './helpers/ops';
import { isEmptyDir, partialUpload, waitFor } from './helpers/wait';
import { csvBatch, daysAgo, vin } from './helpers/batch';
import { isLate } from '../rules/working-days';
import { brusselsToday } from '../rules/brussels-date';

const GARAGE = '2123456692';
const OTHER = '2200000085';
const PW = 'correct horse battery staple';

let svc: TestService;
let client: Client;

beforeAll(async () => {
  svc = await startTestService();
  await svc.addAccount(GARAGE, PW);
  await svc.addAccount(OTHER, PW);
  client = await svc.connect(GARAGE, PW);
});

afterAll(async () => {
  client?.close();
  await svc?.teardown();
});

const put = (text: string | Buffer, name: string) => client.uploadFrom(Readable.from([Buffer.from(text)]), name);

/** Whether the audit log has `event` for the upload `name`. */
const audited = async (event: string, name: string) => (await auditEvents(svc)).some((e) => e.event === event && e.name === name);

const readingsOf = async (fileId: string) => {
  const pk = Number(fileId.slice(1));
  return await svc.store.readings.forFile(pk);
};

describe('when a file mixes valid and invalid records', () => {
  it('stores the valid readings, rejects the others and lists each issue in the receipt', async () => {
    const text = csvBatch(
      GARAGE,
      [
        { ref: 'WO-1', vin: vin(1), odometer: 12000 }, // 2 ok
        { ref: 'WO-2', vin: 'TSTVNZZZ00000000I', odometer: 5 }, // 3 E12
        'R;WO-3;' + vin(3), // 4 E10 too few fields
        { ref: 'WO-4', vin: vin(4), date: '' }, // 5 E11 date
        { ref: 'WO-5', vin: vin(5), odometer: '12a' }, // 6 E14
        { ref: 'WO-6', vin: vin(6), unit: 'yd' }, // 7 E15
        { ref: 'WO-7', vin: vin(7), date: '2026-02-30' }, // 8 E16
        { ref: 'WO-8', vin: vin(8), date: '2999-01-01' }, // 9 E17
        { ref: 'WO-9', vin: vin(9), date: '1989-12-31' }, // 10 E18
        { ref: 'WO-10', vin: vin(10), work: 'WASH' }, // 11 E19
        { ref: 'WO-11', vin: vin(11), replaced: 'X' }, // 12 E20
        { ref: 'WO-12', vin: vin(12), odometer: 777, date: daysAgo(3) }, // 13 ok
        { ref: 'WO-13', vin: vin(12), odometer: 777, date: daysAgo(3) }, // 14 E21
        'X;what;is;this', // 15 E10 unknown type
        { ref: 'WO-14', vin: '', plate: '', odometer: 1 }, // 16 E11 vin
      ],
      { trailer: true },
    );
    await put(text, 'mixed.csv');
    const r = parseReceipt(await waitForReceipt(client, 'mixed.csv.receipt.csv'));

    expect(r.status).toBe('PARTIAL');
    expect(r.name).toBe('mixed.csv');
    expect({ records: r.records, accepted: r.accepted, rejected: r.rejected, anomalies: r.anomalies, warnings: r.warnings }).toEqual({
      records: 15,
      accepted: 2,
      rejected: 13,
      anomalies: 0,
      warnings: 0,
    });
    expect(r.issues.map((i) => [i.line, i.code, i.severity, i.field])).toEqual([
      [3, 'E12', 'E', 'vin'],
      [4, 'E10', 'E', 'record'],
      [5, 'E11', 'E', 'date'],
      [6, 'E14', 'E', 'odometer'],
      [7, 'E15', 'E', 'unit'],
      [8, 'E16', 'E', 'date'],
      [9, 'E17', 'E', 'date'],
      [10, 'E18', 'E', 'date'],
      [11, 'E19', 'E', 'work'],
      [12, 'E20', 'E', 'replaced'],
      [14, 'E21', 'E', 'record'],
      [15, 'E10', 'E', 'record'],
      [16, 'E11', 'E', 'vin'],
    ]);
    expect(r.trailerCount).toBe(r.issues.length);
    for (const i of r.issues) {
      expect(i.correctable).toBe('Y');
      expect(i.errorNumber).toMatch(/^\d{10,}$/);
    }
    expect(new Set(r.issues.map((i) => i.errorNumber)).size).toBe(r.issues.length);
    expect(r.issues.find((i) => i.line === 3)!.ref).toBe('WO-2');

    const stored = await readingsOf(r.fileId);
    expect(stored.map((s) => [s.line, s.vin, s.odometer])).toEqual([
      [2, vin(1), 12000],
      [13, vin(12), 777],
    ]);
    expect(stored[0].sender).toBe(GARAGE);
  });
});

describe('when a valid file is uploaded', () => {
  it('accepts it with an empty issue list and stores every reading', async () => {
    await put(
      csvBatch(
        GARAGE,
        [
          { vin: vin(101), odometer: 1 },
          { vin: vin(102), odometer: 2 },
        ],
        { trailer: true },
      ),
      'ok.csv',
    );
    const r = parseReceipt(await waitForReceipt(client, 'ok.csv.receipt.csv'));
    expect(r.status).toBe('ACCEPTED');
    expect(r.issues).toEqual([]);
    expect([r.records, r.accepted, r.rejected]).toEqual([2, 2, 0]);
    expect(await readingsOf(r.fileId)).toHaveLength(2);
    const row = (await svc.store.files.get(Number(r.fileId.slice(1))))!;
    expect(r.sha256).toBe(row.sha256);
    expect(row.status).toBe('done');
  });
});

describe('when the same content is uploaded twice', () => {
  it('answers DUPLICATE naming the first file and stores nothing twice', async () => {
    const text = csvBatch(GARAGE, [{ vin: vin(201), odometer: 5000 }], { trailer: true });
    await put(text, 'first.csv');
    const first = parseReceipt(await waitForReceipt(client, 'first.csv.receipt.csv'));
    expect(first.status).toBe('ACCEPTED');
    await put(text, 'second.csv');
    const second = parseReceipt(await waitForReceipt(client, 'second.csv.receipt.csv'));
    expect(second.status).toBe('DUPLICATE');
    expect(second.issues).toHaveLength(1);
    expect(second.issues[0]).toMatchObject({ code: 'F07', severity: 'F', correctable: 'N', errorNumber: '' });
    expect(second.issues[0].message).toContain(first.fileId);
    expect(await svc.store.readings.timeline(vin(201))).toHaveLength(1);
    expect(await readingsOf(second.fileId)).toHaveLength(0);
  });
});

describe('when a file is uploaded under a temporary name', () => {
  it('holds x.csv.part and processes it only once renamed to x.csv', async () => {
    const before = (await svc.store.files.list()).length;
    await put(csvBatch(GARAGE, [{ vin: vin(301), odometer: 7 }], { trailer: true }), 'night.csv.part');
    // The server's verdict on the upload: held in the drop zone (an upload given to the intake is audited 'upload').
    await waitFor('night.csv.part to be held', () => audited('held', 'night.csv.part'), 10_000, 50);
    expect(await audited('upload', 'night.csv.part')).toBe(false);
    expect((await svc.store.files.list()).length).toBe(before);
    expect((await client.list('/')).map((f) => f.name)).toContain('night.csv.part');
    await client.rename('night.csv.part', 'night.csv');
    const r = parseReceipt(await waitForReceipt(client, 'night.csv.receipt.csv'));
    expect(r.status).toBe('ACCEPTED');
    expect((await svc.store.files.list()).length).toBe(before + 1);
    expect((await client.list('/')).map((f) => f.name)).not.toContain('night.csv.part');
  });
});

describe('when an upload is cut off mid-transfer', () => {
  it('never records nor processes the truncated file', async () => {
    const before = (await svc.store.files.list()).length;
    const c = await svc.connect(GARAGE, PW);
    const big = csvBatch(
      GARAGE,
      Array.from({ length: 20000 }, (_, i) => ({ vin: vin(400000 + i), odometer: i })),
      { trailer: true },
    );
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent === 0) {
          sent += 65536;
          this.push(Buffer.from(big.slice(0, 65536)));
          // the client dies once the server has its first bytes: its data socket is destroyed, no TLS close
          waitFor('the first bytes of cut.csv on the server', () => partialUpload(svc.layout.dropDir(GARAGE)), 10_000, 10).then(
            () => c.ftp.dataSocket?.destroy(),
            (err) => this.destroy(err),
          );
        }
      },
    });
    await expect(c.uploadFrom(source, 'cut.csv')).rejects.toBeDefined();
    c.close();
    // The server's verdict: the upload aborted and its temporary file discarded (the intake takes in only a
    // completed upload, before it is audited 'upload').
    const incoming = path.join(svc.layout.dropDir(GARAGE), '.incoming');
    await waitFor(
      'cut.csv to be aborted and discarded',
      async () => (await audited('upload_aborted', 'cut.csv')) && isEmptyDir(incoming),
      10_000,
      50,
    );
    expect(await audited('upload', 'cut.csv')).toBe(false);
    expect((await svc.store.files.list()).length).toBe(before);
    expect((await svc.store.files.list()).map((f) => f.name)).not.toContain('cut.csv');
    expect(fs.readdirSync(incoming)).toEqual([]);
  });
});

describe('when a file fails a file-level check', () => {
  const cases: [string, string | Buffer, string][] = [
    [
      'bad-header.csv',
      'H;INFLOW;2;' + GARAGE + ';2026-11-25T22:00:00+01:00;X\n' + 'R;;' + vin(501) + ';;' + daysAgo(2) + ';1;km;MAINT;N;;\n',
      'F02',
    ],
    ['no-header.csv', 'R;;' + vin(502) + ';;' + daysAgo(2) + ';1;km;MAINT;N;;\n', 'F02'],
    ['wrong-sender.csv', csvBatch(OTHER, [{ vin: vin(503) }], { trailer: true }), 'F03'],
    ['trailer.csv', csvBatch(GARAGE, [{ vin: vin(504) }, { vin: vin(505) }], { trailer: { count: 3, sum: 20000 } }), 'F04'],
    ['binary.csv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]), 'F01'],
    [
      'utf8.csv',
      Buffer.concat([
        Buffer.from(csvBatch(GARAGE, [{ vin: vin(506) }]).replace('TestDMS', 'Test\u00e9')),
        Buffer.from('R;W\xff;' + vin(507) + ';;' + daysAgo(2) + ';1;km;MAINT;N;;\n', 'latin1'),
      ]),
      'F05',
    ],
  ];
  it.each(cases.map(([n, c, k]) => [n, k, c] as const))(
    '%s gets a REJECTED receipt with %s and stores nothing',
    async (name, code, content) => {
      const count = await svc.store.readings.count();
      await put(content, name);
      const r = parseReceipt(await waitForReceipt(client, `${name}.receipt.csv`));
      expect(r.status).toBe('REJECTED');
      expect(r.issues.map((i) => i.code)).toContain(code);
      for (const i of r.issues) {
        expect(i.severity).toBe('F');
        expect(i.errorNumber).toBe('');
        expect(i.correctable).toBe('N');
      }
      expect(r.accepted).toBe(0);
      expect(await readingsOf(r.fileId)).toHaveLength(0);
      expect(await svc.store.readings.count()).toBe(count);
    },
  );
});

describe('when the fixtures are uploaded as they are', () => {
  const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', name));

  it('mixed-valid-and-invalid.csv gets every record-level code on its line', async () => {
    const fixtureDates = new Map(
      fixture('mixed-valid-and-invalid.csv')
        .toString()
        .split('\n')
        .map((l, i) => [i + 1, l.split(';')[4]]),
    );
    await put(fixture('mixed-valid-and-invalid.csv'), 'fx-mixed.csv');
    const r = parseReceipt(await waitForReceipt(client, 'fx-mixed.csv.receipt.csv'));
    expect(r.status).toBe('PARTIAL');
    // The fixture's dates are fixed: as the calendar moves on its readings become late (W50), checked apart.
    const late = r.issues.filter((i) => i.code === 'W50');
    for (const w of late) expect(isLate(fixtureDates.get(w.line)!, brusselsToday(new Date(r.received)))).toBe(true);
    expect(r.issues.filter((i) => i.code !== 'W50').map((i) => [i.line, i.code, i.field])).toEqual([
      [4, 'E10', 'record'],
      [5, 'E10', 'record'],
      [6, 'E11', 'vin'],
      [7, 'E12', 'vin'],
      [8, 'E14', 'odometer'],
      [9, 'E15', 'unit'],
      [10, 'E16', 'date'],
      [11, 'E17', 'date'],
      [12, 'E18', 'date'],
      [13, 'E19', 'work'],
      [14, 'E20', 'replaced'],
      [16, 'E21', 'record'],
    ]);
    expect([r.records, r.accepted, r.rejected]).toEqual([16, 4, 12]);
    expect((await readingsOf(r.fileId)).map((x) => x.line)).toEqual([2, 3, 15, 17]);
    const miles = (await readingsOf(r.fileId)).find((x) => x.line === 3)!;
    expect([miles.unit, miles.odometer, miles.km]).toEqual(['mi', 54321, Math.round(54321 * 1.609344)]);
  });

  it.each([
    ['f01-binary.csv', 'F01'],
    ['f01-empty.csv', 'F01'],
    ['f02-bad-header.csv', 'F02'],
    ['f02-no-header.csv', 'F02'],
    ['f03-wrong-sender.csv', 'F03'],
    ['f04-trailer-count-mismatch.csv', 'F04'],
    ['f04-trailer-sum-mismatch.csv', 'F04'],
    ['f05-invalid-utf8.csv', 'F05'],
  ])('%s is REJECTED with %s', async (name, code) => {
    await put(fixture(name), 'fx-' + name);
    const r = parseReceipt(await waitForReceipt(client, `fx-${name}.receipt.csv`));
    expect(r.status).toBe('REJECTED');
    expect(r.issues.map((i) => i.code)).toEqual([code]);
    expect(await readingsOf(r.fileId)).toHaveLength(0);
  });

  it.each(['valid-3-readings.csv', 'valid-no-trailer.csv', 'bom-crlf.csv'])('%s is ACCEPTED', async (name) => {
    await put(fixture(name), 'fx-' + name);
    const r = parseReceipt(await waitForReceipt(client, `fx-${name}.receipt.csv`));
    // Fixtures share readings (W51 when already stored) and have fixed dates (W50 once late): warnings only.
    expect(r.status).toBe('ACCEPTED');
    expect(r.accepted).toBe(r.records);
    expect(r.issues.filter((i) => i.severity !== 'W')).toEqual([]);
    const stored = (await readingsOf(r.fileId)).length;
    expect(stored + r.issues.filter((i) => i.code === 'W51').length).toBe(r.records);
  });
});
