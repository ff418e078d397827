/** One row of a vehicle register extract (`inflow vehicles import`): vin;plate;first_registration;imported;digits. */
import { isCalendarDate } from './brussels-date';
import { isValidVin, normalisePlate } from './record-checks';

export const REGISTER_COLUMNS = ['vin', 'plate', 'first_registration', 'imported', 'digits'] as const;

export interface RegisterEntry {
  vin: string;
  plate: string | null;
  firstRegistration: string | null;
  imported: boolean;
  digits: number | null;
}

const YES = new Set(['Y', 'YES', '1', 'TRUE', 'J', 'O']);
const NO = new Set(['', 'N', 'NO', '0', 'FALSE']);

/** checkRegisterRow returns the entry a row describes, or what is wrong with it. */
export function checkRegisterRow(fields: readonly string[]): { entry: RegisterEntry } | { error: string } {
  if (fields.length !== REGISTER_COLUMNS.length) return { error: `${fields.length} columns where ${REGISTER_COLUMNS.length} are expected` };
  const [vinRaw, plateRaw, firstReg, importedRaw, digitsRaw] = fields.map((f) => f.trim());
  const vin = vinRaw.toUpperCase();
  if (!isValidVin(vin)) return { error: `VIN "${vinRaw.slice(0, 40)}" is not 17 letters and digits (no I, O or Q)` };
  if (firstReg !== '' && !isCalendarDate(firstReg))
    return { error: `first_registration "${firstReg.slice(0, 20)}" is not a YYYY-MM-DD date` };
  const imported = importedRaw.toUpperCase();
  if (!YES.has(imported) && !NO.has(imported)) return { error: `imported "${importedRaw.slice(0, 10)}" is not Y or N` };
  if (digitsRaw !== '' && digitsRaw !== '5' && !/^([6-9]|1\d)$/.test(digitsRaw))
    return { error: `digits "${digitsRaw.slice(0, 10)}" is not a number of odometer digits` };
  const plate = normalisePlate(plateRaw);
  return {
    entry: {
      vin,
      plate: plate === '' ? null : plate,
      firstRegistration: firstReg === '' ? null : firstReg,
      imported: YES.has(imported),
      digits: digitsRaw === '' ? null : Number(digitsRaw),
    },
  };
}
