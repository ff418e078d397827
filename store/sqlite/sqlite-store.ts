/**
 * The store on SQLite (WAL, one file): the Store interface over better-sqlite3's synchronous statements. Every
 * change that touches more than one row is one BEGIN IMMEDIATE transaction, run to its end without an await, so
 * the write lock is never held across the event loop. Opened with `lockWaitMs`, every call waits for other
 * writers on timers (store/sqlite/busy.ts).
 */
import { openDb, writeTx, type Db, type OpenOptions } from './db';
import { WaitingFlag, WriterTurns, waitingOnTimers } from './busy';
import { SqliteAccounts } from './accounts';
import { SqliteFiles } from './files';
import { SqliteReadings, VinList, seqOf, seqRangeOf } from './readings';
import { SqliteIssues } from './issues';
import { SqliteVehicles } from './vehicles';
import { SqliteReports } from './reports';
import { SqliteAudit } from './audit';
import { SqliteObservations } from './observations';
import type {
  AccountStore,
  AuditStore,
  BatchRequest,
  BatchView,
  BatchWriter,
  FileFinding,
  ManualCorrectionRequest,
  ManualWriter,
  FileStore,
  ObservationRound,
  ObservationStore,
  IssueStore,
  ReadingStore,
  ReportStore,
  Store,
  StoredIssue,
  Vehicle,
  VehicleStore,
} from '../types';
import { resultOf } from '../types';
import { MANUAL_FILE_PK } from '../../model/file-id';

export type { OpenOptions } from './db';

/** Thrown inside a batch's transaction to roll it back: a vehicle it reads has records of a file in flight. */
class Blocked extends Error {}

/** SqliteStore: the store in one SQLite database file. */
export class SqliteStore implements Store {
  readonly accounts: AccountStore;
  readonly files: FileStore;
  readonly readings: ReadingStore;
  readonly issues: IssueStore;
  readonly vehicles: VehicleStore;
  readonly reports: ReportStore;
  readonly audit: AuditStore;
  readonly observations: ObservationStore;
  private readonly sql: {
    accounts: SqliteAccounts;
    files: SqliteFiles;
    readings: SqliteReadings;
    issues: SqliteIssues;
    vehicles: SqliteVehicles;
    reports: SqliteReports;
    audit: SqliteAudit;
  };
  /** The turns a file's changes give others on the one writer (giveWay); made by the first file that asks. */
  private turns: WriterTurns | null = null;

  private constructor(
    private readonly db: Db,
    private readonly waiting: WaitingFlag,
    lockWaitMs?: number,
  ) {
    const sql = (this.sql = {
      accounts: new SqliteAccounts(db),
      files: new SqliteFiles(db),
      readings: new SqliteReadings(db),
      issues: new SqliteIssues(db),
      vehicles: new SqliteVehicles(db),
      reports: new SqliteReports(db),
      audit: new SqliteAudit(db),
    });
    this.accounts = {
      add: async (a) => sql.accounts.add(a),
      byEstablishment: async (e) => sql.accounts.byEstablishment(e),
      byId: async (id) => sql.accounts.byId(id),
      list: async () => sql.accounts.list(),
      count: async () => sql.accounts.count(),
      setDisabled: async (e, d) => sql.accounts.setDisabled(e, d),
      setPasswordHash: async (e, h) => sql.accounts.setPasswordHash(e, h),
      setTlsReuse: async (e, t) => sql.accounts.setTlsReuse(e, t),
    };
    this.files = this.fileStore();
    this.readings = {
      timeline: async (vin) => sql.readings.timeline(vin, sql.files.pending(0)),
      forFile: async (pk) => sql.readings.forFile(pk),
      count: async () => sql.readings.count(),
    };
    this.issues = {
      forFile: async (pk) => sql.issues.forFile(pk),
      stream: (pk) => this.streamIssues(pk),
      forRecord: async (pk, line) => sql.issues.forRecord(pk, line),
      get: async (id) => sql.issues.get(id),
    };
    this.vehicles = {
      byVin: async (vin) => sql.vehicles.byVin(vin),
      byPlate: async (plate) => sql.vehicles.byPlate(plate),
      upsertMany: async (vs: Iterable<Vehicle>) => writeTx(db, () => sql.vehicles.upsertMany(vs)),
      count: async () => sql.vehicles.count(),
    };
    this.reports = {
      labelReadings: async (vin, upto) => sql.reports.labelReadings(vin, upto),
      openAnomalies: async (vin, upto, counting) => sql.reports.openAnomalies(vin, upto, counting),
      providerCounts: async (from, to, counting) => sql.reports.providerCounts(from, to, counting),
      anomalies: async (filter) => sql.reports.anomalies(filter),
    };
    this.observations = this.observationStore(lockWaitMs);
    this.audit = this.auditStore(lockWaitMs);
    if (lockWaitMs !== undefined) {
      const patient = <T extends object>(facet: T) => waitingOnTimers(facet, lockWaitMs, waiting);
      this.accounts = patient(this.accounts);
      this.files = patient(this.files);
      this.readings = patient(this.readings);
      this.issues = patient(this.issues);
      this.vehicles = patient(this.vehicles);
      this.reports = patient(this.reports);
    }
  }

  /** open opens (creating and migrating if needed) the database file. */
  static open(file: string, opts: OpenOptions = {}): SqliteStore {
    return new SqliteStore(openDb(file, opts), new WaitingFlag(`${file}-writer-waiting`), opts.lockWaitMs);
  }

  /** auditStore: the audit trail's facet; with `lockWaitMs`, waiting for other writers on timers like the others. */
  private auditStore(lockWaitMs?: number): AuditStore {
    const audit: AuditStore = {
      append: async (events) => writeTx(this.db, () => this.sql.audit.append(events)),
      list: async (filter) => this.sql.audit.list(filter),
    };
    return lockWaitMs === undefined ? audit : waitingOnTimers(audit, lockWaitMs, this.waiting);
  }

  private fileStore(): FileStore {
    const { db, sql } = this;
    return {
      receive: async (f) => sql.files.receive(f),
      get: async (pk) => sql.files.get(pk),
      list: async (filter) => sql.files.list(filter),
      withStatus: async (s) => sql.files.withStatus(s),
      firstWithSha: async (a, sha) => sql.files.firstWithSha(a, sha),
      unrecorded: async (paths) => sql.files.unrecorded(paths),
      markQueued: async (pk) => sql.files.markQueued(pk),
      startAttempt: async (pk) => sql.files.startAttempt(pk),
      pass: async (pk, facts) => writeTx(db, () => this.passNow(pk, facts)),
      reject: async (pk, o) =>
        writeTx(db, () => {
          this.discardStored(pk);
          sql.files.setFacts(pk, { format: o.format, sender: o.sender });
          for (const f of o.findings) sql.issues.insertFileLevel(pk, f);
          sql.files.finish(pk, {
            result: o.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED',
            counts: { records: o.records, accepted: 0, rejected: o.records, anomalies: 0, warnings: 0 },
            duplicateOf: o.duplicateOf,
            processedAt: o.processedAt,
          });
        }),
      accept: async (pk, o) =>
        writeTx(db, () => {
          this.passNow(pk, { format: o.format, sender: o.sender });
          const counts = sql.issues.countsForFile(pk, o.records);
          const result = resultOf(counts);
          sql.files.finish(pk, { result, counts, duplicateOf: null, processedAt: o.processedAt });
          sql.readings.forgetPending(pk);
          return sql.files.get(pk)!;
        }),
      markDone: async (pk, path) => sql.files.markDone(pk, path),
      recordError: async (pk, e, failed) =>
        writeTx(db, () => {
          const f = sql.files.get(pk);
          if (f && f.status !== 'done' && !f.passed && f.progressLine > 0) this.discardStored(pk);
          sql.files.recordError(pk, e, failed);
        }),
      markFailed: async (pk, e) => sql.files.markFailed(pk, e),
      requeue: async (pk) =>
        writeTx(db, () => {
          const f = sql.files.get(pk);
          if (!f || f.status === 'processing') return false;
          sql.issues.deleteFileLevel(pk);
          sql.files.requeue(pk);
          return true;
        }),
      abandon: async (pk, o) =>
        writeTx(db, () => {
          const before = sql.files.get(pk)!;
          const gone = this.discardStored(pk);
          const f08: FileFinding = { code: 'F08', field: 'file', line: 0, message: o.message };
          sql.issues.insertFileLevel(pk, f08);
          const records = before.records ?? 0;
          sql.files.finish(pk, {
            result: 'REJECTED',
            counts: { records, accepted: 0, rejected: records, anomalies: 0, warnings: 0 },
            processedAt: o.processedAt,
          });
          return gone;
        }),
      release: async (pk) =>
        writeTx(db, () => {
          const f = sql.files.get(pk);
          if (!f || f.result !== null || f.progressLine === 0) return false;
          const gone = this.discardStored(pk);
          return gone.readings + gone.issues > 0 || f.progressLine > 0;
        }),
    };
  }

  /** observationStore: the observations' facet; with `lockWaitMs`, waiting for other writers on timers like the others. */
  private observationStore(lockWaitMs?: number): ObservationStore {
    const { db, sql } = this;
    const obs = new SqliteObservations(db);
    const observations: ObservationStore = {
      add: async (list) =>
        writeTx(db, () => {
          for (const o of list) obs.add(o);
        }),
      get: async (id) => obs.get(id),
      getWithIssues: async (id) => {
        const observation = obs.get(id);
        if (!observation) return null;
        const { filePk, line } = observation;
        const settled = observation.status !== 'PENDING' && filePk !== null && line !== null;
        return { observation, issues: settled ? sql.issues.forRecord(filePk, line) : [] };
      },
      settled: async (ids) => obs.settled(ids),
      waiting: async () => obs.waiting(),
      pendingCount: async () => obs.pendingCount(),
      claimRounds: async (limit) =>
        writeTx(db, () => {
          const open = obs.openRounds();
          return open.length > 0 ? open : this.newRounds(obs, limit);
        }),
      unclaim: async (id) => writeTx(db, () => obs.unclaim(id)),
      closeRound: async (pk, processedAt) =>
        writeTx(db, () => {
          const f = sql.files.get(pk);
          if (!f || f.origin !== 'observations' || f.result !== null) return;
          const records = obs.settleRound(pk, f.progressLine, processedAt);
          if (records === 0) return obs.dropRound(pk); // all held up: a round that stored nothing leaves no file
          const counts = sql.issues.countsForFile(pk, records);
          const result = resultOf(counts);
          sql.files.finish(pk, { result, counts, processedAt });
          sql.readings.forgetPending(pk);
          obs.roundDone(pk);
        }),
    };
    return lockWaitMs === undefined ? observations : waitingOnTimers(observations, lockWaitMs, this.waiting);
  }

  /** newRounds claims pending observations into new rounds (ObservationStore.claimRounds); inside a write transaction. */
  private newRounds(obs: SqliteObservations, limit: number): ObservationRound[] {
    const rounds = new Map<string, ObservationRound>();
    const vehicles = new Set<string>();
    for (const o of obs.unclaimed(limit)) {
      if (o.vehicleKey !== '' && vehicles.has(o.vehicleKey)) continue; // the next round takes it
      vehicles.add(o.vehicleKey);
      let r = rounds.get(o.receivedDate);
      if (!r) {
        const filePk = obs.newRound(o.accountId, o.receivedAt);
        r = { filePk, receivedDate: o.receivedDate, progressLine: 0, observations: [] };
        rounds.set(o.receivedDate, r);
      }
      const line = r.observations.length + 1;
      obs.claim(o.id, r.filePk, line);
      r.observations.push({ ...o, filePk: r.filePk, line });
    }
    return [...rounds.values()];
  }

  /**
   * passNow: the file passed; its records are seen by queries now (inside a write transaction). Its lists of
   * vehicles stay until it closes: a release takes its readings out through them.
   */
  private passNow(pk: number, facts: { format: string; sender: string }): void {
    this.sql.files.pass(pk, facts);
  }

  /**
   * discardStored removes everything a file stored: its readings (flagging again those its corrections had
   * superseded), its issues (making the numbers its corrections used correctable again); its progress goes back to
   * 0. Inside a write transaction; readings first: they find the issues they corrected.
   */
  private discardStored(filePk: number): { readings: number; issues: number } {
    const passed = this.sql.files.get(filePk)?.passed ?? false;
    const readings = this.sql.readings.discardFile(filePk, passed);
    const [lo, hi] = seqRangeOf(filePk);
    const issues = this.sql.issues.discardFile(filePk, lo, hi);
    this.sql.files.resetProgress(filePk);
    return { readings, issues };
  }

  private async *streamIssues(filePk: number): AsyncIterable<StoredIssue> {
    let after: StoredIssue | null = null;
    for (;;) {
      const page = this.sql.issues.page(filePk, after);
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1];
    }
  }

  async storeBatch(req: BatchRequest, work: (view: BatchView, write: BatchWriter) => void): Promise<{ blockedBy: number[] }> {
    const blockers = new Set<number>();
    await req.after; // one writer: the change before it is committed, not written side by side
    try {
      writeTx(this.db, () => this.storeBatchNow(req, work, blockers));
    } catch (err) {
      if (!(err instanceof Blocked)) throw err;
    }
    return { blockedBy: [...blockers] };
  }

  /** storeBatchNow is storeBatch inside its transaction; throws Blocked (rolling it back) when `blockers` fills. */
  private storeBatchNow(req: BatchRequest, work: (view: BatchView, write: BatchWriter) => void, blockers: Set<number>): void {
    const { sql } = this;
    const { filePk, sender } = req;
    const file = sql.files.get(filePk);
    if (!file || req.lastLine <= file.progressLine) return; // stored by an earlier attempt
    // Until the file closes, the vehicles it stores readings of are listed (in VIN order: repeats are neighbours).
    const pendingVins = new VinList();
    const view = this.batchView(sql.files.inFlight(filePk), blockers);
    const write: BatchWriter = {
      addReading: (r, by = sender) => {
        sql.readings.insert(filePk, by, r);
        pendingVins.add(r.vin);
      },
      addIssue: (i) => sql.issues.insert(filePk, i),
      markCorrected: (issueId, line) => sql.issues.markCorrected(issueId, seqOf(filePk, line)),
      supersede: (vin, fileId, line) => sql.readings.supersede(vin, fileId, line),
      setAnomalyState: (issueId, state, line) => sql.issues.setState(issueId, state, seqOf(filePk, line)),
    };
    work(view, write);
    sql.readings.trackPending(filePk, req.lastLine, pendingVins);
    sql.files.setProgress(filePk, req.lastLine);
  }

  /**
   * batchView: what a change's checks read. A vehicle (or a named issue) with records of a file `inFlight` (stored
   * records, not closed) adds that file to `blockers` and throws Blocked, rolling the change back.
   */
  private batchView(inFlight: ReadonlySet<number>, blockers: Set<number>): BatchView {
    const { sql } = this;
    const registerInUse = sql.vehicles.any();
    return {
      registerInUse,
      vehicleByVin: (vin) => (registerInUse ? sql.vehicles.byVin(vin) : null),
      vehicleByPlate: (plate) => (registerInUse ? sql.vehicles.byPlate(plate) : null),
      timeline: (vin) => {
        const t = sql.readings.activeTimeline(vin, inFlight, blockers);
        if (blockers.size > 0) throw new Blocked();
        return t;
      },
      correctionTarget: (id) => {
        const t = sql.issues.withSender(id);
        if (t && inFlight.has(t.issue.filePk)) {
          blockers.add(t.issue.filePk);
          throw new Blocked();
        }
        return t;
      },
      anomalies: (vin) => sql.reports.vehicleAnomalies(vin),
    };
  }

  async storeManualCorrection<T>(
    req: ManualCorrectionRequest,
    work: (view: BatchView, write: ManualWriter, line: number) => T,
  ): Promise<{ blockedBy: number[]; result?: T }> {
    const { sql } = this;
    const blockers = new Set<number>();
    try {
      const result = writeTx(this.db, () => {
        // A manual correction's reading and issues are those of MANUAL_FILE_PK: its line is the correction's id.
        const line = sql.issues.addManualCorrection(req);
        const write: ManualWriter = {
          addReading: (r, sender) => sql.readings.insert(MANUAL_FILE_PK, sender, r),
          addIssue: (i) => sql.issues.insert(MANUAL_FILE_PK, i),
          supersede: (vin, fileId, l) => sql.readings.supersede(vin, fileId, l),
          setAnomalyState: (issueId, state, l) => sql.issues.setState(issueId, state, seqOf(MANUAL_FILE_PK, l)),
        };
        return work(this.batchView(sql.files.inFlight(0), blockers), write, line);
      });
      return { blockedBy: [], result };
    } catch (err) {
      if (!(err instanceof Blocked)) throw err;
      return { blockedBy: [...blockers] };
    }
  }

  async pending(filePks: readonly number[]): Promise<number[]> {
    const inFlight = this.sql.files.inFlight(0);
    return filePks.filter((pk) => inFlight.has(pk));
  }

  giveWay(maxMs: number): Promise<boolean> {
    this.turns ??= new WriterTurns(this.waiting, new SqliteObservations(this.db));
    return this.turns.giveWay(maxMs);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
