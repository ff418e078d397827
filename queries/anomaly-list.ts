/** The anomalies and their states as `inflow corrections list` shows them (JSON shape in docs/cli.md). */
import type { Store } from '../store';
import type { AnomalyState } from '../model/anomaly-state';
import { formatErrorNumber } from '../rules/error-number';
import { shownPlace } from '../model/file-id';

export interface AnomalyListEntry {
  errorNumber: string;
  code: string;
  vin: string;
  /** The reading the anomaly was raised on. */
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
  sender: string;
  /** Null for a reading stored by the correction form. */
  fileId: string | null;
  line: number | null;
  state: AnomalyState;
}

/** anomalyList lists the anomalies of readings of passed files, by error number, in one state or all. */
export async function anomalyList(store: Store, filter: { state?: AnomalyState; vin?: string } = {}): Promise<AnomalyListEntry[]> {
  return (await store.reports.anomalies(filter)).map((a) => ({
    errorNumber: formatErrorNumber(a.id),
    code: a.code,
    vin: a.vin,
    date: a.date,
    odometer: a.odometer,
    unit: a.unit,
    sender: a.sender,
    ...shownPlace(a.fileId, a.line),
    state: a.state,
  }));
}
