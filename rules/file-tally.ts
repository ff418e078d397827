/**
 * The file-level checks that need the whole stream of a batch file: trailer count and sum (F04), order of the
 * trailer (F04), the record limit (F06), the header's presence (F02) and the readers' fatal items (F01/F02/F05).
 */
import type { Finding } from '../model/issue-catalogue';
import type { FileItem, HeaderFields, TrailerFields } from '../model/file-items';

/** What FileTally.finish returns. */
export interface FileTallyResult {
  /** File-level findings, in the order they were found. */
  findings: Finding[];
  /** Every record other than the header and the trailer: readings + malformed records (what F06 limits). */
  records: number;
  /** R records (XML readings): what the trailer's count counts. */
  readings: number;
  /** Sum of the readings' odometer values, counting the values that are whole numbers (others add nothing). */
  odometerSum: bigint;
  trailer: TrailerFields | null;
}

/** recordLimitFinding returns the F06 finding once `records` exceeds `maxRecords` (call it as records come, to stop early). */
export function recordLimitFinding(records: number, maxRecords: number): Finding | null {
  if (records <= maxRecords) return null;
  return {
    code: 'F06',
    field: 'file',
    message: `The file holds more than ${maxRecords} records, the limit per file: split it into smaller files.`,
  };
}

/** sizeLimitFinding: F06 for a file larger than `maxBytes` (found before it is read). */
export function sizeLimitFinding(maxBytes: number): Finding {
  return {
    code: 'F06',
    field: 'file',
    message: `The file is larger than ${maxBytes} bytes, the limit per file: split it into smaller files.`,
  };
}

// Odometer values are summed as doubles while that is exact, then folded into a bigint (a sender may send absurd
// digit strings; the trailer's sum is compared exactly whatever its size).
const FOLD_AT = 2 ** 52;

/** FileTally is fed every FileItem of a file in order (`add`), then `finish` computes the file-level findings. */
export class FileTally {
  private header: HeaderFields | null = null;
  private trailer: TrailerFields | null = null;
  private trailerLine = 0;
  private trailerFieldCount = 0;
  private readonly findings: Finding[] = [];
  private fatal = false;
  private afterTrailerReported = false;
  private recordCount = 0;
  private readingCount = 0;
  private sumSmall = 0;
  private sumBig = 0n;

  /** records returns how many records (readings + malformed) have been added so far. */
  get records(): number {
    return this.recordCount;
  }

  /** add takes the next item of the file. */
  add(item: FileItem): void {
    switch (item.kind) {
      case 'header':
        if (this.header === null) this.header = item.fields;
        return;
      case 'reading':
        this.readingCount++;
        this.addOdometer(item.fields.odometer);
        this.addRecord(item.line);
        return;
      case 'malformed':
        this.addRecord(item.line);
        return;
      case 'trailer':
        if (this.trailer !== null) {
          this.f04(`A second trailer on line ${item.line}: the trailer (line ${this.trailerLine}) must be the last line.`);
          return;
        }
        this.trailer = item.fields;
        this.trailerLine = item.line;
        this.trailerFieldCount = item.fieldCount;
        return;
      case 'fatal':
        this.fatal = true;
        this.findings.push({ code: item.code, field: 'file', message: `Line ${item.line}: ${item.message}` });
        return;
    }
  }

  /** finish returns the file-level findings and counts once every item has been added. */
  finish(limits: { maxRecords: number }): FileTallyResult {
    const findings = [...this.findings];
    // A fatal item already says why the file could not be read; "no header" would only repeat it.
    if (this.header === null && !this.fatal) {
      findings.push({ code: 'F02', field: 'header', message: 'The file has no header: its first line must be the H line.' });
    }
    const odometerSum = BigInt(this.sumSmall) + this.sumBig;
    if (this.trailer !== null) findings.push(...this.trailerFindings(odometerSum));
    const f06 = recordLimitFinding(this.recordCount, limits.maxRecords);
    if (f06) findings.push(f06);
    return { findings, records: this.recordCount, readings: this.readingCount, odometerSum, trailer: this.trailer };
  }

  private addRecord(line: number): void {
    this.recordCount++;
    if (this.trailer !== null && !this.afterTrailerReported) {
      this.afterTrailerReported = true; // one finding says it; the file is rejected anyway
      this.f04(`A record on line ${line} follows the trailer (line ${this.trailerLine}): the trailer must be the last line.`);
    }
  }

  private addOdometer(value: string): void {
    // Only whole numbers count: a value that is not one is rejected (E14) and the sender cannot have summed it.
    if (!/^\d+$/.test(value)) return;
    if (value.length <= 15) {
      this.sumSmall += Number(value);
      if (this.sumSmall >= FOLD_AT) {
        this.sumBig += BigInt(this.sumSmall);
        this.sumSmall = 0;
      }
    } else {
      this.sumBig += BigInt(value);
    }
  }

  private trailerFindings(odometerSum: bigint): Finding[] {
    const t = this.trailer as TrailerFields;
    const out: Finding[] = [];
    const f04 = (message: string) => out.push({ code: 'F04', field: 'trailer', message });
    if (this.trailerFieldCount !== 2) {
      f04(`The trailer (line ${this.trailerLine}) has ${this.trailerFieldCount} fields after T where 2 (count;sum) are expected.`);
    }
    const whole = (s: string) => /^\d+$/.test(s);
    if (!whole(t.count)) f04(`The trailer's count (line ${this.trailerLine}) is not a whole number.`);
    else if (BigInt(t.count) !== BigInt(this.readingCount)) {
      f04(`The trailer counts ${t.count} R records but the file holds ${this.readingCount}: the file is truncated or altered.`);
    }
    if (!whole(t.sum)) f04(`The trailer's sum (line ${this.trailerLine}) is not a whole number.`);
    else if (BigInt(t.sum) !== odometerSum) {
      f04(`The trailer's odometer sum is ${t.sum} but the R records add up to ${odometerSum}: the file is truncated or altered.`);
    }
    return out;
  }

  private f04(message: string): void {
    this.findings.push({ code: 'F04', field: 'trailer', message });
  }
}
