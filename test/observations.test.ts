/**
 * Observations (docs/observations.md) on SQLite and PostgreSQL: readings kept by the desk, drained by the real
 * drainer (BullMQ on the run's private Redis) through the one pipeline, and compared with the same readings in a
 * batch file processed by processFile.
 */
import crypto from 'node:crypto';
import { resolveSettings, type Settings } from '../config/defaults';
import { openStore, type Account, type Store } from '../store';
import { BACKENDS } from './helpers/stores';
import { openRegistry, type Registry } from './helpers/registry';
import { daysAgo, vin, type R } from './helpers/batch';
import { inflowSync } from './helpers/ops';
import { ObservationDesk, type ObservationView } from '../intake/observation-desk';
import { openDrainQueue, requestDrain, startDrainWorker, type DrainQueue, type DrainWorker } from '../jobs/observation-drain';
import type { ObservationInput } from '../model/observation';
import { recordFieldsOf } from '../model/observation';
import { formatErrorNumber } from '../rules/error-number';
import { checkRecord } from '../rules/record-checks';
import { brusselsToday } from '../rules/brussels-date';
import { storeRecords } from '../pipeline/check-batch';
import {
  AlreadyCorrectedError,
  NoOpenAnomalyError,
  NothingToCorrectError,
  ObservationNotFoundError,
  SenderNotAllowedError,
} from '../intake/observation-errors';

const GARAGE = '2123456692';
const FLEET = '2200000085';
const FLEET_SITE = '2300000058';
const OTHER = '2400000031';
const ADMIN = '2500000004';
const DMS = { builder: 'Test Builder', name: 'TestDMS', version: '1.0' };

jest.setTimeout(60_000);

describe.each(BACKENDS)('observations on %s', (backend) => {
  let reg: Registry;
  let drainStore: Store;
  let drainer: DrainWorker;
  let drainQueue: DrainQueue;
  let desk: ObservationDesk;
  let settings: Settings;
  const acc: Record<string, Account> = {};

  beforeAll(async () => {
    reg = await openRegistry([GARAGE, FLEET_SITE, OTHER], backend);
    await reg.store.accounts.add({ establishment: FLEET, name: 'fleet', role: 'fleet', senders: [FLEET_SITE], passwordHash: 'x' });
    await reg.store.accounts.add({ establishment: ADMIN, name: 'admin', role: 'admin', passwordHash: 'x' });
    for (const e of [GARAGE, FLEET, FLEET_SITE, OTHER, ADMIN]) acc[e] = (await reg.store.accounts.byEstablishment(e))!;
    settings = resolveSettings(
      {
        dataDir: reg.dir,
        databaseUrl: reg.databaseUrl ?? undefined,
        redisUrl: process.env.INFLOW_TEST_REDIS_URL,
        queuePrefix: 'test-' + crypto.randomUUID(),
      },
      {},
    );
    drainStore = await openStore({ sqlite: reg.ctx.layout.db, databaseUrl: reg.databaseUrl });
    drainer = await startDrainWorker(settings.redisUrl!, settings, drainStore);
    drainQueue = openDrainQueue(settings.redisUrl!, settings);
    desk = new ObservationDesk({ store: reg.store, drain: drainQueue, settings: { observationPollMs: 20 } });
  });

  afterAll(async () => {
    desk?.close();
    await drainer?.close();
    await drainQueue?.close();
    await drainStore?.close();
    await reg?.close();
  });

  /** send submits a reading and waits for its final status. */
  async function send(account: string, input: ObservationInput): Promise<ObservationView> {
    const { id } = await desk.submit(acc[account], input, DMS);
    const view = (await desk.waitForFinal(acc[account], id, 30))!;
    expect(view.status).not.toBe('PENDING');
    return view;
  }

  const asInput = (r: R): ObservationInput => ({
    ...r,
    odometer: r.odometer ?? 10000,
    unit: r.unit ?? 'km',
    work: r.work ?? 'MAINT',
    date: r.date ?? daysAgo(2),
  });
  const sameShape = (i: { code: string; severity: string; field: string; correctable: boolean; message: string }) => ({
    code: i.code,
    severity: i.severity,
    field: i.field,
    correctable: i.correctable,
    message: i.message,
  });

  it('gives an observation the issues the same reading gets in a batch file, and its status from them', async () => {
    // Vehicles 1-6 are read by the file, 11-16 by observations: the same history for each pair.
    const history = [1, 2, 3, 4, 5, 6].flatMap((n) => [n, n + 10]).map((n) => ({ vin: vin(n), date: daysAgo(60), odometer: 50_000 }));
    await reg.send(GARAGE, history);
    const cases: { reading: (v: string) => R; codes: string[]; status: string }[] = [
      { reading: (v) => ({ vin: v, date: daysAgo(3), odometer: 40_000 }), codes: ['A40'], status: 'FLAGGED' },
      { reading: (v) => ({ vin: v, date: daysAgo(3), odometer: 60_000 }), codes: [], status: 'ACCEPTED' },
      { reading: (v) => ({ vin: v, date: daysAgo(30), odometer: 55_000 }), codes: ['W50'], status: 'ACCEPTED' },
      { reading: (v) => ({ vin: v, date: daysAgo(59), odometer: 900_000 }), codes: ['A42', 'W50'], status: 'FLAGGED' },
      {
        reading: (v) => ({ vin: v, date: daysAgo(3), odometer: 61_000, work: 'WASH', unit: 'yd' }),
        codes: ['E15', 'E19'],
        status: 'REJECTED',
      },
      { reading: () => ({ vin: 'WVWZZZ1JZXW00000I', date: daysAgo(-5), odometer: 1 }), codes: ['E12', 'E17'], status: 'REJECTED' },
    ];
    const file = await reg.send(
      GARAGE,
      cases.map((c, i) => c.reading(vin(i + 1))),
    );
    const fileIssues = await reg.store.issues.forFile(file.file.pk);
    const numbers = new Set(fileIssues.filter((i) => i.severity !== 'W').map((i) => formatErrorNumber(i.id)));
    for (const [i, c] of cases.entries()) {
      const view = await send(GARAGE, asInput(c.reading(vin(i + 11))));
      const inFile = fileIssues.filter((x) => x.line === i + 2);
      expect(inFile.map((x) => x.code).sort()).toEqual(c.codes);
      expect(view.issues.map(sameShape)).toEqual(inFile.map(sameShape));
      expect(view.status).toBe(c.status);
      expect(view.sender).toBe(GARAGE);
      expect(view.processed).not.toBeNull();
      for (const issue of view.issues) {
        expect(issue.errorNumber === null).toBe(issue.severity === 'W');
        if (issue.errorNumber) {
          expect(numbers.has(issue.errorNumber)).toBe(false); // unique, as a file's
          numbers.add(issue.errorNumber);
        }
        expect(issue.state).toBe(issue.severity === 'A' ? 'open' : null);
      }
    }
  });

  it('lets a correction use an error number once (E31 for a second one) and refuses what cannot be corrected', async () => {
    const bad = await send(GARAGE, { vin: vin(21), date: daysAgo(2), odometer: 30_000, unit: 'km', work: 'WASH' });
    expect(bad.issues.map((i) => i.code)).toEqual(['E19']);
    const fix = await desk.correct(
      acc[GARAGE],
      bad.id,
      { vin: vin(21), date: daysAgo(2), odometer: 30_000, unit: 'km', work: 'MAINT' },
      DMS,
    );
    const fixed = (await desk.waitForFinal(acc[GARAGE], fix.id, 30))!;
    expect(fixed).toMatchObject({ status: 'ACCEPTED', issues: [], correctionOf: bad.id });
    expect(fixed.reading.corrects).toBe(bad.issues[0].errorNumber);
    await expect(
      desk.correct(acc[GARAGE], bad.id, { vin: vin(21), date: daysAgo(2), odometer: 1, unit: 'km', work: 'MAINT' }, DMS),
    ).rejects.toThrow(AlreadyCorrectedError);
    // A second correction sent as a plain reading naming the number meets the pipeline's rule, as in a file.
    const again = await send(GARAGE, {
      vin: vin(21),
      date: daysAgo(2),
      odometer: 30_001,
      unit: 'km',
      work: 'MAINT',
      corrects: bad.issues[0].errorNumber!,
    });
    expect(again.issues.map((i) => [i.code, i.correctable])).toEqual([['E31', false]]);
    expect(again.status).toBe('REJECTED');
    // Nothing to correct: an accepted observation, and a rejected correction (its issue is not correctable).
    await expect(
      desk.correct(acc[GARAGE], fixed.id, { vin: vin(21), date: daysAgo(2), odometer: 1, unit: 'km', work: 'MAINT' }, DMS),
    ).rejects.toThrow(NothingToCorrectError);
    await expect(
      desk.correct(acc[GARAGE], again.id, { vin: vin(21), date: daysAgo(2), odometer: 1, unit: 'km', work: 'MAINT' }, DMS),
    ).rejects.toThrow(NothingToCorrectError);
  });

  it('confirms a flagged reading: the anomaly stays, confirmed, and `inflow corrections list --state confirmed` lists it', async () => {
    await send(GARAGE, { vin: vin(31), date: daysAgo(20), odometer: 80_000, unit: 'km', work: 'MAINT' });
    const flagged = await send(GARAGE, { vin: vin(31), date: daysAgo(4), odometer: 70_000, unit: 'km', work: 'TYRES' });
    expect(flagged.status).toBe('FLAGGED');
    const a40 = flagged.issues.find((i) => i.code === 'A40')!;
    await expect(desk.confirm(acc[OTHER], flagged.id, DMS)).rejects.toThrow(ObservationNotFoundError);
    const outcome = await desk.confirm(acc[GARAGE], flagged.id, DMS, 30);
    if (!('confirmed' in outcome)) throw new Error(`the confirmation is still pending: ${outcome.pending}`);
    const confirmed = outcome.confirmed;
    expect(confirmed.status).toBe('FLAGGED');
    expect(confirmed.issues.find((i) => i.code === 'A40')).toMatchObject({ errorNumber: a40.errorNumber, state: 'confirmed' });
    await expect(desk.confirm(acc[GARAGE], flagged.id, DMS)).rejects.toThrow(NoOpenAnomalyError);
    await expect(
      desk.correct(acc[GARAGE], flagged.id, { vin: vin(31), date: daysAgo(4), odometer: 1, unit: 'km', work: 'MAINT' }, DMS),
    ).rejects.toThrow(AlreadyCorrectedError);
    // Not processed within the wait: the confirmation's own id, to be followed like any observation.
    await send(GARAGE, { vin: vin(33), date: daysAgo(20), odometer: 80_000, unit: 'km', work: 'MAINT' });
    const slow = await send(GARAGE, { vin: vin(33), date: daysAgo(4), odometer: 70_000, unit: 'km', work: 'TYRES' });
    await drainer.close(); // no drainer for a while: the confirmation stays PENDING
    const later = await desk.confirm(acc[GARAGE], slow.id, DMS, 0);
    if (!('pending' in later)) throw new Error('the confirmation was processed without a drainer');
    expect((await desk.get(acc[GARAGE], slow.id))!.issues.find((i) => i.code === 'A40')).toMatchObject({ state: 'open' });
    drainer = await startDrainWorker(settings.redisUrl!, settings, drainStore);
    await requestDrain(drainQueue);
    expect((await desk.waitForFinal(acc[GARAGE], later.pending, 30))!.correctionOf).toBe(slow.id);
    const slowIssues = (await desk.get(acc[GARAGE], slow.id))!.issues;
    expect(slowIssues.find((i) => i.code === 'A40')).toMatchObject({ state: 'confirmed' });
    const accepted = await send(GARAGE, { vin: vin(32), date: daysAgo(4), odometer: 1, unit: 'km', work: 'MAINT' });
    await expect(desk.confirm(acc[GARAGE], accepted.id, DMS)).rejects.toThrow(NoOpenAnomalyError);
    const args = ['corrections', 'list', '--state', 'confirmed', '--json', '--data-dir', reg.dir];
    const listed = inflowSync(reg.databaseUrl ? [...args, '--database-url', reg.databaseUrl] : args);
    expect(listed.err).toBe('');
    expect(JSON.parse(listed.out)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          errorNumber: a40.errorNumber,
          code: 'A40',
          vin: vin(31),
          odometer: 70_000,
          sender: GARAGE,
          state: 'confirmed',
        }),
      ]),
    );
  });

  it('shows an observation to its account, to its establishment and fleet, and to admins only; senders as for files', async () => {
    const own = await send(FLEET, { vin: vin(41), date: daysAgo(2), odometer: 5, unit: 'km', work: 'MAINT', sender: FLEET_SITE });
    expect(own.sender).toBe(FLEET_SITE);
    expect(await desk.get(acc[FLEET], own.id)).not.toBeNull();
    expect(await desk.get(acc[FLEET_SITE], own.id)).not.toBeNull();
    expect(await desk.get(acc[ADMIN], own.id)).not.toBeNull();
    expect(await desk.get(acc[GARAGE], own.id)).toBeNull();
    expect(await desk.waitForFinal(acc[OTHER], own.id, 1)).toBeNull();
    expect(await desk.get(acc[GARAGE], 'not-a-uuid')).toBeNull();
    await expect(
      desk.submit(acc[GARAGE], { vin: vin(42), date: daysAgo(2), odometer: 5, unit: 'km', work: 'MAINT', sender: FLEET_SITE }, DMS),
    ).rejects.toThrow(SenderNotAllowedError);
  });

  it('holds an observation of a vehicle that a file in flight has records of until the file closes; others go on', async () => {
    const receivedAt = new Date().toISOString();
    const f = await reg.store.files.receive({
      accountId: acc[GARAGE].id,
      name: 'in-flight.csv',
      storedPath: 'in-flight.csv',
      size: 1,
      sha256: 'in-flight',
      receivedAt,
    });
    await reg.store.files.startAttempt(f.pk);
    const today = brusselsToday(new Date());
    const { reading } = checkRecord(recordFieldsOf({ vin: vin(61), date: daysAgo(5), odometer: 7000, unit: 'km', work: 'MAINT' }), 10, {
      today,
    });
    const fileCtx = {
      filePk: f.pk,
      sender: GARAGE,
      receivedDate: today,
      lateByDate: new Map(),
      history: { decreaseToleranceKm: 0, maxKmPerDay: 1000 },
    };
    const batch = {
      packed: new Uint8Array(0),
      packedBytes: 0,
      others: [{ line: 2, reading, fields: null, findings: [] }],
      lastLine: 2,
      sender: GARAGE,
    };
    expect(await storeRecords(reg.store, fileCtx, [batch])).toEqual({ blockedBy: [] });

    const held = await desk.submit(acc[GARAGE], { vin: vin(61), date: daysAgo(2), odometer: 6000, unit: 'km', work: 'MAINT' }, DMS);
    const free = await send(GARAGE, { vin: vin(62), date: daysAgo(2), odometer: 6000, unit: 'km', work: 'MAINT' });
    expect(free.status).toBe('ACCEPTED');
    expect((await desk.waitForFinal(acc[GARAGE], held.id, 1.5))!.status).toBe('PENDING');

    await reg.store.files.accept(f.pk, { format: 'csv', sender: GARAGE, records: 1, processedAt: new Date().toISOString() });
    const settled = (await desk.waitForFinal(acc[GARAGE], held.id, 30))!;
    // Checked after the file's reading, as if it had come after the file: lower than it, a roll-back.
    expect(settled.status).toBe('FLAGGED');
    expect(settled.issues.map((i) => i.code)).toEqual(['A40']);
  });

  it("checks observations of several senders in one round, each reading its own sender's", async () => {
    await send(GARAGE, { vin: vin(72), date: daysAgo(20), odometer: 90_000, unit: 'km', work: 'MAINT' });
    await drainer.close(); // both wait: the next drain takes them in one claim
    const mine = await desk.submit(acc[GARAGE], { vin: vin(72), date: daysAgo(4), odometer: 80_000, unit: 'km', work: 'TYRES' }, DMS);
    const theirs = await desk.submit(acc[OTHER], { vin: vin(73), date: daysAgo(4), odometer: 5_000, unit: 'km', work: 'MAINT' }, DMS);
    drainer = await startDrainWorker(settings.redisUrl!, settings, drainStore);
    await requestDrain(drainQueue);
    const flagged = (await desk.waitForFinal(acc[GARAGE], mine.id, 30))!;
    expect(flagged.status).toBe('FLAGGED');
    expect((await desk.waitForFinal(acc[OTHER], theirs.id, 30))!.status).toBe('ACCEPTED');
    const [a, b] = await Promise.all([reg.store.observations.get(mine.id), reg.store.observations.get(theirs.id)]);
    expect(a!.filePk).toBe(b!.filePk);
    expect((await reg.store.readings.timeline(vin(72))).map((r) => r.sender)).toEqual([GARAGE, GARAGE]);
    expect((await reg.store.readings.timeline(vin(73))).map((r) => r.sender)).toEqual([OTHER]);
    // The error number is the garage's: another sender quoting it gets E30, the garage's correction is taken.
    const number = flagged.issues.find((i) => i.code === 'A40')!.errorNumber!;
    const reading = { vin: vin(72), date: daysAgo(4), odometer: 95_000, unit: 'km', work: 'TYRES' };
    expect((await send(OTHER, { ...reading, corrects: number })).issues.map((i) => i.code)).toEqual(['E30']);
    const fixed = await desk.correct(acc[GARAGE], mine.id, reading, DMS);
    expect((await desk.waitForFinal(acc[GARAGE], fixed.id, 30))!.status).toBe('ACCEPTED');
  });

  it('processes many observations sent at once, each once, in rounds', async () => {
    const senders = [GARAGE, FLEET, OTHER];
    // Two readings of each vehicle from one sender, the second a repeat: they never share a round, so the second
    // is found already stored (W51), as in a later file, not a repeat within one file (E21).
    const views = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        send(senders[Math.floor(i / 2) % 3], {
          vin: vin(1000 + Math.floor(i / 2)),
          date: daysAgo(2),
          odometer: 1000,
          unit: 'km',
          work: 'MAINT',
        }),
      ),
    );
    for (let k = 0; k < 150; k++) {
      const pair = [views[2 * k], views[2 * k + 1]].map((v) => v.issues.map((x) => x.code).join());
      expect(pair.sort()).toEqual(['', 'W51']);
    }
    const timelines = await Promise.all(Array.from({ length: 150 }, (_, k) => reg.store.readings.timeline(vin(1000 + k))));
    expect(timelines.map((t) => t.length)).toEqual(Array.from({ length: 150 }, () => 1));
  });
});
