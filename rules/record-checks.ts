/**
 * The checks of one reading that need nothing but the record itself (docs/checks.md, step 2: E10–E12, E14–E20).
 * E13 (plate lookup), E18's first-registration part, E21 (repeat within the file) and E30–E32 (corrections) need
 * the database and are done by the pipeline; so is a malformed `corrects` (E30, rules/corrections.ts), which makes
 * the record a correction all the same.
 */
import { quoteValue } from '../model/text';
import type { Finding } from '../model/issue-catalogue';
import { READING_FIELD_COUNT, type RecordFields } from '../model/file-items';
import { isCalendarDate } from './brussels-date';
import { WORK_TYPES, kmOf, type Reading, type WorkType } from '../model/reading';

/** Readings dated before this are refused whatever the register says. */
export const EARLIEST_READING_DATE = '1990-01-01';
/** The largest odometer value a dashboard shows (7 digits). */
export const MAX_ODOMETER = 9_999_999;

/** A VIN's letters: no I, O or Q. */
const VIN_LETTERS = 'A-HJ-NPR-Z';
const VIN_RE = new RegExp(`^[${VIN_LETTERS}0-9]{17}$`);
/** A VIN in either case, as a JSON Schema pattern (the web services upper-case it before isValidVin's checks). */
export const VIN_PATTERN_ANY_CASE = `^[${VIN_LETTERS}${VIN_LETTERS.toLowerCase()}0-9]{17}$`;

/** isValidVin: 17 characters of [A-HJ-NPR-Z0-9] (no I, O, Q), already upper-cased. */
export function isValidVin(vin: string): boolean {
  return VIN_RE.test(vin);
}

/** normalisePlate upper-cases a plate and drops spaces and dashes ("1-abc-123" → "1ABC123"). */
export function normalisePlate(plate: string): string {
  return plate.toUpperCase().replace(/[\s-]+/g, '');
}
const REF_RE = /^[A-Za-z0-9._/-]{1,35}$/;
// Leading zeros are allowed (a 5-digit meter may be copied as "04512"); the value is range-checked after.
const ODOMETER_RE = /^\d{1,12}$/;

/**
 * checkRecord returns the findings of one R record and, when there are none, the reading it describes.
 * `fieldCount` is the number of fields after the record type (XML: 10 plus one per unexpected item in the
 * `<reading>`); `ctx.today` is today's date in Brussels; `ctx.format` words E10 for the sender's format.
 */
export function checkRecord(
  fields: RecordFields,
  fieldCount: number,
  ctx: { today: string; format?: 'csv' | 'xml' },
): { reading: Reading | null; findings: Finding[] } {
  if (fieldCount !== READING_FIELD_COUNT) {
    // Fields are positional: with one too many or too few every later check would judge the wrong value.
    const message =
      ctx.format === 'xml'
        ? `The <reading> element holds ${fieldCount - READING_FIELD_COUNT} unexpected item(s): an unknown, repeated or nested element, an unknown attribute or stray text.`
        : `The record has ${fieldCount} fields after R where ${READING_FIELD_COUNT} are expected.`;
    return { reading: null, findings: [{ code: 'E10', field: 'record', message }] };
  }
  const findings: Finding[] = [];
  const add = (code: Finding['code'], field: string, message: string) => findings.push({ code, field, message });

  const vin = fields.vin.toUpperCase();
  const plate = normalisePlate(fields.plate);
  if (vin === '' && plate === '') add('E11', 'vin', 'Neither a VIN nor a plate is given.');
  else if (vin !== '' && !VIN_RE.test(vin)) {
    add('E12', 'vin', `The VIN ${quoteValue(fields.vin)} is not 17 letters and digits (no I, O or Q).`);
  }

  const date = fields.date;
  if (date === '') add('E11', 'date', 'The date of the work is missing.');
  else if (!isCalendarDate(date)) add('E16', 'date', `The date ${quoteValue(date)} is not a valid YYYY-MM-DD calendar date.`);
  else if (date > ctx.today) add('E17', 'date', `The date ${date} is after today (${ctx.today}, Brussels time).`);
  else if (date < EARLIEST_READING_DATE) add('E18', 'date', `The date ${date} is before ${EARLIEST_READING_DATE}.`);

  let odometer = NaN;
  if (fields.odometer === '') add('E11', 'odometer', 'The odometer value is missing.');
  else {
    odometer = ODOMETER_RE.test(fields.odometer) ? Number(fields.odometer) : NaN;
    if (!(odometer <= MAX_ODOMETER)) {
      add('E14', 'odometer', `The odometer value ${quoteValue(fields.odometer)} is not a whole number from 0 to 9999999.`);
    }
  }

  // Unit, work type and flags are codes: their case carries no meaning, so "KM" or "maint" is taken as meant.
  const unit = fields.unit.toLowerCase();
  if (unit === '') add('E11', 'unit', 'The unit is missing.');
  else if (unit !== 'km' && unit !== 'mi') add('E15', 'unit', `The unit ${quoteValue(fields.unit)} is not km or mi.`);

  const work = fields.work.toUpperCase();
  if (work === '') add('E11', 'work', 'The work type is missing.');
  else if (!(WORK_TYPES as readonly string[]).includes(work)) {
    add('E19', 'work', `The work type ${quoteValue(fields.work)} is not one of ${WORK_TYPES.join(', ')}.`);
  }

  const replaced = fields.replaced.toUpperCase();
  if (replaced !== '' && replaced !== 'Y' && replaced !== 'N') {
    add('E20', 'replaced', `The replaced flag ${quoteValue(fields.replaced)} is not Y, N or empty.`);
  }
  if (fields.digits !== '' && fields.digits !== '5') {
    add('E20', 'digits', `The digits field ${quoteValue(fields.digits)} is not 5 or empty.`);
  }
  if (fields.ref !== '' && !REF_RE.test(fields.ref)) {
    add('E20', 'ref', `The reference ${quoteValue(fields.ref)} is not up to 35 letters, digits or . _ / -.`);
  }

  if (findings.length > 0) return { reading: null, findings };
  const mi = unit === 'mi';
  return {
    reading: {
      ref: fields.ref === '' ? null : fields.ref,
      vin: vin === '' ? null : vin,
      plate: plate === '' ? null : plate,
      date,
      odometer,
      unit: mi ? 'mi' : 'km',
      km: kmOf(odometer, mi ? 'mi' : 'km'),
      work: work as WorkType,
      replaced: replaced === 'Y',
      digits: fields.digits === '5' ? 5 : null,
      corrects: fields.corrects === '' ? null : fields.corrects,
    },
    findings,
  };
}
