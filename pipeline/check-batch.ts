/**
 * The checks that read the registry, for a batch of records, and what they store: run by the store as one change
 * (Store.storeBatch), so the vehicle's history a record is checked against is the one it is stored into (two files
 * reporting one vehicle at once give the result of one after the other).
 *
 * Per record, in order: plate → VIN through the register (E13), first registration (E18), the correction it names
 * (E30–E32), repeats (E21, W51), late reporting (W50), then the history rules (A40–A42, W52, W53). The rules and
 * their wording are in rules/; this file only feeds them and stores what they decide.
 */
import type { BatchRequest, BatchView, BatchWriter, CorrectionTargetIssue, Store, TimelineEntry, Vehicle } from '../store';
import { dayOf } from '../model/day-number';
import type { CheckedRecord, Reading } from '../model/reading';
import { issueDef, isCorrectable, type Finding } from '../model/issue-catalogue';
import { repeatFinding } from '../rules/repeat-checks';
import { correctionFinding, correctionNumberOf, correctionSeq } from '../rules/corrections';
import { correctingFate, correctionEffect, type CorrectionEffect } from '../rules/correction-outcome';
import { historyFindings, type HistoryOptions } from '../rules/history';
import { beforeFirstRegistration, plateNotInRegister } from '../rules/register-checks';
import { lateFinding } from '../rules/working-days';
import { packedVins, unpackBatch, type RecordBatch } from './batcher';
import { findFlagged, replaceFlagged, type FlaggedPlace } from './replace-reading';

/** What the checks of one file's records need besides the registry. */
export interface FileContext {
  filePk: number;
  /** The establishment in the file's header. */
  sender: string;
  /** Records sent by another establishment than `sender`, by line (a round of observations from several DMS). */
  sendersByLine?: ReadonlyMap<number, string>;
  /** The Brussels date the file was received (W50). */
  receivedDate: string;
  history: HistoryOptions;
  /** W50 by work date: a file holds few distinct dates and this runs per record. */
  lateByDate: Map<string, Finding | null>;
}

const isError = (f: Finding) => issueDef(f.code).severity === 'E';

/** senderOf: the establishment that sent the record at `line`. */
const senderOf = (ctx: FileContext, line: number): string => ctx.sendersByLine?.get(line) ?? ctx.sender;

/**
 * storeRecords checks and stores one or more consecutive batches as one change. Readings are checked in VIN order
 * (one vehicle's records keep their file order): the store's B-tree is then walked in key order instead of at
 * random, which is what makes a 1,000,000-record file fast. Results do not change: every rule reads one vehicle's
 * history only. A plate-only reading takes its place in that order once the register has given its VIN. A batch
 * with a correction is taken in file order instead (a correction may touch another vehicle); the reader keeps such
 * batches apart from the packed readings (Batcher.add). Nothing is stored when they are blocked (Store.storeBatch).
 */
export async function storeRecords(
  store: Store,
  ctx: FileContext,
  batches: readonly RecordBatch[],
  order: ChangeOrder = {},
): Promise<{ blockedBy: number[] }> {
  const req: BatchRequest = {
    filePk: ctx.filePk,
    sender: ctx.sender,
    lastLine: batches[batches.length - 1].lastLine,
    lookups: () => lookupsOf(batches),
    after: order.after,
  };
  // Consecutive batches in one change: the fewer commits, the fewer times the pages they share are written. Each
  // is checked as it would be alone, one after the other, so the result does not depend on how they are grouped.
  return store.storeBatch(req, (view, write) => {
    for (const batch of batches) {
      const inFileOrder = batch.others.some((r) => !!r.reading?.corrects);
      const checker = new BatchChecker(ctx, view, write, inFileOrder);
      const vinOfPlate = (plate: string) => view.vehicleByPlate(plate)?.vin ?? null;
      for (const rec of recordsOf(batch, inFileOrder, vinOfPlate)) checker.check(rec);
    }
    order.onChecked?.();
  });
}

/** Where a change stands among its file's changes (BatchRequest.after), and who wants to know its checks ran. */
export interface ChangeOrder {
  after?: Promise<void>;
  /** Called once the checks ran and the change is about to be written. */
  onChecked?: () => void;
}

/**
 * recordsOf: a batch's records in the order they are checked (see storeRecords). The checks add to a record's
 * findings: the batch's own records get fresh arrays each time (a blocked batch is checked again), as unpacked
 * readings do. Only the batch's objects are ever held: the packed readings are unpacked one at a time.
 */
function recordsOf(batch: RecordBatch, inFileOrder: boolean, vinOfPlate: (plate: string) => string | null): Iterable<CheckedRecord> {
  const others = batch.others.map((r) => ({ ...r, findings: [...r.findings] }));
  if (inFileOrder) return [...unpackBatch(batch), ...others].sort((a, b) => a.line - b.line);
  const withVin: { vin: string; rec: CheckedRecord }[] = [];
  const rest: CheckedRecord[] = [];
  for (const rec of others) {
    const vin = rec.reading ? (rec.reading.vin ?? (rec.reading.plate ? vinOfPlate(rec.reading.plate) : null)) : null;
    if (vin) withVin.push({ vin, rec });
    else rest.push(rec);
  }
  withVin.sort((a, b) => (a.vin < b.vin ? -1 : a.vin > b.vin ? 1 : a.rec.line - b.rec.line));
  return concat(withVin.length > 0 ? inVinOrder(unpackBatch(batch), withVin) : unpackBatch(batch), rest);
}

/** inVinOrder merges the packed readings (sorted by VIN, then line) with other readings sorted the same way. */
function* inVinOrder(packed: Iterable<CheckedRecord>, withVin: { vin: string; rec: CheckedRecord }[]): Generator<CheckedRecord> {
  let i = 0;
  for (const p of packed) {
    const vin = p.reading!.vin!;
    for (; i < withVin.length; i++) {
      const o = withVin[i];
      if (o.vin > vin || (o.vin === vin && o.rec.line > p.line)) break;
      yield o.rec;
    }
    yield p;
  }
  for (; i < withVin.length; i++) yield withVin[i].rec;
}

function* concat<T>(a: Iterable<T>, b: Iterable<T>): Iterable<T> {
  yield* a;
  yield* b;
}

/** lookupsOf: what the batches look up. A packed reading has a VIN and no correction: only its VIN is decoded. */
function lookupsOf(batches: readonly RecordBatch[]): { vins: string[]; plates: string[]; issueIds: number[] } {
  const vins = new Set<string>();
  const plates = new Set<string>();
  const issueIds = new Set<number>();
  for (const b of batches) for (const vin of packedVins(b)) vins.add(vin);
  for (const rec of batches.flatMap((b) => b.others)) {
    if (rec.reading?.vin) vins.add(rec.reading.vin);
    else if (rec.reading?.plate) plates.add(rec.reading.plate);
    const number = correctionNumberOf(rec.reading?.corrects, rec.fields?.corrects);
    const c = number ? correctionSeq(number) : null;
    if (c && 'seq' in c) issueIds.add(c.seq);
  }
  return { vins: [...vins], plates: [...plates], issueIds: [...issueIds] };
}

/**
 * BatchChecker checks a batch's records one after the other. Each vehicle's timeline is read from the store when
 * its first record comes and then kept up to date here with what the batch stores. In VIN order only the current
 * vehicle's is kept (its records are neighbours); in file order, every one the batch read.
 *
 * Nothing here is allocated per record that outlives the record: a Map cleared per vehicle, or an options object
 * spread per record, kept each record's objects alive from one young-generation GC to the next until a full GC
 * (measured: 4x the promoted bytes, and a quarter more CPU on the job thread, on a 1,000,000-record file).
 */
class BatchChecker {
  /** File order: every timeline the batch read, by VIN. */
  private readonly timelines = new Map<string, TimelineEntry[]>();
  /** VIN order: the current vehicle and its timeline. */
  private currentVin: string | null = null;
  private current: TimelineEntry[] = [];
  private readonly historyOpts: HistoryOptions & { fiveDigits: boolean };
  private readonly fiveDigitOpts: HistoryOptions & { fiveDigits: boolean };

  constructor(
    private readonly ctx: FileContext,
    private readonly view: BatchView,
    private readonly write: BatchWriter,
    private readonly keepAll: boolean,
  ) {
    this.historyOpts = { ...ctx.history, fiveDigits: false };
    this.fiveDigitOpts = { ...ctx.history, fiveDigits: true };
  }

  private timelineOf(vin: string): TimelineEntry[] {
    if (!this.keepAll) {
      if (vin !== this.currentVin) {
        this.current = this.view.timeline(vin);
        this.currentVin = vin;
      }
      return this.current;
    }
    let t = this.timelines.get(vin);
    if (!t) {
      t = this.view.timeline(vin);
      this.timelines.set(vin, t);
    }
    return t;
  }

  check(rec: CheckedRecord): void {
    const { ctx } = this;
    const findings = rec.findings; // the record's own array (recordsOf): added to in place
    const r = rec.reading;
    const { vin, vehicle } = r ? this.vehicleOf(r.vin, r.plate, findings) : { vin: null, vehicle: null };
    if (r) {
      const e18 = beforeFirstRegistration(r.date, vehicle?.firstRegistration);
      if (e18) findings.push(e18);
    }
    // A record that names an error number is a correction: whatever is wrong with it can no longer be corrected
    // electronically, and if the number is one it may correct, this attempt uses its one correction.
    const corrects = correctionNumberOf(r?.corrects, rec.fields?.corrects);
    const target = corrects ? this.correctionTarget(corrects, rec.line, findings) : null;

    const day = r ? dayOf(r.date) : 0;
    const timeline = r && vin ? this.timelineOf(vin) : null;
    if (r && timeline) {
      const repeat = repeatFinding({ day, odometer: r.odometer, unit: r.unit }, timeline, ctx.filePk, rec.line, senderOf(ctx, rec.line));
      if (repeat) findings.push(repeat);
    }
    const storable = r && vin && timeline && !findings.some(isError) && !findings.some((f) => f.code === 'W51');
    const record = target && r && vin ? { vin, day, odometer: r.odometer, unit: r.unit } : null;
    const effect = target ? this.correct(target, !!storable, findings.some(isError), record, rec.line) : null;
    if (storable) this.store(rec.line, r, vin, day, vehicle, findings, target, effect);

    const ref = r?.ref ?? (rec.fields?.ref || null);
    const shownVin = vin ?? (rec.fields?.vin ? rec.fields.vin.toUpperCase() : null);
    for (const f of findings) {
      this.write.addIssue({
        line: rec.line,
        startLine: rec.startLine ?? null,
        code: f.code,
        severity: issueDef(f.code).severity,
        field: f.field,
        message: f.message,
        ref,
        vin: shownVin,
        correctable: isCorrectable(f.code) && !corrects,
      });
    }
  }

  /**
   * store stores a reading that passed the checks: a correction first replaces the flagged reading (when the rule
   * says so); then the reading is checked against its neighbours (W50 too) and added to the timeline.
   */
  private store(
    line: number,
    r: Reading,
    vin: string,
    day: number,
    vehicle: Vehicle | null,
    findings: Finding[],
    target: CorrectionTargetIssue | null,
    effect: CorrectionEffect | null,
  ): void {
    const { ctx } = this;
    const place = target && flaggedPlaceOf(target);
    if (place && effect?.supersedes && effect.state)
      replaceFlagged(this.view, this.write, this.timelineOf(place.vin), place, line, { history: ctx.history, state: effect.state });
    const late = this.late(r.date);
    if (late) findings.push(late);
    const entry: TimelineEntry = {
      day,
      fileId: ctx.filePk,
      line,
      odometer: r.odometer,
      unit: r.unit,
      km: r.km,
      startsSeries: r.replaced || r.work === 'ODOREP',
      sender: senderOf(ctx, line),
    };
    const active = this.timelineOf(vin); // a replacement above may have changed it
    const fiveDigits = r.digits === 5 || vehicle?.digits === 5;
    findings.push(...historyFindings(entry, active, fiveDigits ? this.fiveDigitOpts : this.historyOpts));
    const flagged = findings.some((f) => issueDef(f.code).severity === 'A');
    this.write.addReading(
      {
        line,
        reading: r,
        vin,
        plate: r.plate ?? vehicle?.plate ?? null,
        status: flagged ? 'flagged' : target ? 'corrected' : 'ok',
        corrects: target?.issue.id ?? null,
      },
      entry.sender,
    );
    insertInOrder(active, entry);
  }

  /** vehicleOf: the VIN (from the register for a plate-only reading: E13 when unknown) and the register entry. */
  private vehicleOf(vin: string | null, plate: string | null, findings: Finding[]): { vin: string | null; vehicle: Vehicle | null } {
    if (!vin && plate) {
      const vehicle = this.view.vehicleByPlate(plate);
      if (!vehicle) findings.push(plateNotInRegister(plate));
      return { vin: vehicle?.vin ?? null, vehicle };
    }
    return { vin, vehicle: vin ? this.view.vehicleByVin(vin) : null };
  }

  /** correctionTarget: the issue the number names when this sender may correct it, else null (and why, in findings). */
  private correctionTarget(number: string, line: number, findings: Finding[]): CorrectionTargetIssue | null {
    const c = correctionSeq(number);
    if ('finding' in c) {
      findings.push(c.finding);
      return null;
    }
    const t = this.view.correctionTarget(c.seq);
    const refused = correctionFinding(number, t && { ...t.issue, sender: t.sender }, senderOf(this.ctx, line));
    if (refused) findings.push(refused);
    return refused ? null : t;
  }

  /**
   * correct records what a correcting record did to the issue it names (rules/correction-outcome.ts): the number
   * spent, the anomaly's state. Replacing the flagged reading is left to the caller, before it checks the new one.
   */
  private correct(
    target: CorrectionTargetIssue,
    stored: boolean,
    rejected: boolean,
    record: { vin: string; day: number; odometer: number; unit: 'km' | 'mi' } | null,
    line: number,
  ): CorrectionEffect {
    const place = flaggedPlaceOf(target);
    const entry = place ? findFlagged(this.timelineOf(place.vin), place) : null;
    const flagged = place && entry ? { vin: place.vin, day: entry.day, odometer: entry.odometer, unit: entry.unit } : null;
    const effect = correctionEffect(target.issue.severity, correctingFate({ stored, rejected, record, flagged }));
    if (effect.spends) this.write.markCorrected(target.issue.id, line);
    if (effect.state) this.write.setAnomalyState(target.issue.id, effect.state, line);
    return effect;
  }

  private late(date: string): Finding | null {
    let late = this.ctx.lateByDate.get(date);
    if (late === undefined) this.ctx.lateByDate.set(date, (late = lateFinding(date, this.ctx.receivedDate)));
    return late;
  }
}

/** flaggedPlaceOf: where the reading an anomaly was raised on is; null for an E issue (its record was not stored). */
function flaggedPlaceOf(t: CorrectionTargetIssue): FlaggedPlace | null {
  return t.issue.severity === 'A' && t.issue.vin ? { vin: t.issue.vin, fileId: t.issue.filePk, line: t.issue.line } : null;
}

/** insertInOrder adds a stored reading to a timeline kept in (date, reception) order. */
function insertInOrder(timeline: TimelineEntry[], e: TimelineEntry): void {
  let i = timeline.length;
  while (i > 0) {
    const p = timeline[i - 1];
    if (p.day < e.day || (p.day === e.day && (p.fileId < e.fileId || (p.fileId === e.fileId && p.line < e.line)))) break;
    i--;
  }
  timeline.splice(i, 0, e);
}
