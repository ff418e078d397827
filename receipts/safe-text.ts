/**
 * Making text safe to echo in a receipt (SPEC §6): no control characters, no spreadsheet formulas, quoted
 * when it holds the separator or a quote.
 */

// C0/C1 controls and DEL; also the Unicode line/paragraph separators and bidi overrides that hide text.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** cleanText drops control characters and caps the length. */
export function cleanText(s: string | null | undefined, max = 200): string {
  if (s === null || s === undefined) return '';
  const t = s.replace(CONTROL, ' ');
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/** csvField renders one receipt field: cleaned, formula-neutralised, RFC 4180-quoted when needed. */
export function csvField(s: string | number | null | undefined): string {
  if (typeof s === 'number') return String(s);
  let t = cleanText(s);
  // A cell starting with = + - @ is a formula in spreadsheets (CSV injection): a leading quote keeps it text.
  if (/^[=+\-@]/.test(t)) t = "'" + t;
  return /[;"]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}
