/**
 * Rules for a reading whose VIN, date and odometer value are already stored: E21 within one file, W51 across
 * files of the same sender (re-sent files, overlapping nightly exports). A different sender with the same value
 * (main contractor and subcontractor on the same day) is no repeat.
 */
import type { Finding } from '../model/issue-catalogue';

/** The parts of a stored reading these rules look at. */
export interface SameValueReading {
  day: number;
  odometer: number;
  unit: string;
  fileId: number;
  line: number;
  sender: string;
}

/** repeatFinding returns E21, W51 or null for a new reading of `sender` at (filePk, line) among the vehicle's readings. */
export function repeatFinding(
  r: { day: number; odometer: number; unit: string },
  stored: readonly SameValueReading[],
  filePk: number,
  line: number,
  sender: string,
): Finding | null {
  const same = stored.filter((s) => s.day === r.day && s.odometer === r.odometer && s.unit === r.unit);
  const earlier = same.find((s) => s.fileId === filePk && s.line < line);
  if (earlier) {
    return { code: 'E21', field: 'record', message: `Same VIN, date and odometer as line ${earlier.line} of this file.` };
  }
  const stored51 = same.find((s) => s.fileId !== filePk && s.sender === sender);
  if (stored51) {
    return {
      code: 'W51',
      field: 'record',
      message: 'This reading (same VIN, date, odometer and sender) is already stored: not stored twice.',
    };
  }
  return null;
}
