/**
 * The checks that read the registry, and the store, for one record: run inside the batch's write transaction, so
 * the vehicle's history a record is checked against is the one it is stored into (two workers storing readings
 * of one vehicle at once give the result of one after the other).
 *
 * In order: plate → VIN through the register (E13), first registration (E18), the correction it names (E30–E32),
 * repeats (E21, W51), late reporting (W50), then the history rules (A40–A42, W52, W53).
 */
import type { Store, StoredIssue, Vehicle } from '../store';
import { seqOf } from '../store';
import type { RecordFields } from '../parsers/types';
import type { Reading } from '../schemas/reading';
import { issueDef, isCorrectable, type Finding } from '../schemas/issue-catalogue';
import { repeatFinding } from '../schemas/repeat-checks';
import { correctionSeq, correctionFinding } from '../schemas/corrections';
import { historyFindings, type HistoryOptions } from '../schemas/history';
import { isLate } from '../schemas/working-days';

/** A record with its stateless check results, waiting for its batch. */
export interface PendingRecord {
  line: number;
  fields: RecordFields | null;
  reading: Reading | null;
  findings: Finding[];
}

export interface RecordContext {
  store: Store;
  filePk: number;
  /** The establishment in the file's header. */
  sender: string;
  /** The Brussels date the file was received (W50). */
  receivedDate: string;
  history: HistoryOptions;
}

const isError = (f: Finding) => issueDef(f.code).severity === 'E';

/** checkAndStore runs the registry checks for one record, stores its reading when it passes and its issues. */
export function checkAndStore(ctx: RecordContext, rec: PendingRecord): void {
  const { store, filePk, sender } = ctx;
  const findings = [...rec.findings];
  const r = rec.reading;

  let vin = r?.vin ?? null;
  let vehicle: Vehicle | null = null;
  if (r) {
    if (!vin && r.plate) {
      vehicle = store.vehicles.byPlate(r.plate);
      vin = vehicle?.vin ?? null;
      if (!vin) findings.push({ code: 'E13', field: 'plate', message: `No VIN given and the plate ${r.plate} is not in the vehicle register.` });
    } else if (vin) {
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

  let timeline = r && vin ? store.readings.activeTimeline(vin) : null;
  if (r && timeline) {
    const repeat = repeatFinding(r, timeline, filePk, rec.line, sender);
    if (repeat) findings.push(repeat);
  }

  const seq = seqOf(filePk, rec.line);
  if (target) store.issues.markCorrected(target.id, seq);
  const storable = r && vin && timeline && !findings.some(isError) && !findings.some((f) => f.code === 'W51');
  if (storable) {
    if (target && target.severity === 'A') {
      // The flagged reading is replaced by this one and the history is checked again without it.
      store.readings.setStatus(target.filePk, target.line, 'superseded');
      timeline = timeline!.filter((t) => !(t.fileId === target!.filePk && t.line === target!.line));
    }
    if (isLate(r!.date, ctx.receivedDate)) {
      findings.push({ code: 'W50', field: 'date', message: `Reported late: received on ${ctx.receivedDate}, more than 5 working days after ${r!.date}.` });
    }
    const startsSeries = r!.replaced || r!.work === 'ODOREP';
    findings.push(
      ...historyFindings({ date: r!.date, seq, odometer: r!.odometer, unit: r!.unit, km: r!.km, startsSeries }, timeline!.map(asTimeline), {
        ...ctx.history,
        fiveDigits: r!.digits === 5 || vehicle?.digits === 5,
      }),
    );
    const flagged = findings.some((f) => issueDef(f.code).severity === 'A');
    store.readings.insert({
      vin: vin!, date: r!.date, odometer: r!.odometer, unit: r!.unit, km: r!.km, work: r!.work, replaced: r!.replaced,
      digits: r!.digits, sender, fileId: filePk, line: rec.line, ref: r!.ref, plate: r!.plate ?? vehicle?.plate ?? null,
      status: flagged ? 'flagged' : target ? 'corrected' : 'ok', corrects: target?.id ?? null,
    });
  }

  const ref = rec.fields?.ref || null;
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

function asTimeline(t: { date: string; seq: number; odometer: number; unit: 'km' | 'mi'; km: number; replaced: boolean; work: string }) {
  return { date: t.date, seq: t.seq, odometer: t.odometer, unit: t.unit, km: t.km, startsSeries: t.replaced || t.work === 'ODOREP' };
}
