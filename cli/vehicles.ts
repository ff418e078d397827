/** `inflow vehicles import` and `inflow history`. */
import type { Command } from 'commander';
import fs from 'node:fs';
import { layoutOf } from '../config/layout';
import { openStore } from '../store';
import { importRegister, RegisterFileError } from '../queries/import-register';
import { vehicleHistory } from '../queries/vehicle-history';
import { withDataDir, settingsFrom, openStoreFor, audited } from './common';
import { UserError } from './exit';

export function registerVehicles(program: Command): void {
  const vehicles = program.command('vehicles').description('the vehicle register');
  withDataDir(
    vehicles.command('import <file>').description('import a register extract: vin;plate;first_registration;imported;digits'),
  ).action(async (file: string, opts) => {
    if (!fs.existsSync(file)) throw new UserError(`no file ${file}`);
    const settings = settingsFrom(opts);
    const layout = layoutOf(settings);
    const store = await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl });
    try {
      const n = await importRegister(store, file);
      await audited(store, 'admin', { action: 'vehicles import', file, rows: n });
      process.stdout.write(`imported ${n} vehicles (${await store.vehicles.count()} in the register)\n`);
    } catch (err) {
      if (err instanceof RegisterFileError) {
        process.stderr.write(
          err.problems
            .slice(0, 20)
            .map((p) => `  ${p}\n`)
            .join(''),
        );
        throw new UserError(`${err.problems.length} bad row(s) in ${file}: nothing imported`);
      }
      throw err;
    } finally {
      await store.close();
    }
  });

  withDataDir(program.command('history <vin>').description("a vehicle's odometer timeline, with flags"))
    .option('--json', 'JSON output')
    .action(async (vinArg: string, opts) => {
      const vin = vinArg.trim().toUpperCase();
      const { store } = await openStoreFor(settingsFrom(opts));
      const h = await vehicleHistory(store, vin);
      await store.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(h, null, 2) + '\n');
      if (!h.readings.length) throw new UserError(`no readings for ${vin}`);
      const reg = h.register;
      const lines = [
        `${vin}${reg ? `  plate ${reg.plate ?? '-'}, first registration ${reg.firstRegistration ?? '-'}${reg.imported ? ', imported used' : ''}${reg.digits === 5 ? ', 5-digit odometer' : ''}` : '  (not in the register)'}`,
        'DATE        ODOMETER       KM  SENDER      FILE     LINE  WORK     STATUS      ISSUES',
        ...h.readings.map((r) =>
          [
            r.date,
            `${r.odometer} ${r.unit}`.padStart(11),
            String(r.km).padStart(8),
            r.sender.padEnd(10),
            (r.fileId ?? 'manual').padEnd(7),
            String(r.line ?? '-').padStart(5),
            (r.work + (r.replaced ? '*' : '')).padEnd(7),
            r.status.padEnd(10),
            r.issues.map((i) => i.code + (i.errorNumber ? ` ${i.errorNumber}` : '') + (i.state ? ` (${i.state})` : '')).join(', ') +
              (r.corrects ? ` corrects ${r.corrects}` : ''),
          ].join('  '),
        ),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
