/** A vehicle's timeline as `inflow history` shows it (JSON shape in docs/cli.md). */
import type { Store } from '../store';
import { formatErrorNumber } from '../rules/error-number';
import { shownPlace } from '../model/file-id';
import type { AnomalyState } from '../model/anomaly-state';

export interface HistoryReading {
  date: string;
  odometer: number;
  unit: string;
  km: number;
  sender: string;
  /** The file and line it came from; both null for a reading stored by the correction form (`corrects` says which). */
  fileId: string | null;
  line: number | null;
  ref: string | null;
  work: string;
  replaced: boolean;
  status: string;
  /** The error number this reading corrects. */
  corrects: string | null;
  /**
   * `corrected`: the number's one electronic correction is used (spent); `state`: where an anomaly stands (null for
   * an issue that is not an anomaly).
   */
  issues: { code: string; errorNumber: string | null; corrected: boolean; state: AnomalyState | null }[];
}

export interface VehicleHistory {
  vin: string;
  register: { plate: string | null; firstRegistration: string | null; imported: boolean; digits: number | null } | null;
  readings: HistoryReading[];
}

/** vehicleHistory lists every stored reading of a VIN in timeline order, superseded ones included. */
export async function vehicleHistory(store: Store, vin: string): Promise<VehicleHistory> {
  const v = await store.vehicles.byVin(vin);
  const readings = await store.readings.timeline(vin);
  const issues = await Promise.all(readings.map((r) => store.issues.forRecord(r.fileId, r.line)));
  return {
    vin,
    register: v && { plate: v.plate, firstRegistration: v.firstRegistration, imported: v.imported, digits: v.digits },
    readings: readings.map((r, k) => ({
      date: r.date,
      odometer: r.odometer,
      unit: r.unit,
      km: r.km,
      sender: r.sender,
      ...shownPlace(r.fileId, r.line),
      ref: r.ref,
      work: r.work,
      replaced: r.replaced,
      status: r.status,
      corrects: r.corrects === null ? null : formatErrorNumber(r.corrects),
      issues: issues[k].map((i) => ({
        code: i.code,
        errorNumber: i.severity === 'E' || i.severity === 'A' ? formatErrorNumber(i.id) : null,
        corrected: i.corrected,
        state: i.state,
      })),
    })),
  };
}
