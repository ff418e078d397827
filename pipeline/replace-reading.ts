/**
 * Replacing a flagged reading with a stored correction (electronic or manual, docs/corrections.md): the flagged
 * reading leaves the timeline with its anomalies, and the anomalies of other readings that only it caused are
 * withdrawn (rules/correction-outcome.ts decides which).
 */
import type { BatchView, BatchWriter, TimelineEntry } from '../store';
import type { HistoryOptions } from '../rules/history';
import type { AnomalyState } from '../model/anomaly-state';
import { anomalyCounts, withdrawnAnomalies, type AnomalyOnReading } from '../rules/correction-outcome';

/** Where the flagged reading is: its vehicle and its record. */
export interface FlaggedPlace {
  vin: string;
  fileId: number;
  line: number;
}

/**
 * replaceFlagged supersedes the flagged reading: its anomalies that still count take `state` (corrected, or manual
 * for the correction form; the one named and any other raised on the same reading), and the anomalies of other
 * readings that it alone caused are withdrawn; all as set by the record at `byLine`. `timeline` is the vehicle's
 * active timeline, kept up to date: the flagged reading is taken out.
 */
export function replaceFlagged(
  view: BatchView,
  write: Pick<BatchWriter, 'supersede' | 'setAnomalyState'>,
  timeline: TimelineEntry[],
  flagged: FlaggedPlace,
  byLine: number,
  o: { history: HistoryOptions; state: AnomalyState },
): void {
  const counting = view.anomalies(flagged.vin).filter((a) => anomalyCounts(a.state));
  write.supersede(flagged.vin, flagged.fileId, flagged.line);
  const i = timeline.findIndex((e) => e.fileId === flagged.fileId && e.line === flagged.line);
  if (i < 0) return;
  const [replaced] = timeline.splice(i, 1);
  const registerFiveDigits = view.vehicleByVin(flagged.vin)?.digits === 5;
  const others: AnomalyOnReading[] = [];
  for (const a of counting) {
    if (a.fileId === flagged.fileId && a.line === flagged.line) {
      write.setAnomalyState(a.id, o.state, byLine);
      continue;
    }
    const reading = timeline.find((e) => e.fileId === a.fileId && e.line === a.line);
    if (reading) others.push({ id: a.id, code: a.code, reading, fiveDigits: registerFiveDigits || a.digits === 5 });
  }
  for (const id of withdrawnAnomalies(replaced, timeline, others, o.history)) write.setAnomalyState(id, 'withdrawn', byLine);
}

/** findFlagged: the flagged reading in a vehicle's active timeline, or null when it is not there (superseded). */
export function findFlagged(timeline: readonly TimelineEntry[], place: FlaggedPlace): TimelineEntry | null {
  return timeline.find((e) => e.fileId === place.fileId && e.line === place.line) ?? null;
}
