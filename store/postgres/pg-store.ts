/**
 * The store on PostgreSQL: the Store interface over a node-postgres pool. Every change that touches more than one
 * row is one transaction. A batch (storeBatch, storeManualCorrection) locks the vehicles it reads (their rows in
 * vehicle_locks, in VIN order: two batches never wait for each other in a circle, and only for shared vehicles),
 * fetches everything its checks read in one round trip, runs them in memory and stores what they wrote with one
 * statement. Workers on any number of hosts may store batches of different files at once.
 */
import { analyzeStaleTables } from './statistics';
import { inTx, openPool, type Client, type Pool, type Queryable } from './db';
import { pgAccounts } from './accounts';
import { AccountWatch, watchedAccounts } from './account-watch';
import { PgFiles } from './files';
import { PgReadings, seqOf, seqRangeOf } from './readings';
import { PgIssues } from './issues';
import { PgVehicles } from './vehicles';
import { pgReports } from './reports';
import { pgAudit } from './audit';
import { PgObservations, ROUND_LOCK } from './observations';
import { fetchForBatch, resolveForBatch } from './batch-fetch';
import { MemoryBatch } from './batch-view';
import { writeBatch } from './batch-write';
import type {
  AccountStore,
  AuditStore,
  BatchRequest,
  BatchView,
  BatchWriter,
  FileFinding,
  FileStore,
  IssueStore,
  ManualCorrectionRequest,
  ManualWriter,
  Observation,
  ObservationRound,
  ObservationStore,
  ReadingStore,
  ReportStore,
  Store,
  StoredIssue,
  Vehicle,
  VehicleStore,
} from '../types';
import { resultOf } from '../types';
import { MANUAL_FILE_PK } from '../../model/file-id';

/**
 * ensureVehicleRows adds the lock rows of VINs not seen before, committed at once (outside any batch's transaction:
 * a batch that inserted rows others must lock, and then waited for theirs, could wait in a circle).
 */
async function ensureVehicleRows(db: Queryable, vins: string[]): Promise<void> {
  if (vins.length === 0) return;
  await db.query({
    name: 'inflow_ensure_vehicle_rows',
    // In VIN order: two batches adding the same new VINs wait for each other in one direction only.
    text: 'INSERT INTO vehicle_locks (vin) SELECT v FROM unnest($1::text[]) AS v ORDER BY v ON CONFLICT DO NOTHING',
    values: [vins],
  });
}

/** A batch met VINs without a lock row: its transaction is given up, the rows added (ensureVehicleRows), then run again. */
class MissingVehicleRows extends Error {
  constructor(readonly vins: string[]) {
    super('vehicles without a lock row');
  }
}

/**
 * lockVehicles locks the vehicles' rows until the transaction ends, in VIN order (two batches never wait for each
 * other in a circle); only batches that share a vehicle wait for each other. Throws MissingVehicleRows when a VIN
 * has no row yet (a vehicle never seen): see withVehicleRows.
 */
async function lockVehicles(c: Client, vins: string[]): Promise<void> {
  if (vins.length === 0) return;
  const { rows } = await c.query<{ locked: string }>({
    name: 'inflow_lock_vehicles',
    text: 'SELECT count(*) AS locked FROM (SELECT 1 FROM vehicle_locks WHERE vin = ANY($1::text[]) ORDER BY vin FOR NO KEY UPDATE) AS l',
    values: [vins],
  });
  if (Number(rows[0].locked) < vins.length) throw new MissingVehicleRows(vins);
}

/**
 * withVehicleRows runs a batch's transaction; when it met vehicles never seen, it adds their lock rows with no lock
 * held, then runs it once more. Vehicles seen before (a nightly file's) cost nothing more than their lock.
 */
async function withVehicleRows<T>(pool: Pool, tx: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await tx();
    } catch (err) {
      // A second miss: the batch's vehicles changed meanwhile (a plate registered to a new VIN); a third is a fault.
      if (!(err instanceof MissingVehicleRows) || tries >= 3) throw err;
      await ensureVehicleRows(pool, err.vins);
    }
  }
}

/**
 * Sent with the BEGIN of a transaction that prepares a batch (PgStore.prepare). A generic plan: planning the fetch
 * with a batch's thousands of VINs took ~0.1 s, and knowing their number the planner scanned the whole readings
 * table rather than its vehicle index (EXPLAIN ANALYZE: 0.7-1.1 s vs 0.5 s).
 */
const GENERIC_PLANS = 'SET LOCAL plan_cache_mode = force_generic_plan';

const LOCK_FILE = 'SELECT progress_line FROM files WHERE id = $1 FOR UPDATE';

/** isStored: the file's progress row says the batch ending at `lastLine` is stored (or the file is gone). */
const isStored = (rows: unknown[], lastLine: number) =>
  rows.length === 0 || lastLine <= (rows[0] as { progress_line: number }).progress_line;

/** PgStore: the store in one PostgreSQL database. */
export class PgStore implements Store {
  readonly accounts: AccountStore;
  readonly files: FileStore;
  readonly readings: ReadingStore;
  readonly issues: IssueStore;
  readonly vehicles: VehicleStore;
  readonly reports: ReportStore;
  readonly audit: AuditStore;
  readonly observations: ObservationStore;
  private readonly sql: { files: PgFiles; readings: PgReadings; issues: PgIssues; vehicles: PgVehicles; observations: PgObservations };

  private readonly accountWatch: AccountWatch | null;

  private constructor(
    private readonly pool: Pool,
    url: string,
    watchAccounts: boolean,
  ) {
    const sql = (this.sql = {
      files: new PgFiles(pool),
      readings: new PgReadings(pool),
      issues: new PgIssues(pool),
      vehicles: new PgVehicles(pool),
      observations: new PgObservations(pool),
    });
    const accounts = pgAccounts(pool);
    this.accountWatch = watchAccounts ? new AccountWatch(url, accounts.byEstablishment) : null;
    this.accounts = this.accountWatch ? watchedAccounts(accounts, this.accountWatch) : accounts;
    this.files = this.fileStore();
    this.readings = {
      timeline: (vin) => sql.readings.timeline(vin),
      forFile: (pk) => sql.readings.forFile(pk),
      count: () => sql.readings.count(),
    };
    this.issues = {
      forFile: (pk) => sql.issues.forFile(pk),
      stream: (pk) => this.streamIssues(pk),
      forRecord: (pk, line) => sql.issues.forRecord(pk, line),
      get: (id) => sql.issues.get(id),
    };
    this.vehicles = {
      byVin: (vin) => sql.vehicles.byVin(vin),
      byPlate: (plate) => sql.vehicles.byPlate(plate),
      upsertMany: (vs: Iterable<Vehicle>) => sql.vehicles.upsertMany(pool, vs),
      count: () => sql.vehicles.count(),
    };
    this.reports = pgReports(pool);
    this.audit = pgAudit(pool);
    this.observations = this.observationStore();
  }

  /**
   * open connects to the database at `url` and migrates it when needed. With `watchAccounts` (a front), accounts
   * looked up by establishment are kept while the database tells of their changes (account-watch.ts).
   */
  static async open(url: string, o: { watchAccounts?: boolean } = {}): Promise<PgStore> {
    return new PgStore(await openPool(url), url, o.watchAccounts ?? false);
  }

  private fileStore(): FileStore {
    const { pool, sql } = this;
    return {
      receive: (f) => sql.files.receive(f),
      get: (pk) => sql.files.get(pk),
      list: (filter) => sql.files.list(filter),
      withStatus: (s) => sql.files.withStatus(s),
      firstWithSha: (a, sha) => sql.files.firstWithSha(a, sha),
      unrecorded: (paths) => sql.files.unrecorded(paths),
      markQueued: (pk) => sql.files.markQueued(pk),
      startAttempt: (pk) => sql.files.startAttempt(pk),
      pass: (pk, facts) => sql.files.pass(pool, pk, facts),
      reject: (pk, o) => this.reject(pk, o),
      accept: async (pk, o) => {
        const file = await inTx(pool, async (c) => {
          await sql.files.pass(c, pk, { format: o.format, sender: o.sender });
          const counts = await sql.issues.countsForFile(c, pk, o.records);
          const result = resultOf(counts);
          await sql.files.finish(c, pk, { result, counts, duplicateOf: null, processedAt: o.processedAt });
          return (await sql.files.get(pk, c))!;
        });
        // The file is accepted whatever happens here: statistics only guide plans, and the next file tries again.
        await analyzeStaleTables(pool).catch(() => []);
        return file;
      },
      markDone: (pk, path) => sql.files.markDone(pk, path),
      recordError: (pk, e, failed) =>
        inTx(pool, async (c) => {
          const f = await this.lockedFile(c, pk);
          if (f && f.status !== 'done' && !f.passed && f.progressLine > 0) await this.discardStored(c, pk);
          await sql.files.recordError(c, pk, e, failed);
        }),
      markFailed: (pk, e) => sql.files.markFailed(pk, e),
      requeue: (pk) =>
        inTx(pool, async (c) => {
          const f = await this.lockedFile(c, pk);
          if (!f || f.status === 'processing') return false;
          await sql.issues.deleteFileLevel(c, pk);
          await sql.files.requeue(c, pk);
          return true;
        }),
      abandon: (pk, o) => this.abandon(pk, o),
      release: (pk) =>
        inTx(pool, async (c) => {
          const f = await this.lockedFile(c, pk);
          if (!f) return false;
          const gone = await this.discardStored(c, pk);
          return gone.readings + gone.issues > 0;
        }),
    };
  }

  private observationStore(): ObservationStore {
    const { pool, sql } = this;
    return {
      add: (list) => sql.observations.add(list),
      get: (id) => sql.observations.get(id),
      getWithIssues: (id) => sql.observations.getWithIssues(id),
      settled: (ids) => sql.observations.settled(ids),
      waiting: () => sql.observations.waiting(),
      pendingCount: () => sql.observations.pendingCount(),
      claimRounds: (limit) =>
        inTx(
          pool,
          async (c) => {
            // The rounds of a drainer that died come first; the unclaimed are read only when there are none.
            const unclaimed = await sql.observations.unclaimedUnlessOpenRounds(c, limit);
            if (unclaimed.length > 0) return this.newRounds(c, unclaimed);
            return sql.observations.openRounds(c);
          },
          `SELECT pg_advisory_xact_lock(${ROUND_LOCK})`, // one claim at a time
        ),
      unclaim: (id) => sql.observations.unclaim(id),
      closeRound: (pk, processedAt) => sql.observations.closeRound(pk, processedAt),
    };
  }

  /** newRounds claims pending observations into new rounds (ObservationStore.claimRounds), in the claim's transaction. */
  private async newRounds(c: Client, unclaimed: Observation[]): Promise<ObservationRound[]> {
    const rounds = new Map<string, ObservationRound>();
    const vehicles = new Set<string>();
    for (const o of unclaimed) {
      if (o.vehicleKey !== '' && vehicles.has(o.vehicleKey)) continue; // the next round takes it
      vehicles.add(o.vehicleKey);
      let r = rounds.get(o.receivedDate);
      if (!r) rounds.set(o.receivedDate, (r = { filePk: 0, receivedDate: o.receivedDate, progressLine: 0, observations: [] }));
      r.observations.push({ ...o, line: r.observations.length + 1 });
    }
    for (const r of rounds.values()) {
      const first = r.observations[0];
      r.filePk = await this.sql.observations.newRound(
        c,
        first.accountId,
        first.receivedAt,
        r.observations.map((o) => o.id),
      );
      for (const o of r.observations) o.filePk = r.filePk;
    }
    return [...rounds.values()];
  }

  private reject(pk: number, o: Parameters<FileStore['reject']>[1]): Promise<void> {
    const { sql } = this;
    return inTx(this.pool, async (c) => {
      await this.discardStored(c, pk);
      await sql.files.setFacts(c, pk, { format: o.format, sender: o.sender });
      for (const f of o.findings) await sql.issues.insertFileLevel(c, pk, f);
      await sql.files.finish(c, pk, {
        result: o.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED',
        counts: { records: o.records, accepted: 0, rejected: o.records, anomalies: 0, warnings: 0 },
        duplicateOf: o.duplicateOf,
        processedAt: o.processedAt,
      });
    });
  }

  private abandon(pk: number, o: { message: string; processedAt: string }): Promise<{ readings: number; issues: number }> {
    const { sql } = this;
    return inTx(this.pool, async (c) => {
      const before = (await this.lockedFile(c, pk))!;
      const gone = await this.discardStored(c, pk);
      const f08: FileFinding = { code: 'F08', field: 'file', line: 0, message: o.message };
      await sql.issues.insertFileLevel(c, pk, f08);
      const records = before.records ?? 0;
      await sql.files.finish(c, pk, {
        result: 'REJECTED',
        counts: { records, accepted: 0, rejected: records, anomalies: 0, warnings: 0 },
        processedAt: o.processedAt,
      });
      return gone;
    });
  }

  /** lockedFile reads a file and locks its row until the transaction ends (one change to a file at a time). */
  private async lockedFile(c: Client, pk: number) {
    await c.query('SELECT 1 FROM files WHERE id = $1 FOR UPDATE', [pk]);
    return this.sql.files.get(pk, c);
  }

  /**
   * discardStored removes everything a file stored: its readings (flagging again those its corrections had
   * superseded), its issues (making the numbers its corrections used correctable again); its progress goes back to
   * 0. Readings first: they find the issues they corrected.
   */
  private async discardStored(c: Queryable, filePk: number): Promise<{ readings: number; issues: number }> {
    const readings = await this.sql.readings.discardFile(c, filePk);
    const [lo, hi] = seqRangeOf(filePk);
    const issues = await this.sql.issues.discardFile(c, filePk, lo, hi);
    await this.sql.files.resetProgress(c, filePk);
    return { readings, issues };
  }

  private async *streamIssues(filePk: number): AsyncIterable<StoredIssue> {
    let after: StoredIssue | null = null;
    for (;;) {
      const page = await this.sql.issues.page(filePk, after);
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1];
    }
  }

  /**
   * prepare: the lookups' VINs (with those behind its plates and named issues) locked, and everything the checks
   * read fetched into a MemoryBatch; or the files in flight that hold it up.
   */
  private async prepare(
    c: Client,
    filePk: number,
    look: { vins: string[]; plates: string[]; issueIds: number[] },
    anomalies: boolean,
  ): Promise<{ batch: MemoryBatch } | { blockedBy: number[] }> {
    const { plateVehicles, targetVins } = await resolveForBatch(c, look.plates, look.issueIds);
    const vins = [...new Set([...look.vins, ...plateVehicles.map((v) => v.vin), ...targetVins])];
    await lockVehicles(c, vins);
    const fetched = await fetchForBatch(c, { vins, filePk, issueIds: look.issueIds, anomalies });
    if (fetched.blockers.length > 0) return { blockedBy: fetched.blockers };
    return { batch: new MemoryBatch(fetched, vins, plateVehicles) };
  }

  async storeBatch(req: BatchRequest, work: (view: BatchView, write: BatchWriter) => void): Promise<{ blockedBy: number[] }> {
    const look = req.lookups();
    return withVehicleRows(this.pool, () => this.storeBatchTx(req, look, work));
  }

  private storeBatchTx(
    req: BatchRequest,
    look: { vins: string[]; plates: string[]; issueIds: number[] },
    work: (view: BatchView, write: BatchWriter) => void,
  ): Promise<{ blockedBy: number[] }> {
    const { filePk, sender } = req;
    if (!Number.isSafeInteger(filePk)) throw new Error(`not a file pk: ${filePk}`);
    // The file's row lock, with BEGIN: two attempts at one file (a take-over) store its batches one after the other,
    // and a batch an earlier attempt stored is skipped before anything is fetched. A batch checked while the one
    // before it is written (req.after) reads the progress only, and takes the lock once that one committed.
    const later = req.after !== undefined;
    const opening = `${GENERIC_PLANS}; SELECT progress_line FROM files WHERE id = ${filePk}${later ? '' : ' FOR UPDATE'}`;
    return inTx(
      this.pool,
      async (c, progress) => {
        if (isStored(progress.rows, req.lastLine)) return { blockedBy: [] };
        const ready = await this.prepare(c, filePk, look, look.issueIds.length > 0);
        if ('blockedBy' in ready) return ready;
        const b = ready.batch;
        work(b.view, {
          addReading: (r, by = sender) => b.addReading(filePk, by, r),
          addIssue: (i) => b.addIssue(filePk, i),
          markCorrected: (issueId, line) => b.markCorrected(issueId, seqOf(filePk, line)),
          supersede: (vin, fileId, line) => b.supersede(vin, fileId, line),
          setAnomalyState: (issueId, state, line) => b.setAnomalyState(issueId, state, seqOf(filePk, line)),
        });
        b.checked();
        if (later) {
          await req.after;
          const locked = await c.query({ name: 'inflow_lock_file', text: LOCK_FILE, values: [filePk] });
          if (isStored(locked.rows, req.lastLine)) return { blockedBy: [] };
        }
        await writeBatch(c, b, filePk, req.lastLine);
        return { blockedBy: [] };
      },
      opening,
    );
  }

  async storeManualCorrection<T>(
    req: ManualCorrectionRequest,
    work: (view: BatchView, write: ManualWriter, line: number) => T,
  ): Promise<{ blockedBy: number[]; result?: T }> {
    return withVehicleRows(this.pool, () => this.storeManualCorrectionTx(req, work));
  }

  private storeManualCorrectionTx<T>(
    req: ManualCorrectionRequest,
    work: (view: BatchView, write: ManualWriter, line: number) => T,
  ): Promise<{ blockedBy: number[]; result?: T }> {
    return inTx(
      this.pool,
      async (c) => {
        const ready = await this.prepare(c, MANUAL_FILE_PK, { vins: [req.vin], plates: [], issueIds: [req.issueId] }, true);
        if ('blockedBy' in ready) return ready;
        const b = ready.batch;
        // A manual correction's reading and issues are those of MANUAL_FILE_PK: its line is the correction's id.
        const { rows } = await c.query<{ id: number }>(
          'INSERT INTO manual_corrections (issue_id, vin, by, reason, at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
          [req.issueId, req.vin, req.by, req.reason, req.at],
        );
        const line = rows[0].id;
        const result = work(
          b.view,
          {
            addReading: (r, sender) => b.addReading(MANUAL_FILE_PK, sender, r),
            addIssue: (i) => b.addIssue(MANUAL_FILE_PK, i),
            supersede: (vin, fileId, l) => b.supersede(vin, fileId, l),
            setAnomalyState: (issueId, state, l) => b.setAnomalyState(issueId, state, seqOf(MANUAL_FILE_PK, l)),
          },
          line,
        );
        b.checked();
        await writeBatch(c, b, MANUAL_FILE_PK, 0);
        return { blockedBy: [], result };
      },
      GENERIC_PLANS,
    );
  }

  pending(filePks: readonly number[]): Promise<number[]> {
    return this.sql.files.inFlight(filePks);
  }

  /** giveWay: batches lock their vehicles' rows, not the database: a file never holds others up by its size. */
  async giveWay(_maxMs: number): Promise<boolean> {
    return false;
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.accountWatch?.close();
    await this.pool.end();
  }
}
