/** The OK label decision for a used-car ad (docs/label.md): the store's view of the vehicle, run through the rules. */
import type { Store } from '../store';
import { formatErrorNumber } from '../rules/error-number';
import { COUNTING_STATES } from '../rules/correction-outcome';
import { ageOf, labelReasons, type LabelFacts, type LabelReason, type LabelReading } from '../rules/label-rules';

/** The JSON of `inflow label --json` (docs/label.md); more fields may be added. */
export interface LabelDecision {
  vin: string;
  /** Advertised mileage, km. */
  mileage: number;
  /** Date of the ad. */
  date: string;
  issued: boolean;
  reasons: LabelReason[];
  /** How many readings the decision considered (non-superseded, dated on or before the ad date). */
  readings: number;
  lastReading: LabelReading | null;
  firstRegistration: string | null;
  /** Completed months from `ageFrom`'s date to the ad date; null when neither is known. */
  ageMonths: number | null;
  ageFrom: 'first registration' | 'first reading' | null;
  inRegister: boolean;
}

/** labelFacts reads what the rules need about a VIN as of the ad date. */
export async function labelFacts(store: Store, vin: string, mileage: number, date: string): Promise<LabelFacts> {
  const v = await store.vehicles.byVin(vin);
  return {
    mileage,
    date,
    register: v && { firstRegistration: v.firstRegistration, imported: v.imported, digits: v.digits },
    readings: await store.reports.labelReadings(vin, date),
    anomalies: (await store.reports.openAnomalies(vin, date, COUNTING_STATES)).map((a) => ({
      code: a.code,
      errorNumber: formatErrorNumber(a.id),
      date: a.date,
      odometer: a.odometer,
      unit: a.unit,
    })),
  };
}

/** decideLabel decides whether the OK label is issued for `vin` advertised at `mileage` km on `date`. */
export async function decideLabel(store: Store, vin: string, mileage: number, date: string): Promise<LabelDecision> {
  const facts = await labelFacts(store, vin, mileage, date);
  const reasons = labelReasons(facts);
  const age = ageOf(facts);
  return {
    vin,
    mileage,
    date,
    issued: reasons.length === 0,
    reasons,
    readings: facts.readings.length,
    lastReading: facts.readings[facts.readings.length - 1] ?? null,
    firstRegistration: facts.register?.firstRegistration ?? null,
    ageMonths: age?.months ?? null,
    ageFrom: age?.source ?? null,
    inRegister: facts.register !== null,
  };
}
