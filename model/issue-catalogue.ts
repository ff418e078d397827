/**
 * The issue catalogue (docs/issues.md, docs/checks.md): the one table of issue codes that the validator, the receipt writers and the
 * generated docs page (docs/issues.md) all read. Add a code here and nowhere else.
 */

/** F file-level, E error (record rejected), A anomaly (stored, flagged), W warning (nothing to correct). */
export const SEVERITIES = ['F', 'E', 'A', 'W'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ISSUE_CATALOGUE = [
  { code: 'F01', severity: 'F', title: 'not an INFLOW CSV or XML file (binary, empty, unknown layout)' },
  { code: 'F02', severity: 'F', title: 'header missing or malformed, or unsupported version' },
  { code: 'F03', severity: 'F', title: "sender in the header is not this account's establishment (nor one a fleet account may send for)" },
  { code: 'F04', severity: 'F', title: 'trailer count or sum does not match the records (truncated or altered file)' },
  { code: 'F05', severity: 'F', title: 'invalid UTF-8, XML not well-formed, DTD/entity declarations present' },
  { code: 'F06', severity: 'F', title: 'file larger than the size limit or more records than the record limit' },
  { code: 'F07', severity: 'F', title: 'exact same content (SHA-256) already received from this account: not processed again' },
  { code: 'F08', severity: 'F', title: 'could not be processed: abandoned by an administrator after repeated failures' },
  { code: 'E10', severity: 'E', title: 'malformed record: unknown record type or wrong number of fields' },
  { code: 'E11', severity: 'E', title: 'mandatory field missing (vin-or-plate, date, odometer, unit, work)' },
  { code: 'E12', severity: 'E', title: 'VIN invalid' },
  { code: 'E13', severity: 'E', title: 'vehicle not identified: no VIN and the plate is not in the vehicle register' },
  { code: 'E14', severity: 'E', title: 'odometer not a whole number in 0..9,999,999' },
  { code: 'E15', severity: 'E', title: 'unit not km/mi' },
  { code: 'E16', severity: 'E', title: 'date not a valid calendar date' },
  { code: 'E17', severity: 'E', title: 'date in the future (after today in Europe/Brussels at reception)' },
  { code: 'E18', severity: 'E', title: "date before the vehicle's first registration or before 1990-01-01" },
  { code: 'E19', severity: 'E', title: 'unknown work type' },
  { code: 'E20', severity: 'E', title: 'invalid flag (replaced not Y/N/empty, digits not 5/empty, ref not allowed)' },
  { code: 'E21', severity: 'E', title: 'same VIN, date and odometer as an earlier record of this file' },
  {
    code: 'E30',
    severity: 'E',
    title: 'corrects is not a valid error number (malformed, wrong check digits), names an unknown one, or one of another sender',
  },
  {
    code: 'E31',
    severity: 'E',
    title: 'that error number was already corrected: electronic correction is allowed once; use the correction form',
  },
  {
    code: 'E32',
    severity: 'E',
    title:
      'that error number cannot be corrected electronically (a file-level or warning issue, an issue raised on a correction, or a withdrawn anomaly)',
  },
  { code: 'A40', severity: 'A', title: "odometer lower than the previous reading in the vehicle's history (roll-back)" },
  {
    code: 'A41',
    severity: 'A',
    title: 'odometer higher than a later reading already in the history (out-of-order delivery reveals a drop)',
  },
  { code: 'A42', severity: 'A', title: 'implausible distance: more than the km/day ceiling on average since the previous reading' },
  { code: 'W50', severity: 'W', title: 'reported late: received more than 5 Belgian working days after the date of the work' },
  { code: 'W51', severity: 'W', title: 'this reading (same VIN, date, odometer, sender) is already stored: not stored twice' },
  { code: 'W52', severity: 'W', title: 'lower value explained by a 5-digit odometer wrapping past 99,999: no anomaly' },
  { code: 'W53', severity: 'W', title: 'odometer replaced: a new series starts here, earlier readings are not compared with it' },
] as const satisfies readonly { code: string; severity: Severity; title: string }[];

export type IssueCode = (typeof ISSUE_CATALOGUE)[number]['code'];

export interface IssueDef {
  code: IssueCode;
  severity: Severity;
  title: string;
}

const BY_CODE: ReadonlyMap<IssueCode, IssueDef> = new Map(ISSUE_CATALOGUE.map((d) => [d.code, d]));

/** issueDef returns the catalogue entry of a code. */
export function issueDef(code: IssueCode): IssueDef {
  const def = BY_CODE.get(code);
  if (!def) throw new Error(`unknown issue code ${code}`);
  return def;
}

/** E and A issues get an error number and may be corrected once (docs/corrections.md); F and W issues may not. */
export function isCorrectable(code: IssueCode): boolean {
  const s = issueDef(code).severity;
  return s === 'E' || s === 'A';
}

/**
 * A problem found by a check, before it is numbered and stored. `field` names the record field
 * (`vin`, `date`, …), `record` for the whole record, `file`, `header` or `trailer` for file-level issues.
 */
export interface Finding {
  code: IssueCode;
  field: string;
  message: string;
}

/** A file-level finding (F01–F08) with the line it was found on (0: the file as a whole). */
export interface FileFinding extends Finding {
  line: number;
}
