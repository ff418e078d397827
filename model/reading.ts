/** A reading that passed the record checks: the values the history rules and the store work with. */

/** The work types of a reading (docs/formats.md). */
export type WorkType = 'MAINT' | 'REPAIR' | 'BODY' | 'TYRES' | 'PARTS' | 'INSPECT' | 'ODOREP' | 'OTHER';

/** Every WorkType, in the order of the spec. */
export const WORK_TYPES: readonly WorkType[] = ['MAINT', 'REPAIR', 'BODY', 'TYRES', 'PARTS', 'INSPECT', 'ODOREP', 'OTHER'];

/** Kilometres in one international mile. */
export const KM_PER_MILE = 1.609344;

/** One checked reading. */
export interface Reading {
  ref: string | null;
  /** Upper-cased; null when only a plate was given (the register lookup fills it in later). */
  vin: string | null;
  /** Normalised: upper-case, no spaces or dashes; null when none was given. */
  plate: string | null;
  /** YYYY-MM-DD. */
  date: string;
  /** As shown on the dashboard, in `unit`. */
  odometer: number;
  unit: 'km' | 'mi';
  /** The odometer value in km (miles × 1.609344, rounded), for comparisons. */
  km: number;
  work: WorkType;
  replaced: boolean;
  digits: 5 | null;
  /** The error number this record corrects, or null. */
  corrects: string | null;
}
