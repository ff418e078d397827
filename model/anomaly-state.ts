/**
 * Where an anomaly (an A issue) stands (docs/corrections.md). Which states count for the OK label and the provider
 * report is a rule (rules/corrections.ts); this is only the vocabulary.
 *
 * - open: raised, nothing replaced its reading (a rejected correction leaves it open);
 * - corrected: a correcting record was stored and replaced the flagged reading;
 * - confirmed: the correcting record repeated the flagged reading (same date, odometer, unit);
 * - withdrawn: raised only because of another reading, which a stored correction replaced;
 * - manual: the registry's correction form replaced the flagged reading.
 */
export type AnomalyState = 'open' | 'corrected' | 'confirmed' | 'withdrawn' | 'manual';

export const ANOMALY_STATES: readonly AnomalyState[] = ['open', 'corrected', 'confirmed', 'withdrawn', 'manual'];

export function isAnomalyState(s: string): s is AnomalyState {
  return (ANOMALY_STATES as readonly string[]).includes(s);
}
