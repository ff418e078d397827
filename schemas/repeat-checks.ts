/** Rules for a reading whose VIN, date and odometer value are already stored (E21 within a file). */
import type { Finding } from './issue-catalogue';

/** The parts of a stored reading these rules look at. */
export interface SameValueReading {
  fileId: number;
  line: number;
  sender: string;
}

/**
 * repeatFinding: E21 when an earlier record of the same file has the same VIN, date and odometer value;
 * null otherwise. (Repeats across files are the history rules' W51.)
 */
export function repeatFinding(same: readonly SameValueReading[], filePk: number, line: number): Finding | null {
  const earlier = same.find((r) => r.fileId === filePk && r.line < line);
  if (earlier) {
    return {
      code: 'E21',
      field: 'record',
      message: `Same VIN, date and odometer as line ${earlier.line} of this file.`,
    };
  }
  return null;
}
