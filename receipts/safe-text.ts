/**
 * A CSV receipt field (docs/receipts.md, Text cleaning): cleaned as every echoed text is (model/text.ts), no
 * spreadsheet formulas, quoted when it holds the separator or a quote.
 */
import { cleanText } from '../model/text';

/** csvField renders one receipt field: cleaned, formula-neutralised, RFC 4180-quoted when needed. */
export function csvField(s: string | number | null | undefined): string {
  if (typeof s === 'number') return String(s);
  let t = cleanText(s);
  // A cell starting with = + - @ is a formula in spreadsheets (CSV injection): a leading quote keeps it text.
  if (/^[=+\-@]/.test(t)) t = "'" + t;
  return /[;"]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}
