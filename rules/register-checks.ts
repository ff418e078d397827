/**
 * Checks of a reading against the vehicle register: a plate-only reading needs a plate the register knows (E13),
 * and no reading can predate the vehicle's first registration (E18, its register part). Pure: the caller looks
 * the vehicle up.
 */
import type { Finding } from '../model/issue-catalogue';

/** plateNotInRegister: E13 for a reading without VIN whose plate the register does not know. */
export function plateNotInRegister(plate: string): Finding {
  return { code: 'E13', field: 'plate', message: `No VIN given and the plate ${plate} is not in the vehicle register.` };
}

/** beforeFirstRegistration: E18 when the reading's date is before the vehicle's first registration, else null. */
export function beforeFirstRegistration(date: string, firstRegistration: string | null | undefined): Finding | null {
  if (!firstRegistration || date >= firstRegistration) return null;
  return { code: 'E18', field: 'date', message: `The date ${date} is before the vehicle's first registration on ${firstRegistration}.` };
}
