/**
 * The history rules through the real pipeline (FTPS upload → worker → receipt): table-driven scenarios, each a
 * sequence of files from one or more senders with the expected issue codes of every record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt, type ParsedReceipt } from './helpers/receipt';
import { csvBatch, daysAgo, vin, type R } from './helpers/batch';
import { importRegister } from '../queries/import-register';
import { vehicleHistory } from '../queries/vehicle-history';
import { isLate } from '../rules/working-days';
import { brusselsToday } from '../rules/brussels-date';

const S1 = '2123456692';
const S2 = '2200000085';
const PW = 'history password 1';

let svc: TestService;
const clients: Record<string, Client> = {};
let uploads = 0;

beforeAll(async () => {
  svc = await startTestService();
  for (const s of [S1, S2]) {
    await svc.addAccount(s, PW);
    clients[s] = await svc.connect(s, PW);
  }
  const reg = path.join(svc.dir, 'register.csv');
  fs.writeFileSync(
    reg,
    [
      'vin;plate;first_registration;imported;digits',
      `${vin(9001)};1-REG-001;${daysAgo(5)};N;`,
      `${vin(9002)};1REG002;2015-03-01;N;5`,
      `${vin(9003)};2-XYZ-900;2018-01-01;Y;`,
    ].join('\n') + '\n',
  );
  expect(await importRegister(svc.store, reg)).toBe(3);
});

afterAll(async () => {
  Object.values(clients).forEach((c) => c.close());
  await svc?.teardown();
});

/** send uploads one file and returns its receipt. */
async function send(sender: string, records: (R | string)[], opts: { trailer?: boolean } = {}): Promise<ParsedReceipt> {
  const name = `h${++uploads}.csv`;
  await clients[sender].uploadFrom(Readable.from([Buffer.from(csvBatch(sender, records, { trailer: opts.trailer ?? true }))]), name);
  return parseReceipt(await waitForReceipt(clients[sender], `${name}.receipt.csv`));
}

/** codesByRecord: the issue codes of each record of a receipt, in record order (line 2 = first record). */
function codesByRecord(r: ParsedReceipt, count: number): string[][] {
  return Array.from({ length: count }, (_, i) =>
    r.issues
      .filter((x) => x.line === i + 2)
      .map((x) => x.code)
      .sort(),
  );
}

type Step = { sender: string; records: (R & { expect: string[] })[] };
const V = (n: number) => vin(n);

const scenarios: [string, Step[]][] = [
  [
    'a roll-back',
    [
      { sender: S1, records: [{ vin: V(1), date: daysAgo(10), odometer: 50000, expect: [] }] },
      { sender: S1, records: [{ vin: V(1), date: daysAgo(2), odometer: 40000, expect: ['A40'] }] },
    ],
  ],
  [
    'a late file revealing a drop',
    [
      { sender: S1, records: [{ vin: V(2), date: daysAgo(2), odometer: 30000, expect: [] }] },
      { sender: S2, records: [{ vin: V(2), date: daysAgo(4), odometer: 45000, expect: ['A41'] }] },
    ],
  ],
  [
    'a typo of an extra digit',
    [
      { sender: S1, records: [{ vin: V(3), date: daysAgo(20), odometer: 123456, expect: [] }] },
      { sender: S1, records: [{ vin: V(3), date: daysAgo(2), odometer: 1234560, expect: ['A42'] }] },
    ],
  ],
  [
    'a meter replacement (replaced=Y, then work ODOREP)',
    [
      {
        sender: S1,
        records: [
          { vin: V(4), date: daysAgo(10), odometer: 150000, expect: [] },
          { vin: V(5), date: daysAgo(10), odometer: 90000, expect: [] },
        ],
      },
      {
        sender: S1,
        records: [
          { vin: V(4), date: daysAgo(3), odometer: 10, replaced: 'Y', expect: ['W53'] },
          { vin: V(4), date: daysAgo(2), odometer: 500, expect: [] },
          { vin: V(5), date: daysAgo(3), odometer: 5, work: 'ODOREP', expect: ['W53'] },
        ],
      },
    ],
  ],
  [
    'a 5-digit odometer wrapping past 99,999 (record flag, then register)',
    [
      {
        sender: S1,
        records: [
          { vin: V(6), date: daysAgo(10), odometer: 99500, digits: '5', expect: [] },
          { vin: V(9002), date: daysAgo(10), odometer: 99800, expect: [] },
        ],
      },
      {
        sender: S1,
        records: [
          { vin: V(6), date: daysAgo(2), odometer: 1200, digits: '5', expect: ['W52'] },
          { vin: V(9002), date: daysAgo(2), odometer: 300, expect: ['W52'] },
        ],
      },
    ],
  ],
  [
    'a re-sent file',
    [
      {
        sender: S1,
        records: [
          { vin: V(7), date: daysAgo(3), odometer: 7000, expect: [] },
          { vin: V(8), date: daysAgo(3), odometer: 8000, expect: [] },
        ],
      },
      {
        sender: S1,
        records: [
          { vin: V(7), date: daysAgo(3), odometer: 7000, ref: 'RESENT', expect: ['W51'] },
          { vin: V(8), date: daysAgo(3), odometer: 8000, expect: ['W51'] },
        ],
      },
    ],
  ],
  [
    'miles',
    [
      {
        sender: S1,
        records: [
          { vin: V(10), date: daysAgo(10), odometer: 15000, expect: [] },
          { vin: V(11), date: daysAgo(10), odometer: 15000, expect: [] },
        ],
      },
      {
        sender: S1,
        records: [
          { vin: V(10), date: daysAgo(2), odometer: 10000, unit: 'mi', expect: [] },
          { vin: V(11), date: daysAgo(2), odometer: 9000, unit: 'mi', expect: ['A40'] },
        ],
      },
    ],
  ],
  [
    'same-day readings with the same value from a main contractor and a subcontractor',
    [
      { sender: S1, records: [{ vin: V(12), date: daysAgo(2), odometer: 40000, work: 'REPAIR', expect: [] }] },
      { sender: S2, records: [{ vin: V(12), date: daysAgo(2), odometer: 40000, work: 'TYRES', expect: [] }] },
    ],
  ],
  [
    'a reading on the day before first registration',
    [
      {
        sender: S1,
        records: [
          { vin: V(9001), date: daysAgo(6), odometer: 10, expect: ['E18'] },
          { vin: V(9001), date: daysAgo(5), odometer: 12, expect: [] },
        ],
      },
    ],
  ],
  [
    'vehicles identified by plate only',
    [
      {
        sender: S1,
        records: [
          { vin: '', plate: '2-xyz-900', date: daysAgo(3), odometer: 60000, expect: [] },
          { vin: '', plate: '9-NOT-999', date: daysAgo(3), odometer: 1, expect: ['E13'] },
        ],
      },
    ],
  ],
  [
    'a reading reported late (30 days ago is always more than 5 working days)',
    [
      {
        sender: S1,
        records: [
          { vin: V(13), date: daysAgo(30), odometer: 1000, expect: ['W50'] },
          { vin: V(14), date: daysAgo(1), odometer: 1000, expect: [] },
        ],
      },
    ],
  ],
];

/**
 * expected adds W50 to a stored record's expected codes when it is late on the day the test runs (dates are
 * relative to today, and whether 10 days ago is more than 5 working days depends on weekends and holidays).
 */
function expected(r: R & { expect: string[] }, receivedDate: string): string[] {
  const stored = !r.expect.some((c) => c.startsWith('E') || c === 'W51');
  const late = stored && isLate(r.date!, receivedDate);
  return [...r.expect.filter((c) => c !== 'W50'), ...(late ? ['W50'] : [])].sort();
}

describe.each(scenarios)('scenario: %s', (_name, steps) => {
  it('gives each record its expected issues', async () => {
    for (const [i, step] of steps.entries()) {
      const receipt = await send(
        step.sender,
        step.records.map(({ expect: _e, ...r }) => r),
      );
      const today = brusselsToday(new Date(receipt.received));
      expect({ step: i, codes: codesByRecord(receipt, step.records.length) }).toEqual({
        step: i,
        codes: step.records.map((r) => expected(r, today)),
      });
      const rejected = step.records.filter((r) => r.expect.some((c) => c.startsWith('E'))).length;
      expect([receipt.records, receipt.rejected]).toEqual([step.records.length, rejected]);
    }
  });
});

describe('what the scenarios stored', () => {
  it('stores a re-sent reading once', async () => {
    expect(await svc.store.readings.timeline(V(7))).toHaveLength(1);
  });
  it('stores both same-day readings of the contractor and the subcontractor', async () => {
    expect((await svc.store.readings.timeline(V(12))).map((r) => r.sender).sort()).toEqual([S1, S2]);
  });
  it('finds the VIN of a plate-only record in the register', async () => {
    const h = await vehicleHistory(svc.store, V(9003));
    expect(h.readings.map((r) => [r.odometer, r.status])).toEqual([[60000, 'ok']]);
    expect(h.register).toMatchObject({ plate: '2XYZ900', imported: true });
  });
  it('stores flagged readings as flagged, with their error numbers', async () => {
    const h = await vehicleHistory(svc.store, V(1));
    expect(h.readings.map((r) => r.status)).toEqual(['ok', 'flagged']);
    expect(h.readings[1].issues.filter((i) => i.code !== 'W50')).toEqual([
      { code: 'A40', errorNumber: expect.stringMatching(/^\d{12}$/), corrected: false, state: 'open' },
    ]);
  });
});

describe('corrections', () => {
  it('an E record corrected once: stored as corrected, a second correction gets E31', async () => {
    const first = await send(S1, [{ ref: 'C-1', vin: V(20), date: daysAgo(3), odometer: 20000, work: 'WASH' }]);
    expect(first.issues.map((i) => i.code)).toEqual(['E19']);
    const n = first.issues[0].errorNumber;

    const fix = await send(S1, [{ ref: 'C-1', vin: V(20), date: daysAgo(3), odometer: 20000, work: 'MAINT', corrects: n }]);
    expect(fix.status).toBe('ACCEPTED');
    expect(fix.issues).toEqual([]);
    const h = await vehicleHistory(svc.store, V(20));
    expect(h.readings.map((r) => [r.odometer, r.status, r.corrects])).toEqual([[20000, 'corrected', n]]);

    const again = await send(S1, [{ vin: V(20), date: daysAgo(3), odometer: 20001, corrects: n }]);
    expect(again.issues.map((i) => [i.code, i.field, i.correctable])).toEqual([['E31', 'corrects', 'N']]);
    expect(await svc.store.readings.timeline(V(20))).toHaveLength(1);
  });

  it('an A40 typo corrected: the flagged reading is superseded and no anomaly stays open', async () => {
    await send(S1, [{ vin: V(21), date: daysAgo(10), odometer: 50000 }]);
    const typo = await send(S1, [{ vin: V(21), date: daysAgo(2), odometer: 5100 }]);
    expect(typo.issues.map((i) => i.code)).toEqual(['A40']);
    expect(typo.status).toBe('PARTIAL');
    const fix = await send(S1, [{ vin: V(21), date: daysAgo(2), odometer: 51000, corrects: typo.issues[0].errorNumber }]);
    expect(fix.issues).toEqual([]);
    const h = await vehicleHistory(svc.store, V(21));
    expect(h.readings.map((r) => [r.odometer, r.status])).toEqual([
      [50000, 'ok'],
      [5100, 'superseded'],
      [51000, 'corrected'],
    ]);
    const open = h.readings.filter((r) => r.status !== 'superseded' && r.issues.some((i) => i.code.startsWith('A') && !i.corrected));
    expect(open).toEqual([]);
    expect(h.readings[1].issues[0]).toMatchObject({ code: 'A40', corrected: true, state: 'corrected' });
  });

  it("a mistyped number gets E30, and so does another sender's number", async () => {
    const r = await send(S1, [{ vin: V(22), date: daysAgo(3), odometer: 1, work: 'NOPE' }]);
    const n = r.issues[0].errorNumber;
    const typo = n.slice(0, 11) + String((Number(n[11]) + 1) % 10);
    const t = await send(S1, [{ vin: V(22), date: daysAgo(3), odometer: 1, corrects: typo }]);
    expect(t.issues.map((i) => [i.code, i.correctable])).toEqual([['E30', 'N']]);
    const other = await send(S2, [{ vin: V(22), date: daysAgo(3), odometer: 1, corrects: n }]);
    expect(other.issues.map((i) => i.code)).toEqual(['E30']);
    // neither attempt used up the number: its sender can still correct it
    const fix = await send(S1, [{ vin: V(22), date: daysAgo(3), odometer: 1, corrects: n }]);
    expect(fix.issues).toEqual([]);
  });

  it('a correction that is itself wrong gets an issue that is not correctable, and uses up the number', async () => {
    const r = await send(S1, [{ vin: V(23), date: daysAgo(3), odometer: 1, unit: 'yd' }]);
    const n = r.issues[0].errorNumber;
    const bad = await send(S1, [{ vin: V(23), date: daysAgo(3), odometer: 1, unit: 'furlong', corrects: n }]);
    expect(bad.issues.map((i) => [i.code, i.correctable])).toEqual([['E15', 'N']]);
    expect(bad.issues[0].errorNumber).toMatch(/^\d{12}$/);
    const again = await send(S1, [{ vin: V(23), date: daysAgo(3), odometer: 1, corrects: n }]);
    expect(again.issues.map((i) => i.code)).toEqual(['E31']);
    const viaNew = await send(S1, [{ vin: V(23), date: daysAgo(3), odometer: 1, corrects: bad.issues[0].errorNumber }]);
    expect(viaNew.issues.map((i) => i.code)).toEqual(['E32']);
  });
});
