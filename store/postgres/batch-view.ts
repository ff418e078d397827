/**
 * A batch's view and writes in memory: the checks run synchronously on what fetchForBatch brought back, every
 * write is applied to that view at once (a later record of the batch sees it, as on SQLite), and is kept to be
 * stored with one multi-row statement per table (batch-write.ts).
 */
import type { Fetched } from './batch-fetch';
import { STATUSES, STATUS_SUPERSEDED } from './readings';
import { CopyBuffer, copyText } from './copy';
import { WORK_TYPES, kmOf } from '../../model/reading';
import { dayOf } from '../../model/day-number';
import type { AnomalyState } from '../../model/anomaly-state';
import type { BatchView, CorrectionTargetIssue, NewIssue, NewReading, TimelineEntry, Vehicle, VehicleAnomaly } from '../types';

/** An issue to insert: what the checks gave, and what later records of the batch did to it. */
export interface PendingIssue {
  fileId: number;
  i: NewIssue;
  correctedBy: number | null;
  state: AnomalyState | null;
  stateBy: number | null;
}

/** A change to a stored issue: its one correction spent (first wins), its state (last wins). */
export interface IssueChange {
  correctedBy: number | null;
  state: AnomalyState | null;
  stateBy: number | null;
}

/** One string per establishment: a few hundred of them, shared by every timeline entry. */
const senders = new Map<string, string>();
function senderOf(s: string): string {
  let t = senders.get(s);
  if (t === undefined) {
    if (senders.size > 10_000) senders.clear(); // a bound, not a cache policy
    t = (' ' + s).slice(1);
    senders.set(t, t);
  }
  return t;
}

const before = (a: TimelineEntry, b: TimelineEntry) =>
  a.day < b.day || (a.day === b.day && (a.fileId < b.fileId || (a.fileId === b.fileId && a.line < b.line)));

/** A vehicle's timeline in the batch, under the VIN string the batch looked it up by. */
interface Timeline {
  vin: string;
  entries: TimelineEntry[];
}

/**
 * The readings to insert: their COPY rows in bytes (a supersede changes the status byte in place), and per reading,
 * by its index, what the batch's later records ask of it. No object per reading, nor a string the reading's
 * record would keep alive (copy.ts, CopyBuffer, says why).
 */
class NewReadings {
  readonly rows = new CopyBuffer();
  /** Index by line (one file a batch). */
  readonly byLine = new Map<number, number>();
  file = -1;
  readonly statusAt: number[] = [];
  readonly status: number[] = [];
  readonly vin: string[] = [];
  readonly digits: (number | null)[] = [];
}

/** The ASCII digit of a status in a COPY row. */
const digitOf = (status: number) => 48 + status;

export class MemoryBatch {
  readonly view: BatchView;
  readonly readings = new NewReadings();
  readonly issues: PendingIssue[] = [];
  /** Stored readings superseded, as [file, line]. */
  readonly superseded: [number, number][] = [];
  readonly issueChanges = new Map<number, IssueChange>();
  private readonly timelines = new Map<string, Timeline>();
  private readonly anomalies = new Map<string, VehicleAnomaly[]>();
  private readonly vehicles = new Map<string, Vehicle>();
  private readonly plates = new Map<string, Vehicle>();
  private readonly targets = new Map<number, CorrectionTargetIssue>();
  /** This batch's issues by (file, line, code, field): the first keeps its place; negative ids stand for them. */
  private readonly newIssueKeys = new Set<string>();

  constructor(f: Fetched, vins: readonly string[], plateVehicles: readonly Vehicle[]) {
    for (const vin of vins) this.timelines.set(vin, { vin, entries: [] });
    this.takeReadings(f.readings);
    for (const [vin, id, code, state, fileId, line, digits] of f.anomalies) {
      let list = this.anomalies.get(vin);
      if (!list) this.anomalies.set(vin, (list = []));
      list.push({ id, code: code as VehicleAnomaly['code'], state, fileId, line, digits });
    }
    for (const v of f.vehicles) this.vehicles.set(v.vin, v);
    for (const v of plateVehicles) {
      this.plates.set(v.plate!, v);
      this.vehicles.set(v.vin, v);
    }
    for (const t of f.targets) this.targets.set(t.issue.id, t);
    const registerInUse = f.registerInUse;
    this.view = {
      registerInUse,
      vehicleByVin: (vin) => (registerInUse ? (this.vehicles.get(vin) ?? null) : null),
      vehicleByPlate: (plate) => (registerInUse ? (this.plates.get(plate) ?? null) : null),
      timeline: (vin) => [...this.timelineOf(vin)],
      correctionTarget: (id) => this.targets.get(id) ?? null,
      anomalies: (vin) => (this.anomalies.get(vin) ?? []).map((a) => ({ ...a })),
    };
  }

  /**
   * takeReadings builds the timelines from the fetched text (batch-fetch.ts), each in (day, file, line) order. It
   * walks the text by tab and line end, numbers parsed in place: splitting each line made nine strings and an array
   * a reading, and their collection took a large share of the job thread.
   */
  private takeReadings(text: string): void {
    let unsorted = false;
    let at = 0;
    const field = () => {
      const start = at;
      at = text.indexOf('\t', at) + 1;
      return text.slice(start, at - 1);
    };
    const int = () => {
      let n = 0;
      let negative = false;
      if (text.charCodeAt(at) === 45) [negative, at] = [true, at + 1];
      for (let ch = text.charCodeAt(at); ch >= 48 && ch <= 57; ch = text.charCodeAt(++at)) n = n * 10 + ch - 48;
      at++; // the tab or line end after it
      return negative ? -n : n;
    };
    while (at < text.length) {
      const t = this.timelines.get(field())!.entries;
      const [day, fileId, line, odometer, unitCode, startsSeries] = [int(), int(), int(), int(), int(), int()];
      let end = text.indexOf('\n', at);
      if (end < 0) end = text.length;
      // The sender is copied out: a slice would keep the whole fetched text alive for as long as the entry.
      const sender = senderOf(text.slice(at, end));
      at = end + 1;
      const unit = unitCode === 1 ? 'mi' : 'km';
      const e: TimelineEntry = { day, odometer, unit, km: kmOf(odometer, unit), startsSeries: startsSeries === 1, sender, fileId, line };
      if (t.length > 0 && !before(t[t.length - 1], e)) unsorted = true;
      t.push(e);
    }
    if (unsorted) for (const t of this.timelines.values()) t.entries.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  /**
   * checked: the batch's checks are done. What they read is dropped here rather than held through the round trips
   * that store the writes: there it would outlive young-generation collections for nothing.
   */
  checked(): void {
    for (const m of [this.timelines, this.anomalies, this.vehicles, this.plates, this.targets, this.newIssueKeys]) m.clear();
  }

  private timelineOf(vin: string): TimelineEntry[] {
    const t = this.timelines.get(vin);
    if (!t) throw new Error(`the batch reads vehicle ${vin}, which its lookups did not name`);
    return t.entries;
  }

  addReading(fileId: number, sender: string, r: NewReading): void {
    const x = r.reading;
    const day = dayOf(x.date);
    let t = this.timelines.get(r.vin);
    if (!t) this.timelines.set(r.vin, (t = { vin: r.vin, entries: [] }));
    const n = this.readings;
    const status = STATUSES.indexOf(r.status);
    const head = `${fileId}\t${r.line}\t${copyText(r.vin)}\t${day}\t${x.odometer}\t${x.unit === 'mi' ? 1 : 0}\t${WORK_TYPES.indexOf(x.work)}\t${x.replaced}\t${copyText(x.digits)}\t`;
    n.rows.write(head);
    n.statusAt.push(n.rows.length);
    n.rows.write(`${status}\t${copyText(sender)}\t${copyText(x.ref)}\t${copyText(r.plate)}\t${copyText(r.corrects)}\n`);
    n.status.push(status);
    n.vin.push(t.vin);
    n.digits.push(x.digits);
    n.file = fileId;
    n.byLine.set(r.line, n.status.length - 1);
    const e: TimelineEntry = {
      day,
      odometer: x.odometer,
      unit: x.unit,
      km: x.km,
      startsSeries: x.replaced || x.work === 'ODOREP',
      sender,
      fileId,
      line: r.line,
    };
    const entries = t.entries;
    let i = entries.length;
    while (i > 0 && !before(entries[i - 1], e)) i--;
    entries.splice(i, 0, e);
  }

  /** addIssue keeps the first of the same (line, code, field); an anomaly of a reading of this batch joins its vehicle's list. */
  addIssue(fileId: number, i: NewIssue): void {
    const key = `${fileId}:${i.line}:${i.code}:${i.field}`;
    if (this.newIssueKeys.has(key)) return;
    this.newIssueKeys.add(key);
    const p: PendingIssue = { fileId, i, correctedBy: null, state: i.severity === 'A' ? 'open' : null, stateBy: null };
    this.issues.push(p);
    const k = this.newReading(fileId, i.line);
    const n = this.readings;
    if (i.severity === 'A' && k !== undefined && n.status[k] !== STATUS_SUPERSEDED) {
      const vin = n.vin[k];
      let list = this.anomalies.get(vin);
      if (!list) this.anomalies.set(vin, (list = []));
      list.push({ id: -this.issues.length, code: i.code, state: 'open', fileId, line: i.line, digits: n.digits[k] });
    }
  }

  markCorrected(issueId: number, bySeq: number): void {
    if (issueId < 0) {
      const p = this.issues[-issueId - 1];
      p.correctedBy ??= bySeq;
      return;
    }
    const c = this.changeOf(issueId);
    c.correctedBy ??= bySeq;
    const t = this.targets.get(issueId);
    if (t) t.issue = { ...t.issue, corrected: true };
  }

  setAnomalyState(issueId: number, state: AnomalyState, bySeq: number): void {
    for (const list of this.anomalies.values()) for (const a of list) if (a.id === issueId) a.state = state;
    if (issueId < 0) {
      const p = this.issues[-issueId - 1];
      if (p.i.severity === 'A') [p.state, p.stateBy] = [state, bySeq];
      return;
    }
    const t = this.targets.get(issueId);
    if (t && t.issue.severity !== 'A') return;
    const c = this.changeOf(issueId);
    [c.state, c.stateBy] = [state, bySeq];
    if (t) t.issue = { ...t.issue, state };
  }

  supersede(vin: string, fileId: number, line: number): void {
    const mine = this.newReading(fileId, line);
    if (mine !== undefined) {
      this.readings.status[mine] = STATUS_SUPERSEDED;
      this.readings.rows.setByte(this.readings.statusAt[mine], digitOf(STATUS_SUPERSEDED));
    } else this.superseded.push([fileId, line]);
    const t = this.timelines.get(vin)?.entries;
    const i = t ? t.findIndex((e) => e.fileId === fileId && e.line === line) : -1;
    if (i >= 0) t!.splice(i, 1);
    const list = this.anomalies.get(vin);
    if (list)
      this.anomalies.set(
        vin,
        list.filter((a) => !(a.fileId === fileId && a.line === line)),
      );
  }

  /** newReading: the index of this batch's reading at (file, line), if it has one. */
  private newReading(fileId: number, line: number): number | undefined {
    return fileId === this.readings.file ? this.readings.byLine.get(line) : undefined;
  }

  private changeOf(id: number): IssueChange {
    let c = this.issueChanges.get(id);
    if (!c) this.issueChanges.set(id, (c = { correctedBy: null, state: null, stateBy: null }));
    return c;
  }
}
