/**
 * Error numbers (docs/corrections.md): digits only, unique, ending in two mod-97 check digits so that a mistyped number is
 * caught before it is looked up.
 *
 * Layout: (ERROR_NUMBER_BASE + seq) followed by mod97Check of that, i.e. 12 digits, like the Belgian structured
 * payment reference people already type. The offset makes every number the same length (a dropped or doubled digit
 * is a length error) for the first 9,000,000,000 sequence numbers, which outlasts the registry.
 */
import { mod97Check } from './establishment';

/** Added to the sequence number so all error numbers have 10 digits before the check digits. */
export const ERROR_NUMBER_BASE = 1_000_000_000;
/** The largest sequence number that still fits the fixed 12-digit layout. */
export const MAX_ERROR_SEQ = 9_999_999_999 - ERROR_NUMBER_BASE;
const LENGTH = 12;

/** formatErrorNumber returns the 12-digit error number of a sequence number (0 … MAX_ERROR_SEQ). */
export function formatErrorNumber(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_ERROR_SEQ) {
    throw new RangeError(`error number sequence out of range: ${seq}`);
  }
  const base = String(ERROR_NUMBER_BASE + seq);
  return base + mod97Check(base);
}

/** parseErrorNumber returns the sequence number of a well-formed error number, or why it is not one. */
export function parseErrorNumber(s: string): { ok: true; seq: number } | { ok: false; reason: string } {
  if (!/^\d+$/.test(s)) return { ok: false, reason: 'an error number has digits only' };
  if (s.length !== LENGTH) return { ok: false, reason: `an error number has ${LENGTH} digits, this one has ${s.length}` };
  const base = s.slice(0, LENGTH - 2);
  if (Number(base) < ERROR_NUMBER_BASE) return { ok: false, reason: 'not an error number of this registry' };
  if (mod97Check(base) !== s.slice(LENGTH - 2)) {
    return { ok: false, reason: 'the check digits do not match: the number was probably mistyped' };
  }
  return { ok: true, seq: Number(base) - ERROR_NUMBER_BASE };
}
