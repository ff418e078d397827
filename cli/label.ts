/** `inflow label <vin> --mileage N [--date D] [--json]`: the OK label decision for a used-car ad (docs/label.md). */
import type { Command } from 'commander';
import { decideLabel, type LabelDecision } from '../queries/label';
import { brusselsToday, isCalendarDate } from '../rules/brussels-date';
import { isValidVin } from '../rules/record-checks';
import { MAX_ODOMETER } from '../rules/record-checks';
import { formatAge } from '../rules/calendar-months';
import { withDataDir, settingsFrom, openStoreFor, intOption } from './common';
import { UserError } from './exit';

/** labelText renders a decision for a terminal: the verdict, then one line per reason. */
export function labelText(d: LabelDecision): string {
  const lines = [`${d.vin}  advertised ${d.mileage} km on ${d.date}`];
  lines.push(d.issued ? 'OK label: ISSUED' : `OK label: NOT ISSUED (${d.reasons.length} reason${d.reasons.length === 1 ? '' : 's'})`);
  for (const r of d.reasons) lines.push(`  rule ${r.rule}  ${r.code.padEnd(22)} ${r.message}`);
  const age =
    d.ageMonths === null
      ? 'age unknown'
      : `${formatAge(d.ageMonths)} since ${d.ageFrom}${d.firstRegistration ? ` ${d.firstRegistration}` : ''}`;
  const last = d.lastReading
    ? `, last ${d.lastReading.odometer} ${d.lastReading.unit} on ${d.lastReading.date} (${d.lastReading.sender})`
    : '';
  lines.push(`readings: ${d.readings}${last}; ${age}${d.inRegister ? '' : '; not in the vehicle register'}`);
  return lines.join('\n') + '\n';
}

export function registerLabel(program: Command): void {
  withDataDir(program.command('label <vin>').description('the OK label decision for a used-car ad, with every reason that blocks it'))
    .requiredOption('--mileage <km>', 'advertised mileage, km', intOption('--mileage'))
    .option('--date <date>', 'date of the ad, YYYY-MM-DD (default: today in Brussels)')
    .option('--json', 'JSON output')
    .action(async (vinArg: string, opts) => {
      const vin = vinArg.trim().toUpperCase();
      if (!isValidVin(vin)) throw new UserError(`"${vinArg}" is not a VIN (17 letters and digits, no I, O or Q)`);
      const mileage = opts.mileage as number;
      if (mileage > MAX_ODOMETER) throw new UserError(`--mileage must be at most ${MAX_ODOMETER} km`);
      const date = (opts.date as string | undefined) ?? brusselsToday(new Date());
      if (!isCalendarDate(date)) throw new UserError(`--date must be a calendar date YYYY-MM-DD, got "${date}"`);
      const { store } = await openStoreFor(settingsFrom(opts));
      let decision: LabelDecision;
      try {
        decision = await decideLabel(store, vin, mileage, date);
      } finally {
        await store.close();
      }
      process.stdout.write(opts.json ? JSON.stringify(decision, null, 2) + '\n' : labelText(decision));
    });
}
