/**
 * The checks that read the registry, and the store, for one record: run inside the batch's write transaction, so
 * the vehicle's history a record is checked against is the one it is stored into (two workers storing readings
 * of one vehicle at once give the result of one after the other).
 *
 * In order: plate → VIN through the register (E13), first registration (E18), the correction it names (E30–E32),
 * repeats (E21, W51), late reporting (W50), then the history rules (A40–A42, W52, W53).
 */
import type { Store, StoredIssue, Vehicle, TimelineRow } from '../store';
import { seqOf, fileOfSeq, lineOfSeq, kmOf, STATUS_SUPERSEDED } from '../store';
import { dayOf } from '../model/day-number';
import { WORK_TYPES } from '../model/reading';
import type { RecordFields } from '../model/file-items';
import type { PendingRecord } from './read-records';
import { issueDef, isCorrectable, type Finding } from '../model/issue-catalogue';
import { repeatFinding } from '../rules/repeat-checks';
import { correctionSeq, correctionFinding } from '../rules/corrections';
import { historyFindings, type HistoryOptions, type TimelineReading } from '../rules/history';
import type { SameValueReading } from '../rules/repeat-checks';
import { isLate } from '../rules/working-days';

export interface RecordContext {
  store: Store;
  filePk: number;
  /** The establishment in the file's header. */
  sender: string;
  /** The same, as stored (an integer). */
  senderNumber: number;
  /** The Brussels date the file was received (W50). */
  receivedDate: string;
  /** False when the vehicle register is empty: no look-up can find anything (checked per batch). */
  registerInUse: boolean;
  /** Whether a work date is late, by date: a file holds few distinct dates and this runs per record. */
  lateByDate: Map<string, boolean>;
  history: HistoryOptions;
}

const isError = (f: Finding) => issueDef(f.code).severity === 'E';

/** checkAndStore runs the registry checks for one record, stores its reading when it passes and its issues. */
export function checkAndStore(ctx: RecordContext, rec: PendingRecord): void {
  const { store, filePk, sender } = ctx;
  const findings = rec.findings; // the batch's own array: added to in place
  const r = rec.reading;

  let vin = r?.vin ?? null;
  let vehicle: Vehicle | null = null;
  if (r) {
    if (!vin && r.plate) {
      vehicle = ctx.registerInUse ? store.vehicles.byPlate(r.plate) : null;
      vin = vehicle?.vin ?? null;
      if (!vin) findings.push({ code: 'E13', field: 'plate', message: `No VIN given and the plate ${r.plate} is not in the vehicle register.` });
    } else if (vin && ctx.registerInUse) {
      vehicle = store.vehicles.byVin(vin);
    }
    if (vehicle?.firstRegistration && r.date < vehicle.firstRegistration) {
      findings.push({ code: 'E18', field: 'date', message: `The date ${r.date} is before the vehicle's first registration on ${vehicle.firstRegistration}.` });
    }
  }

  // A record that names an error number is a correction: whatever is wrong with it can no longer be corrected
  // electronically, and if the number is one it may correct, this attempt uses its one correction.
  const corrects = r?.corrects ?? correctsField(rec.fields);
  let target: StoredIssue | null = null;
  if (corrects) {
    const c = correctionSeq(corrects);
    if ('finding' in c) findings.push(c.finding);
    else {
      const t = store.issues.withSender(c.seq);
      const refused = correctionFinding(corrects, t && { ...t.issue, sender: t.sender }, sender);
      if (refused) findings.push(refused);
      else target = t!.issue;
    }
  }

  const day = r ? dayOf(r.date) : 0;
  let timeline = r && vin ? activeTimeline(store.readings.timelineRows(vin)) : null;
  if (r && timeline) {
    const repeat = repeatFinding({ day, odometer: r.odometer, unit: r.unit }, timeline, filePk, rec.line, ctx.senderNumber);
    if (repeat) findings.push(repeat);
  }

  const seq = seqOf(filePk, rec.line);
  if (target) store.issues.markCorrected(target.id, seq);
  const storable = r && vin && timeline && !findings.some(isError) && !findings.some((f) => f.code === 'W51');
  if (storable) {
    if (target && target.severity === 'A') {
      // The flagged reading is replaced by this one and the history is checked again without it.
      if (target.vin) store.readings.supersede(target.vin, target.filePk, target.line);
      timeline = timeline!.filter((t) => t.seq !== seqOf(target!.filePk, target!.line));
    }
    let late = ctx.lateByDate.get(r!.date);
    if (late === undefined) ctx.lateByDate.set(r!.date, (late = isLate(r!.date, ctx.receivedDate)));
    if (late) {
      findings.push({ code: 'W50', field: 'date', message: `Reported late: received on ${ctx.receivedDate}, more than 5 working days after ${r!.date}.` });
    }
    const startsSeries = r!.replaced || r!.work === 'ODOREP';
    findings.push(
      ...historyFindings({ day, seq, odometer: r!.odometer, unit: r!.unit, km: r!.km, startsSeries }, timeline!, {
        ...ctx.history,
        fiveDigits: r!.digits === 5 || vehicle?.digits === 5,
      }),
    );
    const flagged = findings.some((f) => issueDef(f.code).severity === 'A');
    store.readings.insert({
      vin: vin!, day, seq, odometer: r!.odometer, unit: r!.unit, work: r!.work, replaced: r!.replaced, digits: r!.digits,
      status: flagged ? 'flagged' : target ? 'corrected' : 'ok', sender, ref: r!.ref, plate: r!.plate ?? vehicle?.plate ?? null,
      corrects: target?.id ?? null,
    });
  }

  const ref = r?.ref ?? (rec.fields?.ref || null);
  const shownVin = vin ?? (rec.fields?.vin ? rec.fields.vin.toUpperCase() : null);
  for (const f of findings) {
    store.issues.insert({
      filePk, line: rec.line, code: f.code, severity: issueDef(f.code).severity, field: f.field, message: f.message,
      ref, vin: shownVin, correctable: isCorrectable(f.code) && !corrects,
    });
  }
}

function correctsField(fields: RecordFields | null): string | null {
  const v = fields?.corrects.trim() ?? '';
  return /^\d+$/.test(v) ? v : null;
}

const ODOREP = WORK_TYPES.indexOf('ODOREP');

/** activeTimeline turns a vehicle's stored rows into what the rules read, leaving superseded readings out. */
function activeTimeline(rows: TimelineRow[]): (TimelineReading & SameValueReading)[] {
  const out: (TimelineReading & SameValueReading)[] = [];
  for (const [day, seq, odometer, unitCode, work, replaced, sender, status] of rows) {
    if (status === STATUS_SUPERSEDED) continue;
    const unit = unitCode === 1 ? 'mi' : 'km';
    out.push({
      day, seq, odometer, unit, km: kmOf(odometer, unit), startsSeries: replaced === 1 || work === ODOREP,
      sender, fileId: fileOfSeq(seq), line: lineOfSeq(seq),
    });
  }
  return out;
}
