/** The checks of a batch file's header (docs/formats.md, docs/checks.md: F02, F03). */
import type { Finding } from '../model/issue-catalogue';
import type { HeaderFields } from '../model/file-items';
import { isValidEstablishment } from './establishment';
import { quoteValue } from '../model/text';

/**
 * checkHeader returns the header's file-level findings: F02 when it is missing or malformed (field count, format,
 * version, sender not an establishment number), F03 when the sender is valid but not one this account may send for.
 */
export function checkHeader(item: { fields: HeaderFields; fieldCount: number } | null, allowedSenders: readonly string[]): Finding[] {
  const f02 = (message: string): Finding => ({ code: 'F02', field: 'header', message });
  if (item === null) return [f02('The file has no header: its first line must be H;INFLOW;1;<sender>;<created>;<software>.')];
  if (item.fieldCount !== 5) {
    // Positional fields: with a field too many or too few the sender would be read from the wrong place.
    return [f02(`The header has ${item.fieldCount} fields after H where 5 are expected.`)];
  }
  const { format, version, sender } = item.fields;
  const findings: Finding[] = [];
  if (format !== 'INFLOW') findings.push(f02(`The header names format ${quoteValue(format)}, not INFLOW.`));
  if (version !== '1') findings.push(f02(`The header names version ${quoteValue(version)}; only version 1 is supported.`));
  if (!isValidEstablishment(sender)) {
    findings.push(f02(`The sender ${quoteValue(sender)} is not a valid 10-digit establishment number.`));
  } else if (!allowedSenders.includes(sender)) {
    findings.push({
      code: 'F03',
      field: 'header',
      message: `The sender ${sender} is not an establishment this account may send files for.`,
    });
  }
  return findings;
}
