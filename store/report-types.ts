/** The store's read-side reports (part of the Store interface, store/types.ts): the label, the provider report, the anomaly list. */
import type { AnomalyState } from '../model/anomaly-state';
import type { IssueCode } from '../model/issue-catalogue';
import type { LabelReading } from '../model/reading';

// ─── Read-side reports ──────────────────────────────────────────────────────────────────────────────────────

/** An A issue that counts (its state is one of those asked for), with the reading it was raised on. */
export interface OpenAnomalyRow {
  id: number;
  code: string;
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
}

/** One establishment's counts for a year. */
export interface ProviderCountsRow {
  establishment: string;
  readings: number;
  discrepancies: number;
}

/** An anomaly with the reading it was raised on (`inflow corrections list`). */
export interface AnomalyListRow {
  id: number;
  code: IssueCode;
  state: AnomalyState;
  vin: string;
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
  sender: string;
  /** The file and line of the reading; fileId 0 for a reading stored by a manual correction (line: its id). */
  fileId: number;
  line: number;
}

export interface ReportStore {
  /** labelReadings lists a vehicle's non-superseded readings dated on or before `upto` (YYYY-MM-DD), by date then reception. */
  labelReadings(vin: string, upto: string): Promise<LabelReading[]>;
  /**
   * openAnomalies lists the A issues in one of the `counting` states raised on a vehicle's non-superseded readings
   * dated on or before `upto`.
   */
  openAnomalies(vin: string, upto: string, counting: readonly AnomalyState[]): Promise<OpenAnomalyRow[]>;
  /**
   * providerCounts counts, per establishment, the non-superseded readings dated from `from` to `to` and how many of
   * them raised an A40/A41/A42 in one of the `counting` states; by establishment, those without readings left out.
   */
  providerCounts(from: string, to: string, counting: readonly AnomalyState[]): Promise<ProviderCountsRow[]>;
  /** anomalies lists the anomalies (in one state, or all) by error number, with their readings; for the admin's list. */
  anomalies(filter: { state?: AnomalyState; vin?: string }): Promise<AnomalyListRow[]>;
}
