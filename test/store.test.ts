/**
 * The store's contract (store/types.ts), written against the interface only: every backend runs the same suite.
 * Each test works in a store of its own.
 */
import { AccountAlreadyExistsError, type BatchView, type BatchWriter, type NewIssue, type Store } from '../store';
import type { Reading } from '../model/reading';
import { COUNTING_STATES } from '../rules/correction-outcome';
import { BACKENDS, openTestStore } from './helpers/stores';

const SENDER = '2123456692';
const OTHER = '2200000085';
const V1 = 'WVWZZZ1JZXW000001';
const V2 = 'WVWZZZ1JZXW000002';
const NOW = '2026-11-26T10:00:00.000Z';

const reading = (vin: string, date: string, odometer: number, extra: Partial<Reading> = {}): Reading => ({
  ref: null,
  vin,
  plate: null,
  date,
  odometer,
  unit: 'km',
  km: odometer,
  work: 'MAINT',
  replaced: false,
  digits: null,
  corrects: null,
  ...extra,
});
const issue = (line: number, code: NewIssue['code'], vin: string | null = V1): NewIssue => ({
  line,
  code,
  severity: code[0] === 'W' ? 'W' : code[0] === 'A' ? 'A' : 'E',
  field: 'odometer',
  message: `${code} on ${line}`,
  ref: null,
  vin,
  correctable: code[0] !== 'W',
});
/** What the batches of these tests read (a backend that fetches before the checks run needs them named). */
const lookupsWith =
  (issueIds: number[] = []) =>
  () => ({ vins: [V1, V2], plates: ['1ABC123'], issueIds });

describe.each(BACKENDS)('the %s store', (backend) => {
  let store: Store;
  let dispose: () => Promise<void>;
  let accountId: number;

  beforeEach(async () => {
    ({ store, dispose } = await openTestStore(backend));
    accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'h' })).id;
  });
  afterEach(() => dispose());

  let shaCount = 0;
  const receive = async (name = 'f.csv') =>
    store.files.receive({ accountId, name, storedPath: `/nowhere/${name}`, size: 10, sha256: `sha-${++shaCount}`, receivedAt: NOW });
  /** store one batch of file `pk` whose work writes what `work` says; returns the blockers. */
  const batch = (pk: number, lastLine: number, work: (view: BatchView, write: BatchWriter) => void, sender = SENDER, issueIds?: number[]) =>
    store.storeBatch({ filePk: pk, sender, lastLine, lookups: lookupsWith(issueIds) }, work);
  const storeReading = (pk: number, line: number, vin: string, date: string, odometer: number) =>
    batch(pk, line, (_v, w) =>
      w.addReading({ line, reading: reading(vin, date, odometer), vin, plate: null, status: 'ok', corrects: null }),
    );
  const accept = (pk: number, records = 1) => store.files.accept(pk, { format: 'csv', sender: SENDER, records, processedAt: NOW });

  describe('accounts', () => {
    it('adds, finds, lists, disables and re-keys accounts; one per establishment', async () => {
      const fleet = await store.accounts.add({ establishment: OTHER, name: 'Fleet', role: 'fleet', senders: [SENDER], passwordHash: 'p' });
      expect(fleet).toMatchObject({ establishment: OTHER, role: 'fleet', senders: [SENDER], disabled: false });
      await expect(store.accounts.add({ establishment: OTHER, name: 'Again', role: 'garage', passwordHash: 'q' })).rejects.toBeInstanceOf(
        AccountAlreadyExistsError,
      );
      expect((await store.accounts.byId(fleet.id))!.name).toBe('Fleet');
      expect((await store.accounts.list()).map((a) => a.establishment)).toEqual([SENDER, OTHER]);
      expect(await store.accounts.count()).toBe(2);
      expect(await store.accounts.setDisabled(OTHER, true)).toBe(true);
      expect(await store.accounts.setDisabled('0000000000', true)).toBe(false);
      expect(await store.accounts.setPasswordHash(OTHER, 'new')).toBe(true);
      expect(await store.accounts.byEstablishment(OTHER)).toMatchObject({ disabled: true, passwordHash: 'new' });
      expect(await store.accounts.byEstablishment('0000000000')).toBeNull();
    });
  });

  describe('files', () => {
    it('unrecorded names the stored paths no file records, in the order given', async () => {
      await receive('kept.csv');
      expect(await store.files.unrecorded(['/nowhere/x', '/nowhere/kept.csv', '/nowhere/y'])).toEqual(['/nowhere/x', '/nowhere/y']);
      expect(await store.files.unrecorded([])).toEqual([]);
    });

    it('go received → queued → processing, count attempts, and find the first file of the same content', async () => {
      const f = await receive('a.csv');
      expect(f).toMatchObject({
        id: `F${String(f.pk).padStart(6, '0')}`,
        account: SENDER,
        status: 'received',
        progressLine: 0,
        passed: false,
        attempts: 0,
      });
      await store.files.markQueued(f.pk);
      await store.files.startAttempt(f.pk);
      await store.files.markQueued(f.pk); // only from received: a late call changes nothing
      expect(await store.files.get(f.pk)).toMatchObject({ status: 'processing', attempts: 1 });
      const again = await store.files.receive({
        accountId,
        name: 'b.csv',
        storedPath: '/nowhere/b',
        size: 10,
        sha256: f.sha256,
        receivedAt: NOW,
      });
      expect((await store.files.firstWithSha(accountId, f.sha256))!.pk).toBe(f.pk);
      expect((await store.files.withStatus(['received'])).map((x) => x.pk)).toEqual([again.pk]);
      expect((await store.files.list({ account: SENDER })).map((x) => x.name)).toEqual(['a.csv', 'b.csv']);
      expect(await store.files.list({ status: 'done' })).toEqual([]);
    });
  });

  describe('a batch', () => {
    it('stores its readings, issues and the progress as one change, and only once', async () => {
      const f = await receive();
      const work = (_v: BatchView, w: BatchWriter) => {
        w.addReading({ line: 2, reading: reading(V1, '2026-11-20', 1000), vin: V1, plate: '1ABC123', status: 'ok', corrects: null });
        w.addIssue(issue(3, 'E14'));
      };
      expect(await batch(f.pk, 3, work)).toEqual({ blockedBy: [] });
      expect(await batch(f.pk, 3, work)).toEqual({ blockedBy: [] }); // not after the progress: skipped
      expect((await store.files.get(f.pk))!.progressLine).toBe(3);
      expect(await store.readings.forFile(f.pk)).toEqual([
        expect.objectContaining({
          vin: V1,
          date: '2026-11-20',
          odometer: 1000,
          fileId: f.pk,
          line: 2,
          plate: '1ABC123',
          status: 'ok',
          sender: SENDER,
        }),
      ]);
      expect((await store.issues.forFile(f.pk)).map((i) => [i.line, i.code])).toEqual([[3, 'E14']]);
    });

    it('stores superseded a reading of its own that a later record of it supersedes, its other rows as written', async () => {
      const f = await receive();
      await batch(f.pk, 4, (view, w) => {
        const r2 = reading(V1, '2026-11-10', 50000, { ref: 'Réf-ü 1' });
        w.addReading({ line: 2, reading: r2, vin: V1, plate: null, status: 'ok', corrects: null });
        w.addReading({
          line: 3,
          reading: reading(V1, '2026-11-20', 5000, { ref: 'é' }),
          vin: V1,
          plate: null,
          status: 'flagged',
          corrects: null,
        });
        w.addIssue(issue(3, 'A40'));
        expect(view.anomalies(V1).map((a) => a.line)).toEqual([3]);
        w.supersede(V1, f.pk, 3);
        expect(view.anomalies(V1)).toEqual([]);
        expect(view.timeline(V1).map((e) => e.odometer)).toEqual([50000]);
        w.addReading({
          line: 4,
          reading: reading(V2, '2026-11-20', 7000, { ref: 'ñ' }),
          vin: V2,
          plate: '1ABC123',
          status: 'ok',
          corrects: null,
        });
      });
      expect((await store.readings.forFile(f.pk)).map((r) => [r.line, r.vin, r.odometer, r.status, r.ref, r.plate])).toEqual([
        [2, V1, 50000, 'ok', 'Réf-ü 1', null],
        [3, V1, 5000, 'superseded', 'é', null],
        [4, V2, 7000, 'ok', 'ñ', '1ABC123'],
      ]);
    });

    it('stores nothing when its work throws', async () => {
      const f = await receive();
      await expect(
        batch(f.pk, 5, (_v, w) => {
          w.addReading({ line: 2, reading: reading(V1, '2026-11-20', 1000), vin: V1, plate: null, status: 'ok', corrects: null });
          throw new Error('disk on fire');
        }),
      ).rejects.toThrow('disk on fire');
      expect(await store.readings.forFile(f.pk)).toEqual([]);
      expect((await store.files.get(f.pk))!.progressLine).toBe(0);
    });

    it('sees its own file at once, another file only once that file closed; is held up by one in flight', async () => {
      const a = await receive('a.csv');
      const b = await receive('b.csv');
      await storeReading(a.pk, 2, V1, '2026-11-20', 1000);
      let seen: number[] = [];
      const look = (vin: string) => (view: BatchView) => void (seen = view.timeline(vin).map((e) => e.odometer));
      expect(await batch(a.pk, 3, look(V1))).toEqual({ blockedBy: [] });
      expect(seen).toEqual([1000]);
      // b may not see a's pending reading: nothing stored, a named.
      expect(await batch(b.pk, 2, look(V1))).toEqual({ blockedBy: [a.pk] });
      expect((await store.files.get(b.pk))!.progressLine).toBe(0);
      expect(await store.pending([a.pk, b.pk])).toEqual([a.pk]);
      expect(await store.readings.timeline(V1)).toEqual([]); // no query sees it either
      // Passed, a's reading is seen by queries; b still waits until a closes: it sees whole files only.
      await store.files.pass(a.pk, { format: 'csv', sender: SENDER });
      expect((await store.readings.timeline(V1)).map((r) => r.odometer)).toEqual([1000]);
      expect(await batch(b.pk, 2, look(V1))).toEqual({ blockedBy: [a.pk] });
      expect(await store.pending([a.pk])).toEqual([a.pk]);
      await accept(a.pk, 1);
      expect(await store.pending([a.pk])).toEqual([]);
      expect(await batch(b.pk, 2, look(V1))).toEqual({ blockedBy: [] });
      expect(seen).toEqual([1000]);
    });

    it('release takes out what a file in flight stored, passed or not, and starts it again from its first record', async () => {
      const a = await receive('a.csv');
      const b = await receive('b.csv');
      await storeReading(a.pk, 2, V1, '2026-11-20', 1000);
      await batch(a.pk, 3, (_v, w) => w.addIssue(issue(3, 'A40')));
      await store.files.pass(a.pk, { format: 'csv', sender: SENDER });
      expect(await batch(b.pk, 2, (view) => void view.timeline(V1))).toEqual({ blockedBy: [a.pk] });
      expect(await store.files.release(a.pk)).toBe(true);
      const after = (await store.files.get(a.pk))!;
      expect([after.progressLine, after.passed, after.result]).toEqual([0, false, null]);
      expect(await store.readings.forFile(a.pk)).toEqual([]);
      expect(await store.issues.forFile(a.pk)).toEqual([]);
      expect(await store.pending([a.pk])).toEqual([]);
      expect(await batch(b.pk, 2, (view) => void view.timeline(V1))).toEqual({ blockedBy: [] });
      expect(await store.files.release(a.pk)).toBe(false); // nothing left to take out
    });

    it('keeps the first id of an issue stored again (a re-run numbers nothing twice)', async () => {
      const f = await receive();
      await batch(f.pk, 2, (_v, w) => w.addIssue(issue(2, 'A40')));
      const first = (await store.issues.forRecord(f.pk, 2))[0];
      // As after a crash between the store and the progress: the same record's issue comes again.
      await batch(f.pk, 3, (_v, w) => w.addIssue({ ...issue(2, 'A40'), message: 'again' }));
      expect(await store.issues.forRecord(f.pk, 2)).toEqual([first]);
    });

    it('corrects: the correction target names its sender; supersede and markCorrected are undone with the correcting file', async () => {
      const a = await receive('a.csv');
      await batch(a.pk, 3, (_v, w) => {
        w.addReading({ line: 2, reading: reading(V1, '2026-11-10', 50000), vin: V1, plate: null, status: 'ok', corrects: null });
        w.addReading({ line: 3, reading: reading(V1, '2026-11-20', 5000), vin: V1, plate: null, status: 'flagged', corrects: null });
        w.addIssue(issue(3, 'A40'));
      });
      await accept(a.pk, 2);
      const a40 = (await store.issues.forRecord(a.pk, 3))[0];
      const b = await receive('b.csv');
      await batch(
        b.pk,
        2,
        (view, w) => {
          expect(view.correctionTarget(a40.id)).toEqual({ issue: a40, sender: SENDER });
          expect(view.correctionTarget(a40.id + 1000)).toBeNull();
          w.supersede(V1, a.pk, 3);
          w.markCorrected(a40.id, 2);
          w.addReading({ line: 2, reading: reading(V1, '2026-11-20', 50500), vin: V1, plate: null, status: 'corrected', corrects: a40.id });
        },
        SENDER,
        [a40.id, a40.id + 1000],
      );
      await accept(b.pk);
      expect((await store.readings.timeline(V1)).map((r) => `${r.odometer}:${r.status}`)).toEqual([
        '50000:ok',
        '5000:superseded',
        '50500:corrected',
      ]);
      expect((await store.issues.get(a40.id))!.corrected).toBe(true);
      // The view leaves superseded readings out.
      await batch(a.pk, 4, (view) => expect(view.timeline(V1).map((e) => e.odometer)).toEqual([50000, 50500]));

      const gone = await store.files.abandon(b.pk, { message: 'abandoned', processedAt: NOW });
      expect(gone).toEqual({ readings: 1, issues: 0 });
      expect((await store.readings.timeline(V1)).map((r) => `${r.odometer}:${r.status}`)).toEqual(['50000:ok', '5000:flagged']);
      expect((await store.issues.get(a40.id))!.corrected).toBe(false);
      expect(await store.files.get(b.pk)).toMatchObject({ result: 'REJECTED', progressLine: 0 });
      expect((await store.issues.forFile(b.pk)).map((i) => i.code)).toEqual(['F08']);
    });
  });

  describe('closing a file', () => {
    it('accept: ACCEPTED or PARTIAL with counts from its issues', async () => {
      const f = await receive();
      await batch(f.pk, 5, (_v, w) => {
        w.addIssue(issue(2, 'E14'));
        w.addIssue({ ...issue(2, 'E15'), field: 'unit' });
        w.addIssue(issue(3, 'A42'));
        w.addIssue(issue(4, 'W50'));
      });
      const done = await accept(f.pk, 4);
      expect(done).toMatchObject({ result: 'PARTIAL', passed: true, records: 4, accepted: 3, rejected: 1, anomalies: 1, warnings: 1 });
      const clean = await receive('clean.csv');
      expect(await accept(clean.pk, 2)).toMatchObject({ result: 'ACCEPTED', records: 2, accepted: 2, rejected: 0 });
    });

    it('reject: takes out what the file stored, keeps its F issues, every record rejected', async () => {
      const f = await receive();
      await storeReading(f.pk, 2, V2, '2026-11-20', 1000);
      await batch(f.pk, 3, (_v, w) => w.addIssue(issue(3, 'A40', V2)));
      await store.files.reject(f.pk, {
        findings: [{ code: 'F04', field: 'trailer', line: 4, message: 'count' }],
        records: 2,
        format: 'csv',
        sender: SENDER,
        duplicateOf: null,
        processedAt: NOW,
      });
      expect(await store.readings.forFile(f.pk)).toEqual([]);
      expect((await store.issues.forFile(f.pk)).map((i) => [i.code, i.line])).toEqual([['F04', 4]]);
      expect(await store.files.get(f.pk)).toMatchObject({
        result: 'REJECTED',
        records: 2,
        rejected: 2,
        accepted: 0,
        progressLine: 0,
        passed: false,
      });
      expect(await store.pending([f.pk])).toEqual([]); // holds nobody up
    });

    it('a failure before the file passed takes out what it stored; after, it stays for the next attempt', async () => {
      const early = await receive('early.csv');
      await storeReading(early.pk, 2, V1, '2026-11-20', 1000);
      await store.files.recordError(early.pk, 'boom', false);
      expect(await store.files.get(early.pk)).toMatchObject({ status: 'queued', error: 'boom', progressLine: 0 });
      expect(await store.readings.forFile(early.pk)).toEqual([]);

      const late = await receive('late.csv');
      await storeReading(late.pk, 2, V2, '2026-11-20', 1000);
      await store.files.pass(late.pk, { format: 'csv', sender: SENDER });
      await store.files.recordError(late.pk, 'boom', true);
      expect(await store.files.get(late.pk)).toMatchObject({ status: 'failed', progressLine: 2 });
      expect(await store.readings.forFile(late.pk)).toHaveLength(1);
    });

    it('requeue drops the file-level issues and keeps the rest; a file being processed is left alone', async () => {
      const f = await receive();
      await store.files.reject(f.pk, {
        findings: [{ code: 'F02', field: 'header', line: 1, message: 'x' }],
        records: 0,
        format: null,
        sender: null,
        duplicateOf: null,
        processedAt: NOW,
      });
      await store.files.markDone(f.pk, '/nowhere/receipt');
      expect(await store.files.requeue(f.pk)).toBe(true);
      expect(await store.issues.forFile(f.pk)).toEqual([]);
      expect((await store.files.get(f.pk))!.status).toBe('queued');
      await store.files.startAttempt(f.pk);
      expect(await store.files.requeue(f.pk)).toBe(false);
    });
  });

  describe('issues', () => {
    it('stream a big file in receipt order, page after page', async () => {
      const f = await receive();
      const N = 12_345;
      await batch(f.pk, N + 1, (_v, w) => {
        for (let line = N + 1; line >= 2; line--) w.addIssue(issue(line, line % 3 === 0 ? 'W50' : 'E14'));
      });
      let n = 0;
      let last = 0;
      for await (const i of store.issues.stream(f.pk)) {
        expect(i.line).toBeGreaterThan(last);
        last = i.line;
        n++;
      }
      expect(n).toBe(N);
    });

    it('stream a line whose issues straddle two pages in the order they were found', async () => {
      const f = await receive();
      const lines = 2_000; // three issues a line: a page of 5,000 ends inside a line
      const codes: NewIssue['code'][] = ['E15', 'E14', 'W50'];
      await batch(f.pk, lines + 1, (_v, w) => {
        for (let line = lines + 1; line >= 2; line--) for (const code of codes) w.addIssue(issue(line, code));
      });
      const seen: string[] = [];
      for await (const i of store.issues.stream(f.pk)) seen.push(`${i.line} ${i.code}`);
      expect(seen).toEqual(Array.from({ length: lines }, (_, k) => codes.map((c) => `${k + 2} ${c}`)).flat());
    });
  });

  describe('observations', () => {
    const fields = (vin: string, odometer: number) => ({
      ref: '',
      vin,
      plate: '',
      date: '2026-11-25',
      odometer: String(odometer),
      unit: 'km',
      work: 'MAINT',
      replaced: '',
      digits: '',
      corrects: '',
    });
    const newObservation = (n: number, vin = V1) => ({
      id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      accountId,
      sender: SENDER,
      fields: fields(vin, 1000 + n),
      vehicleKey: vin,
      client: { builder: 'b', name: 'n', version: '1' },
      correctionOf: null,
      receivedAt: NOW,
      receivedDate: '2026-11-26',
    });

    it('keeps observations sent together in one change, in their order, PENDING', async () => {
      await store.observations.add([newObservation(1, V1), newObservation(2, V2), newObservation(3, V1)]);
      expect(await store.observations.pendingCount()).toBe(3);
      expect(await store.observations.get(newObservation(2).id)).toMatchObject({
        status: 'PENDING',
        vehicleKey: V2,
        fields: fields(V2, 1002),
      });
      expect(await store.observations.waiting()).toBe(true);
      // one observation per vehicle in a round, oldest first: 1 and 2 now, 3 (V1 again) in the next round
      const rounds = await store.observations.claimRounds(10);
      expect(rounds.flatMap((r) => r.observations.map((o) => o.id))).toEqual([newObservation(1).id, newObservation(2).id]);
      expect(await store.observations.waiting()).toBe(true); // 3 waits for a round still
    });

    it('says whether an observation waits for a round', async () => {
      expect(await store.observations.waiting()).toBe(false);
      await store.observations.add([newObservation(1)]);
      expect(await store.observations.waiting()).toBe(true);
      const [round] = await store.observations.claimRounds(10);
      expect(await store.observations.waiting()).toBe(false); // in a round, PENDING still
      await store.observations.closeRound(round.filePk, NOW); // stored nothing: it waits again
      expect(await store.observations.waiting()).toBe(true);
    });

    it('hands a round left open out again, before any new one, until it is closed', async () => {
      await store.observations.add([newObservation(1), newObservation(2, V2)]);
      const [first] = await store.observations.claimRounds(10); // its drainer dies: the round stays open
      await store.observations.add([newObservation(3, V2)]);
      const again = await store.observations.claimRounds(10);
      expect(again.map((r) => [r.filePk, r.progressLine, r.observations.map((o) => [o.id, o.line])])).toEqual([
        [
          first.filePk,
          0,
          [
            [newObservation(1).id, 1],
            [newObservation(2).id, 2],
          ],
        ],
      ]);
      await store.observations.closeRound(first.filePk, NOW); // stored nothing: 1 and 2 wait again, with 3
      const next = await store.observations.claimRounds(10);
      expect(next.flatMap((r) => r.observations.map((o) => o.id))).toEqual([newObservation(1).id, newObservation(2).id]);
      expect(next[0].filePk).not.toBe(first.filePk);
    });

    it('keeps all of a group or none of it', async () => {
      await store.observations.add([newObservation(1)]);
      expect(await store.observations.pendingCount()).toBe(1);
      // the second one repeats an id: the whole group is refused, its first one included
      const refused = await store.observations.add([newObservation(2), newObservation(1)]).then(
        () => 'kept',
        (err: Error) => err.message,
      );
      expect(refused).toMatch(/unique/i);
      expect(await store.observations.pendingCount()).toBe(1);
      expect(await store.observations.get(newObservation(2).id)).toBeNull();
    });
  });

  describe('the register and the reports', () => {
    it('finds a vehicle by VIN and by plate (the most recent holder), and counts', async () => {
      expect(
        await store.vehicles.upsertMany([
          { vin: V1, plate: '1ABC123', firstRegistration: '2015-01-01', imported: false, digits: null },
          { vin: V2, plate: '1ABC123', firstRegistration: '2022-06-01', imported: true, digits: 5 },
        ]),
      ).toBe(2);
      expect((await store.vehicles.byPlate('1ABC123'))!.vin).toBe(V2);
      expect(await store.vehicles.byVin(V1)).toMatchObject({ plate: '1ABC123', imported: false });
      expect(await store.vehicles.count()).toBe(2);
      const f = await receive();
      await batch(f.pk, 2, (view) => {
        expect(view.registerInUse).toBe(true);
        expect(view.vehicleByPlate('1ABC123')!.vin).toBe(V2);
        expect(view.vehicleByVin('WVWZZZ1JZXW000009')).toBeNull();
      });
    });

    it('count for the label and the provider report only readings of files that passed, without superseded ones', async () => {
      const a = await receive('a.csv');
      await batch(a.pk, 3, (_v, w) => {
        w.addReading({ line: 2, reading: reading(V1, '2025-03-01', 1000), vin: V1, plate: null, status: 'ok', corrects: null });
        w.addReading({ line: 3, reading: reading(V1, '2025-04-01', 900), vin: V1, plate: null, status: 'flagged', corrects: null });
        w.addIssue(issue(3, 'A40'));
      });
      const pending = await receive('pending.csv');
      await storeReading(pending.pk, 2, V1, '2025-05-01', 2000);
      expect(await store.reports.labelReadings(V1, '2025-12-31')).toEqual([]);
      await accept(a.pk, 2);
      expect((await store.reports.labelReadings(V1, '2025-12-31')).map((r) => r.odometer)).toEqual([1000, 900]);
      expect((await store.reports.labelReadings(V1, '2025-03-15')).map((r) => r.odometer)).toEqual([1000]);
      expect((await store.reports.openAnomalies(V1, '2025-12-31', COUNTING_STATES)).map((x) => [x.code, x.odometer])).toEqual([
        ['A40', 900],
      ]);
      expect(await store.reports.providerCounts('2025-01-01', '2025-12-31', COUNTING_STATES)).toEqual([
        { establishment: SENDER, readings: 2, discrepancies: 1 },
      ]);
      expect(await store.readings.count()).toBe(2);
    });
  });
});
