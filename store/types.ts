/**
 * The store: everything odo-inflow keeps (accounts, received files, readings, issues, the vehicle register), as an
 * async interface shaped by what the application does, not by a database. One folder per backend implements it
 * (store/sqlite/); no SQL, no storage encoding and no database handle leaves that folder.
 *
 * Every method that changes several things does so atomically: it is one named change (receiveFile, storeBatch,
 * rejectFile, abandonFile…), never a transaction a caller holds open.
 */
import type { AnomalyState } from '../model/anomaly-state';
import type { FileFinding, IssueCode, Severity } from '../model/issue-catalogue';
import type { Reading, WorkType } from '../model/reading';
import type { ReportStore } from './report-types';
import type { RecordFields } from '../model/file-items';
import type { ClientSoftware, ObservationStatus } from '../model/observation';

export * from './report-types';

// ─── Accounts ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * `garage` and `fleet` send readings (FTPS, HTTPS); `admin` uses the CLI and sees everything over HTTPS (no FTPS);
 * `portal` (an ad site) may only ask for OK labels over HTTPS.
 */
export type Role = 'garage' | 'fleet' | 'admin' | 'portal';
export const ROLES: readonly Role[] = ['garage', 'fleet', 'admin', 'portal'];

/**
 * Whether an account's FTPS data connections must resume the TLS session of their control connection (docs/ftps.md):
 * `required` (the default) binds each data connection to its control connection; `optional` is for a client that
 * cannot resume (the data connection must still come from the control connection's IP address).
 */
export type TlsReuse = 'required' | 'optional';
export const TLS_REUSE: readonly TlsReuse[] = ['required', 'optional'];

export interface Account {
  id: number;
  /** The 10-digit establishment number: the FTPS username. */
  establishment: string;
  name: string;
  role: Role;
  /** Establishments a fleet account may send files for (besides its own). */
  senders: string[];
  passwordHash: string;
  disabled: boolean;
  tlsReuse: TlsReuse;
  createdAt: string;
}

export class AccountAlreadyExistsError extends Error {
  readonly code = 'ACCOUNT_EXISTS';
}

/**
 * Another writer held the database for the whole of the caller's wait (a store opened with `lockWaitMs`), or the
 * database server could not be reached: nothing was changed, and the same call may succeed later. Transient: a
 * front end answers "try again".
 */
export class StoreBusyError extends Error {
  readonly code = 'STORE_BUSY';
  readonly transient = true;
}

export interface AccountStore {
  /** add creates an account; throws AccountAlreadyExistsError when the establishment has one. */
  add(a: { establishment: string; name: string; role: Role; senders?: string[]; passwordHash: string }): Promise<Account>;
  byEstablishment(establishment: string): Promise<Account | null>;
  byId(id: number): Promise<Account | null>;
  list(): Promise<Account[]>;
  count(): Promise<number>;
  /** setDisabled returns false when there is no such account. */
  setDisabled(establishment: string, disabled: boolean): Promise<boolean>;
  /** setPasswordHash returns false when there is no such account. */
  setPasswordHash(establishment: string, hash: string): Promise<boolean>;
  /** setTlsReuse returns false when there is no such account. */
  setTlsReuse(establishment: string, tlsReuse: TlsReuse): Promise<boolean>;
}

// ─── Files ───────────────────────────────────────────────────────────────────────────────────────────────────

export const FILE_STATUSES = ['received', 'queued', 'processing', 'done', 'failed'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];
export const FILE_RESULTS = ['ACCEPTED', 'PARTIAL', 'REJECTED', 'DUPLICATE'] as const;
export type FileResult = (typeof FILE_RESULTS)[number];

/** Where a file's records came from: an upload (FTPS, HTTPS), or a round of observations (docs/observations.md). */
export type FileOrigin = 'upload' | 'observations';

export interface FileRecord {
  pk: number;
  /** The public file id (model/file-id.ts): `F` + six or more digits; also the queue's job id. */
  id: string;
  accountId: number;
  /** Establishment number of the uploading account. */
  account: string;
  /** The establishment in the header (for a fleet account, one it sends for); null until read. */
  sender: string | null;
  name: string;
  storedPath: string;
  size: number;
  sha256: string;
  format: string | null;
  status: FileStatus;
  result: FileResult | null;
  /** Public id of the file this one repeats (DUPLICATE). */
  duplicateOf: string | null;
  receivedAt: string;
  processedAt: string | null;
  /** The last record whose batch is stored: a new attempt resumes after it. */
  progressLine: number;
  /**
   * True once the file passed its file-level checks. Until then its stored records are seen by no other file's
   * checks and by no query; a file that fails them has its records taken out again (docs/guarantees.md).
   */
  passed: boolean;
  records: number | null;
  accepted: number | null;
  rejected: number | null;
  anomalies: number | null;
  warnings: number | null;
  attempts: number;
  error: string | null;
  receiptPath: string | null;
  /**
   * `observations`: a round of observations checked together (docs/observations.md); such a file has no content
   * and no receipt, and is not listed, reconciled or queued as an upload is.
   */
  origin: FileOrigin;
}

export interface FileCounts {
  records: number;
  accepted: number;
  rejected: number;
  anomalies: number;
  warnings: number;
}

/** resultOf: the result of a file that passed its file-level checks (or a round of observations), from its counts. */
export function resultOf(counts: FileCounts): 'ACCEPTED' | 'PARTIAL' {
  return counts.rejected > 0 || counts.anomalies > 0 ? 'PARTIAL' : 'ACCEPTED';
}

export type { FileFinding };

export interface FileStore {
  /** receive records a file that is durably on disk; status `received`. */
  receive(f: {
    accountId: number;
    name: string;
    storedPath: string;
    size: number;
    sha256: string;
    receivedAt: string;
  }): Promise<FileRecord>;
  get(pk: number): Promise<FileRecord | null>;
  /** list, withStatus and firstWithSha see uploads only (origin `upload`). */
  list(filter?: { status?: string; account?: string; receivedSince?: string; limit?: number }): Promise<FileRecord[]>;
  /** withStatus lists the files in one of the given states (the reconciler's work list). */
  withStatus(statuses: FileStatus[]): Promise<FileRecord[]>;
  /** firstWithSha returns the earliest file of this account with this content: the original of any duplicate. */
  firstWithSha(accountId: number, sha256: string): Promise<FileRecord | null>;
  /** unrecorded returns those of `storedPaths` that no file records (left by a front that died before recording). */
  unrecorded(storedPaths: string[]): Promise<string[]>;
  /** markQueued: the job is in the queue. Only from `received`, so a late call never undoes a worker's progress. */
  markQueued(pk: number): Promise<void>;
  /** startAttempt marks the file processing and counts the attempt. */
  startAttempt(pk: number): Promise<void>;
  /**
   * pass records that the file passed its file-level checks: its stored records, and those it stores from now on,
   * are seen by every other file's checks and by every query.
   */
  pass(pk: number, facts: { format: string; sender: string }): Promise<void>;
  /**
   * reject closes a file that failed its file-level checks (or repeats another, `duplicateOf`): whatever its
   * records stored is taken out again (readings, issues, the corrections they made), its F issues are stored, and
   * its result is REJECTED or DUPLICATE with every record rejected. One change.
   */
  reject(
    pk: number,
    o: {
      findings: FileFinding[];
      records: number;
      format: string | null;
      sender: string | null;
      duplicateOf: number | null;
      processedAt: string;
    },
  ): Promise<void>;
  /**
   * accept closes a file that passed its file-level checks (pass, if not done yet): its result is ACCEPTED or
   * PARTIAL with the counts of its stored issues. One change; returns the file.
   */
  accept(pk: number, o: { format: string; sender: string; records: number; processedAt: string }): Promise<FileRecord>;
  /** markDone: the receipt is written; nothing more to do for this file. */
  markDone(pk: number, receiptPath: string): Promise<void>;
  /**
   * recordError keeps the last processing error: `failed` when no retry is left, else `queued` again. A file
   * already done is left alone. A file that fails before passing its checks has its stored records taken out again
   * (they would hold up other files' checks of the same vehicles until its next attempt).
   */
  recordError(pk: number, error: string, failed: boolean): Promise<void>;
  /** markFailed: the file's job failed outside the worker's hands (e.g. stalled too often). False when done. */
  markFailed(pk: number, error: string): Promise<boolean>;
  /**
   * requeue prepares a file for a replay: status `queued`, no error, its file-level issues dropped so the checks
   * decide again. Stored records and the progress stay (the re-run resumes). A file being processed is left alone;
   * returns whether the file was changed.
   */
  requeue(pk: number): Promise<boolean>;
  /**
   * abandon closes a file that could not be processed: whatever its records stored is taken out again, `issue`
   * (F08) is stored and its result is REJECTED. Returns what was taken out.
   */
  abandon(pk: number, o: { message: string; processedAt: string }): Promise<{ readings: number; issues: number }>;
  /**
   * release takes out whatever an in-flight file's records stored (readings, issues, the corrections they made) and
   * sets its progress back to the start, so that an older file waiting for the same vehicles can go first; the file
   * is processed again from its first record later. Returns whether anything was taken out.
   */
  release(pk: number): Promise<boolean>;
}

// ─── Readings, issues and the register ──────────────────────────────────────────────────────────────────────

export type ReadingStatus = 'ok' | 'flagged' | 'corrected' | 'superseded';

/** A stored reading, as the history view shows it. */
export interface StoredReading {
  vin: string;
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  work: WorkType;
  replaced: boolean;
  digits: number | null;
  sender: string;
  fileId: number;
  line: number;
  ref: string | null;
  plate: string | null;
  status: ReadingStatus;
  /** Id of the issue this reading corrects, or null. */
  corrects: number | null;
}

export interface StoredIssue {
  /** The basis of the error number (rules/error-number.ts). */
  id: number;
  filePk: number;
  /** The record's key in its file: the line where it starts (CSV), its position among the records (XML). */
  line: number;
  /** Where `line` is not the line the record starts on (XML), that line; else null. */
  startLine: number | null;
  code: IssueCode;
  severity: Severity;
  field: string;
  message: string;
  ref: string | null;
  vin: string | null;
  correctable: boolean;
  /** Whether a record already used this issue's one electronic correction (spent: a second try gets E31). */
  corrected: boolean;
  /** Where an anomaly stands; null for an issue that is not an anomaly. */
  state: AnomalyState | null;
}

export interface Vehicle {
  vin: string;
  plate: string | null;
  firstRegistration: string | null;
  imported: boolean;
  digits: number | null;
}

export interface ReadingStore {
  /** timeline lists a vehicle's readings of files that passed their checks, by date then reception, superseded ones included. */
  timeline(vin: string): Promise<StoredReading[]>;
  /** forFile lists the readings a file stored, in file order (tests and admin views: not for the hot path). */
  forFile(filePk: number): Promise<StoredReading[]>;
  count(): Promise<number>;
}

export interface IssueStore {
  /** forFile lists a file's issues in receipt order: file-level first, then by line. */
  forFile(filePk: number): Promise<StoredIssue[]>;
  /** stream yields a file's issues in receipt order, a page at a time (a big file's receipt can list millions). */
  stream(filePk: number): AsyncIterable<StoredIssue>;
  /** forRecord lists the issues of one record (file, line). */
  forRecord(filePk: number, line: number): Promise<StoredIssue[]>;
  get(id: number): Promise<StoredIssue | null>;
}

export interface VehicleStore {
  byVin(vin: string): Promise<Vehicle | null>;
  /** byPlate: the vehicle a plate belongs to now (the most recently registered holder). */
  byPlate(plate: string): Promise<Vehicle | null>;
  /** upsertMany inserts or replaces register entries, all or none; returns how many. */
  upsertMany(vehicles: Iterable<Vehicle>): Promise<number>;
  count(): Promise<number>;
}

// ─── Observations ──────────────────────────────────────────────────────────────────────────────────────────

/** One reading sent on its own (docs/observations.md). */
export interface Observation {
  /** The public id: a UUID. */
  id: string;
  accountId: number;
  /** Establishment number of the account that sent it. */
  account: string;
  /** The establishment it is sent for: the sender of the reading. */
  sender: string;
  /** The reading as sent, as a file record's fields. */
  fields: RecordFields;
  /** The vehicle it reads as sent: the VIN upper-cased, else the plate normalised ('' when neither). */
  vehicleKey: string;
  client: ClientSoftware;
  /** The observation whose error number this one corrects (a correction or a confirmation), or null. */
  correctionOf: string | null;
  status: ObservationStatus;
  /** The round (an internal file) and line it is checked as; null while it waits for a round. */
  filePk: number | null;
  line: number | null;
  receivedAt: string;
  /** The Brussels date it was received: its "today" for the checks (E17, W50). */
  receivedDate: string;
  processedAt: string | null;
}

/**
 * Observations checked together as the records of one internal file: one reception date, any senders (each
 * observation's reading is its sender's, as if each had come in a file of its own).
 */
export interface ObservationRound {
  filePk: number;
  receivedDate: string;
  /** The last line stored (a round taken over from a drainer that died resumes after it). */
  progressLine: number;
  /** Its observations, by line. */
  observations: Observation[];
}

/** An observation as it is kept: what the desk knows of it before it is checked. */
export type NewObservation = Omit<Observation, 'status' | 'filePk' | 'line' | 'processedAt' | 'account'>;

export interface ObservationStore {
  /** add keeps new observations, all or none, PENDING and in no round yet, in this order; durable when it resolves. */
  add(observations: readonly NewObservation[]): Promise<void>;
  get(id: string): Promise<Observation | null>;
  /** getWithIssues: the observation and, once it is settled, its record's issues (one look: a status request's). */
  getWithIssues(id: string): Promise<{ observation: Observation; issues: StoredIssue[] } | null>;
  /** settled returns those of `ids` that are no longer PENDING (the waiters' one look for all of them). */
  settled(ids: readonly string[]): Promise<string[]>;
  /** waiting: whether some observation waits for a round (PENDING, in none): one look at an index, for a drainer. */
  waiting(): Promise<boolean>;
  /** pendingCount: observations still PENDING (the reconciler asks for a drain when there are some). */
  pendingCount(): Promise<number>;
  /**
   * claimRounds hands the drainer its work, as one change: the rounds not closed yet (their drainer died), or else
   * up to `limit` PENDING observations, oldest first, in new rounds (one internal file per reception date, whatever
   * the accounts and senders: a round is one change however many DMS sent to it; lines 1, 2, … in arrival order). At most one observation per vehicle (VIN, else plate) joins a
   * round: the others wait for the next, so that each is checked as it would be alone.
   */
  claimRounds(limit: number): Promise<ObservationRound[]>;
  /** unclaim takes an observation out of its round, PENDING again (a file in flight held up its vehicle). */
  unclaim(id: string): Promise<void>;
  /**
   * closeRound closes a round as one change: its file is closed as an accepted file is, and each of its
   * observations stored (line up to the file's progress) takes its final status from its issues; any other is
   * PENDING again, in no round. A round that stored nothing leaves no file. A closed round is left alone.
   */
  closeRound(filePk: number, processedAt: string): Promise<void>;
}

// ─── The audit trail ────────────────────────────────────────────────────────────────────────────────────────

/** One audited event: when, where (host and process), what, and its details. */
export interface AuditRecord {
  at: string;
  host: string;
  pid: number;
  event: string;
  fields: Record<string, unknown>;
}

export interface AuditStore {
  /** append keeps the events, all or none. */
  append(events: readonly AuditRecord[]): Promise<void>;
  /** list returns events oldest first; `account` matches fields.account or fields.username. */
  list(filter?: { since?: string; event?: string; account?: string; limit?: number }): Promise<AuditRecord[]>;
}

// ─── The pipeline's batch ───────────────────────────────────────────────────────────────────────────────────

/** What the checks read of a stored reading of the vehicle. */
export interface TimelineEntry {
  day: number;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  /** Starts a new series: replaced, or work ODOREP. */
  startsSeries: boolean;
  sender: string;
  fileId: number;
  line: number;
}

/** The issue an error number names, as a correction needs it. */
export interface CorrectionTargetIssue {
  issue: StoredIssue;
  /** Establishment that sent the file the issue was raised in. */
  sender: string | null;
}

/** What a batch's checks read: the store as it is at that point of the change, its own writes so far included. */
export interface BatchView {
  /** False when the vehicle register is empty (a look-up cannot find anything). */
  readonly registerInUse: boolean;
  vehicleByVin(vin: string): Vehicle | null;
  /** The vehicle a plate belongs to now (the most recently registered holder). */
  vehicleByPlate(plate: string): Vehicle | null;
  /**
   * The vehicle's active timeline: its readings by date then reception, without superseded ones and without
   * readings of files that have not passed their file-level checks, except this batch's own file.
   */
  timeline(vin: string): TimelineEntry[];
  correctionTarget(issueId: number): CorrectionTargetIssue | null;
  /** The anomalies (A issues) of the vehicle's active readings, with their state (a correction's path only). */
  anomalies(vin: string): VehicleAnomaly[];
}

/** An anomaly of a reading of the vehicle's active timeline. */
export interface VehicleAnomaly {
  id: number;
  code: IssueCode;
  state: AnomalyState;
  /** The reading it was raised on. */
  fileId: number;
  line: number;
  /** The reading's `digits` as sent. */
  digits: number | null;
}

/** A reading of the batch's file to store. */
export interface NewReading {
  line: number;
  /** The reading as checked; its `vin` may be null when `vin` below came from the register. */
  reading: Reading;
  vin: string;
  plate: string | null;
  status: Exclude<ReadingStatus, 'superseded'>;
  /** Id of the issue it corrects. */
  corrects: number | null;
}

/** An issue of a record of the batch's file (its id and file come from the store and the batch). */
export type NewIssue = Omit<StoredIssue, 'id' | 'filePk' | 'corrected' | 'state' | 'startLine'> & { startLine?: number | null };

/** What a batch's checks write; nothing is kept unless the whole batch is. */
export interface BatchWriter {
  /** A reading to keep, sent by `sender` (default: the batch's; a round of observations has several). */
  addReading(r: NewReading, sender?: string): void;
  /** A record's problem; the same (line, code, field) of a file keeps its first id (and error number). */
  addIssue(i: NewIssue): void;
  /** The record at `line` uses issue `issueId`'s one electronic correction. */
  markCorrected(issueId: number, line: number): void;
  /** The reading stored from (fileId, line) for this vehicle is replaced by a correction. */
  supersede(vin: string, fileId: number, line: number): void;
  /** Anomaly `issueId` takes `state`, set by the record at `line` (of the batch's file, or of the manual correction). */
  setAnomalyState(issueId: number, state: AnomalyState, line: number): void;
}

/** A manual correction (the correction form): who applied it, why, and the anomaly it names. */
export interface ManualCorrectionRequest {
  issueId: number;
  vin: string;
  by: string;
  reason: string;
  at: string;
}

/**
 * What a manual correction writes: as a batch does, but its reading and issues belong to no file (the history shows
 * them without one) and its reading keeps the sender of the reading it replaces.
 */
export interface ManualWriter extends Omit<BatchWriter, 'addReading' | 'markCorrected'> {
  addReading(r: NewReading, sender: string): void;
}

export interface BatchRequest {
  filePk: number;
  /** The establishment in the file's header: the sender of every reading that does not name its own. */
  sender: string;
  /** The last line the batch covers: the file's progress once it is stored. */
  lastLine: number;
  /**
   * What the checks will look up: the VINs, the plates of plate-only readings and the issues corrections name. A
   * backend that fetches all of it in one go before running the checks calls it; one that looks up as it goes
   * need not.
   */
  lookups(): { vins: string[]; plates: string[]; issueIds: number[] };
  /**
   * The change of the same file's records before it, still being written: this one is checked meanwhile (a vehicle
   * the two share waits for that one's commit) but written only once that one committed, and not at all if it
   * failed. So a file's next batch is checked while the one before it is written, and its progress never passes a
   * batch that was not stored.
   */
  after?: Promise<void>;
}

// ─── The store ──────────────────────────────────────────────────────────────────────────────────────────────

export interface Store {
  readonly accounts: AccountStore;
  readonly files: FileStore;
  readonly readings: ReadingStore;
  readonly issues: IssueStore;
  readonly vehicles: VehicleStore;
  readonly reports: ReportStore;
  readonly audit: AuditStore;
  readonly observations: ObservationStore;
  /**
   * storeBatch checks and stores one batch of a file's records, with the file's progress, as one change: `work`
   * runs once, synchronously, reading through `view` and writing through `write`, and no other writer changes the
   * vehicles it reads meanwhile (two files reporting the same vehicle at once give the result of one after the other).
   * A batch whose `lastLine` is not after the file's progress is skipped (already stored by an earlier attempt).
   *
   * When a vehicle (or a corrected issue) the batch reads has records of another file still in flight (records
   * stored, the file not closed: accepted, rejected or failed for good), nothing is stored and those files are
   * returned: the caller waits until they close (or releases its own records, see FileStore.release), then tries
   * again. So no check ever sees a reading that may still be taken out, and every vehicle sees whole files, one
   * after another: two files sharing vehicles give, for each vehicle, the result of one of the two serial orders.
   */
  storeBatch(req: BatchRequest, work: (view: BatchView, write: BatchWriter) => void): Promise<{ blockedBy: number[] }>;
  /**
   * storeManualCorrection applies a manual correction as one change, recorded with who and why: `work` runs once,
   * synchronously, reading through `view` and writing through `write`; `line` is the correction's number, the line
   * of what it stores. Nothing is stored when a vehicle it reads has records of a file that has not passed its
   * checks (those files are returned), or when `work` throws.
   */
  storeManualCorrection<T>(
    req: ManualCorrectionRequest,
    work: (view: BatchView, write: ManualWriter, line: number) => T,
  ): Promise<{ blockedBy: number[]; result?: T }>;
  /** pending tells which of these files are still in flight: records stored, the file not closed (nor failed for good). */
  pending(filePks: readonly number[]): Promise<number[]>;
  /**
   * giveWay: a long writer (a file's pipeline) calls it before each change. Where every change waits for the one
   * before it (SQLite: one writer), it first lets through, for at most `maxMs`, those waiting for the writer
   * (another process's writers; the rounds of the observations kept since its last change and of those that keep
   * coming), then tells whether others wanted the writer lately: the caller then keeps its changes short
   * (docs/observations.md). Where changes do not wait for each other (PostgreSQL: rows are locked, not the
   * database) it is false at once.
   */
  giveWay(maxMs: number): Promise<boolean>;
  close(): Promise<void>;
}
