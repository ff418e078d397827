/**
 * The correction form (`inflow corrections apply`, docs/corrections.md): the registry replaces the reading an
 * anomaly was raised on by hand, with the effect of a stored correcting record (rules/correction-outcome.ts): the
 * flagged reading is superseded, the new one is checked against its neighbours (what it raises is not correctable
 * electronically), anomalies only the replaced reading caused are withdrawn, and the anomaly becomes `manual`.
 * Allowed on a spent number; only for anomalies whose reading is still in the timeline (open or confirmed).
 */
import type { BatchView, ManualWriter, Store, StoredIssue, StoredReading } from '../store';
import type { HistoryOptions } from '../rules/history';
import type { AnomalyState } from '../model/anomaly-state';
import { dayOf } from '../model/day-number';
import { issueDef } from '../model/issue-catalogue';
import { kmOf, type Reading } from '../model/reading';
import { historyFindings } from '../rules/history';
import { correctionEffect } from '../rules/correction-outcome';
import { correctionSeq } from '../rules/corrections';
import { formatErrorNumber } from '../rules/error-number';
import { beforeFirstRegistration } from '../rules/register-checks';
import { findFlagged, replaceFlagged } from './replace-reading';
import { MANUAL_FILE_PK } from '../model/file-id';

export class ManualCorrectionRefused extends Error {
  readonly code = 'MANUAL_CORRECTION_REFUSED';
}

export interface ManualCorrectionInput {
  errorNumber: string;
  odometer: number;
  /** Default: the flagged reading's. */
  unit?: 'km' | 'mi';
  /** Default: the flagged reading's. */
  date?: string;
  reason: string;
  by: string;
  /** Today in Brussels: the new reading may not be dated after it. */
  today: string;
  history: HistoryOptions;
}

export interface ManualCorrectionResult {
  vin: string;
  code: string;
  replaced: { date: string; odometer: number; unit: 'km' | 'mi' };
  stored: { date: string; odometer: number; unit: 'km' | 'mi' };
  /** What the stored reading raised against its neighbours (not correctable electronically). */
  issues: { code: string; errorNumber: string | null; message: string }[];
  /** Error numbers of the anomalies withdrawn. */
  withdrawn: string[];
}

const REPLACEABLE: readonly AnomalyState[] = ['open', 'confirmed'];

/** applyManualCorrection applies the correction form to anomaly `errorNumber`; throws ManualCorrectionRefused. */
export async function applyManualCorrection(store: Store, input: ManualCorrectionInput): Promise<ManualCorrectionResult> {
  const { issue, old, reading } = await checkRequest(store, input);
  const withdrawn: number[] = [];
  const req = { issueId: issue.id, vin: old.vin, by: input.by, reason: input.reason, at: new Date().toISOString() };
  const { blockedBy, result } = await store.storeManualCorrection(req, (view, write, line) => {
    const target = view.correctionTarget(issue.id);
    if (!target?.issue.state) throw new ManualCorrectionRefused(`error number ${input.errorNumber} is unknown`);
    refuseState(input.errorNumber, target.issue.state);
    const recording: ManualWriter = {
      ...write,
      setAnomalyState: (id, state, l) => {
        if (state === 'withdrawn') withdrawn.push(id);
        write.setAnomalyState(id, state, l);
      },
    };
    storeReplacement(view, recording, { issue, old, reading, line, history: input.history });
    return line;
  });
  if (blockedBy.length > 0 || result === undefined)
    throw new ManualCorrectionRefused(`vehicle ${old.vin} has readings of a file still being processed: try again in a moment`);
  const raised = await store.issues.forRecord(MANUAL_FILE_PK, result);
  return {
    vin: old.vin,
    code: issue.code,
    replaced: { date: old.date, odometer: old.odometer, unit: old.unit },
    stored: { date: reading.date, odometer: reading.odometer, unit: reading.unit },
    issues: raised.map((i) => ({ code: i.code, errorNumber: i.severity === 'A' ? formatErrorNumber(i.id) : null, message: i.message })),
    withdrawn: withdrawn.map(formatErrorNumber),
  };
}

/** checkRequest: the anomaly, its reading and the corrected reading, or why the form refuses them. */
async function checkRequest(
  store: Store,
  input: ManualCorrectionInput,
): Promise<{ issue: StoredIssue; old: StoredReading; reading: Reading }> {
  const number = input.errorNumber;
  const parsed = correctionSeq(number);
  if ('finding' in parsed) throw new ManualCorrectionRefused(parsed.finding.message);
  const issue = await store.issues.get(parsed.seq);
  if (!issue) throw new ManualCorrectionRefused(`error number ${number} is unknown`);
  if (issue.severity !== 'A' || !issue.vin || !issue.state)
    throw new ManualCorrectionRefused(`error number ${number} is not an anomaly (${issue.code}): the correction form is for A issues only`);
  refuseState(number, issue.state);
  const old = (await store.readings.timeline(issue.vin)).find((r) => r.fileId === issue.filePk && r.line === issue.line);
  if (!old || old.status === 'superseded')
    throw new ManualCorrectionRefused(`the reading of error number ${number} is no longer in the history`);
  const reading = newReading(old, input);
  if (reading.date === old.date && reading.odometer === old.odometer && reading.unit === old.unit)
    throw new ManualCorrectionRefused(
      `the correction repeats the flagged reading (${old.date}, ${old.odometer} ${old.unit}): nothing to correct`,
    );
  if (reading.date > input.today)
    throw new ManualCorrectionRefused(`--date ${reading.date} is after today (${input.today}, Brussels time)`);
  const e18 =
    beforeFirstRegistration(reading.date, (await store.vehicles.byVin(issue.vin))?.firstRegistration) ??
    beforeFirstRegistration(reading.date, '1990-01-01');
  if (e18) throw new ManualCorrectionRefused(e18.message);
  return { issue, old, reading };
}

/**
 * storeReplacement does what a stored correcting record does (rules/correction-outcome.ts, manual): the anomaly
 * becomes `manual`, its reading is replaced, and the new reading is checked against its neighbours and stored with
 * what it raises (not correctable electronically). Inside the manual correction's change.
 */
function storeReplacement(
  view: BatchView,
  write: ManualWriter,
  o: { issue: StoredIssue; old: StoredReading; reading: Reading; line: number; history: HistoryOptions },
): void {
  const { issue, old, reading, line } = o;
  const timeline = view.timeline(old.vin);
  const place = { vin: old.vin, fileId: issue.filePk, line: issue.line };
  if (!findFlagged(timeline, place))
    throw new ManualCorrectionRefused(`the reading of error number ${formatErrorNumber(issue.id)} is no longer in the history`);
  const effect = correctionEffect('A', 'stored', true);
  write.setAnomalyState(issue.id, effect.state!, line);
  if (effect.supersedes) replaceFlagged(view, write, timeline, place, line, { history: o.history, state: effect.state! });
  const entry = {
    day: dayOf(reading.date),
    fileId: MANUAL_FILE_PK,
    line,
    odometer: reading.odometer,
    unit: reading.unit,
    km: reading.km,
    startsSeries: reading.replaced || reading.work === 'ODOREP',
    sender: old.sender,
  };
  const fiveDigits = reading.digits === 5 || view.vehicleByVin(old.vin)?.digits === 5;
  const findings = historyFindings(entry, timeline, { ...o.history, fiveDigits });
  const flagged = findings.some((f) => issueDef(f.code).severity === 'A');
  const status = flagged ? 'flagged' : 'corrected';
  write.addReading({ line, reading, vin: old.vin, plate: old.plate, status, corrects: issue.id }, old.sender);
  for (const f of findings) {
    const severity = issueDef(f.code).severity;
    write.addIssue({
      line,
      code: f.code,
      severity,
      field: f.field,
      message: f.message,
      ref: reading.ref,
      vin: old.vin,
      correctable: false,
    });
  }
}

function refuseState(number: string, state: AnomalyState): void {
  if (REPLACEABLE.includes(state)) return;
  const why =
    state === 'withdrawn'
      ? 'it was withdrawn (the reading that caused it was corrected)'
      : `its reading was already replaced (${state === 'manual' ? 'by the correction form' : 'by a correcting record'})`;
  throw new ManualCorrectionRefused(`error number ${number} cannot be corrected: ${why}`);
}

/** newReading: the flagged reading with the corrected values (work, ref, flags stay). */
function newReading(old: StoredReading, input: ManualCorrectionInput): Reading {
  const unit = input.unit ?? old.unit;
  return {
    ref: old.ref,
    vin: old.vin,
    plate: old.plate,
    date: input.date ?? old.date,
    odometer: input.odometer,
    unit,
    km: kmOf(input.odometer, unit),
    work: old.work,
    replaced: old.replaced,
    digits: old.digits === 5 ? 5 : null,
    corrects: input.errorNumber,
  };
}
