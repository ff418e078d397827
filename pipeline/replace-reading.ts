/**
 * Replacing a flagged reading with a stored correction (electronic or manual, docs/corrections.md): the flagged
 * reading leaves the timeline, and the anomalies of other readings that only it caused are withdrawn
 * (rules/correction-outcome.ts decides which).
 */
import type { BatchView, BatchWriter, TimelineEntry } from '../store';
import type { HistoryOptions } from '../rules/history';
import { anomalyCounts, withdrawnAnomalies, type AnomalyOnReading } from '../rules/correction-outcome';

/** Where the flagged reading is: its vehicle and its record. */
export interface FlaggedPlace {
  vin: string;
  fileId: number;
  line: number;
}

/**
 * replaceFlagged supersedes the flagged reading and withdraws, as set by the record at `byLine`, the anomalies it
 * alone caused. `timeline` is the vehicle's active timeline, kept up to date: the flagged reading is taken out.
 */
export function replaceFlagged(
  view: BatchView,
  write: Pick<BatchWriter, 'supersede' | 'setAnomalyState'>,
  timeline: TimelineEntry[],
  flagged: FlaggedPlace,
  byLine: number,
  history: HistoryOptions,
): void {
  write.supersede(flagged.vin, flagged.fileId, flagged.line);
  const i = timeline.findIndex((e) => e.fileId === flagged.fileId && e.line === flagged.line);
  if (i < 0) return;
  const [replaced] = timeline.splice(i, 1);
  const registerFiveDigits = view.vehicleByVin(flagged.vin)?.digits === 5;
  const anomalies: AnomalyOnReading[] = [];
  for (const a of view.anomalies(flagged.vin)) {
    if (!anomalyCounts(a.state)) continue;
    const reading = timeline.find((e) => e.fileId === a.fileId && e.line === a.line);
    if (reading) anomalies.push({ id: a.id, code: a.code, reading, fiveDigits: registerFiveDigits || a.digits === 5 });
  }
  for (const id of withdrawnAnomalies(replaced, timeline, anomalies, history)) write.setAnomalyState(id, 'withdrawn', byLine);
}

/** findFlagged: the flagged reading in a vehicle's active timeline, or null when it is not there (superseded). */
export function findFlagged(timeline: readonly TimelineEntry[], place: FlaggedPlace): TimelineEntry | null {
  return timeline.find((e) => e.fileId === place.fileId && e.line === place.line) ?? null;
}
