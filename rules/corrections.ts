/**
 * Whether a record's `corrects` value names an error number it may correct (docs/corrections.md): E30 unknown, mistyped or
 * another sender's; E31 already corrected once (or replaced by the correction form); E32 not correctable (a file-level or
 * warning issue, an issue raised on a correction, or a withdrawn anomaly). Pure: the caller looks the issue up. What
 * a correction then does: rules/correction-outcome.ts.
 */
import type { AnomalyState } from '../model/anomaly-state';
import type { Finding, Severity } from '../model/issue-catalogue';
import { quoteValue } from '../model/text';
import { parseErrorNumber } from './error-number';

/** The issue an error number points to, as far as these rules need it. */
export interface CorrectionTarget {
  severity: Severity;
  correctable: boolean;
  corrected: boolean;
  /** An anomaly's state; null for an E issue. */
  state: AnomalyState | null;
  /** Establishment that sent the file the issue was found in. */
  sender: string | null;
}

/** correctionSeq parses the number; the issue id to look up, or the E30 finding of a malformed number. */
export function correctionSeq(number: string): { seq: number } | { finding: Finding } {
  const parsed = parseErrorNumber(number);
  if (!parsed.ok)
    return { finding: { code: 'E30', field: 'corrects', message: `${quoteValue(number)} is not a valid error number: ${parsed.reason}.` } };
  return { seq: parsed.seq };
}

/** correctionFinding returns why `target` cannot be corrected by `sender`, or null when it can. */
export function correctionFinding(number: string, target: CorrectionTarget | null, sender: string): Finding | null {
  if (!target || target.sender !== sender) {
    // Another sender's number is reported as unknown: it is none of this sender's business whether it exists.
    return { code: 'E30', field: 'corrects', message: `Error number ${number} is unknown for this sender.` };
  }
  if (target.severity !== 'E' && target.severity !== 'A') {
    return { code: 'E32', field: 'corrects', message: `Error number ${number} cannot be corrected.` };
  }
  if (target.state === 'withdrawn') {
    return {
      code: 'E32',
      field: 'corrects',
      message: `Error number ${number} was withdrawn: the reading that caused it was corrected; there is nothing left to correct.`,
    };
  }
  if (target.corrected || target.state === 'corrected' || target.state === 'manual') {
    return {
      code: 'E31',
      field: 'corrects',
      message: `Error number ${number} was already corrected: electronic correction is allowed once; use the correction form.`,
    };
  }
  if (!target.correctable) {
    return {
      code: 'E32',
      field: 'corrects',
      message: `Error number ${number} was raised on a correction and cannot be corrected electronically; use the correction form.`,
    };
  }
  return null;
}

/**
 * correctionNumberOf: what a record names in `corrects`, also when the record was rejected (the field as sent) and
 * whatever its form: a record with anything there is a correction, so none of its issues can be corrected
 * electronically, and a value that is not a well-formed error number is E30 (correctionSeq).
 */
export function correctionNumberOf(corrects: string | null | undefined, sentField: string | undefined): string | null {
  return corrects || sentField?.trim() || null;
}
