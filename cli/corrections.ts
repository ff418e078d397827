/** `inflow corrections list|apply`: anomalies with their states, and the registry's correction form (docs/corrections.md). */
import os from 'node:os';
import type { Command } from 'commander';
import { ANOMALY_STATES, isAnomalyState } from '../model/anomaly-state';
import { anomalyList } from '../queries/anomaly-list';
import { applyManualCorrection, ManualCorrectionRefused, type ManualCorrectionResult } from '../pipeline/manual-correction';
import { brusselsToday, isCalendarDate } from '../rules/brussels-date';
import { MAX_ODOMETER } from '../rules/record-checks';
import { withDataDir, settingsFrom, openStoreFor, intOption, audited } from './common';
import { UserError } from './exit';

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'admin';
  }
}

const fmt = (r: { date: string; odometer: number; unit: string }) => `${r.date} ${r.odometer} ${r.unit}`;

function appliedText(number: string, r: ManualCorrectionResult): string {
  const lines = [`${number} (${r.code}, ${r.vin}): manual; ${fmt(r.replaced)} superseded by ${fmt(r.stored)}`];
  for (const i of r.issues) lines.push(`  the new reading raised ${i.code}${i.errorNumber ? ` ${i.errorNumber}` : ''}: ${i.message}`);
  for (const w of r.withdrawn) lines.push(`  withdrawn: ${w}`);
  return lines.join('\n') + '\n';
}

export function registerCorrections(program: Command): void {
  const corrections = program.command('corrections').description("anomalies and their states; the registry's correction form");
  registerList(corrections);
  registerApply(corrections);
}

function registerList(corrections: Command): void {
  withDataDir(corrections.command('list').description('list the anomalies with their states'))
    .option('--state <state>', ANOMALY_STATES.join(' | '))
    .option('--json', 'JSON output')
    .action(async (opts) => {
      const state = opts.state as string | undefined;
      if (state !== undefined && !isAnomalyState(state))
        throw new UserError(`--state must be one of ${ANOMALY_STATES.join(', ')}, got "${state}"`);
      const { store } = await openStoreFor(settingsFrom(opts));
      const list = await anomalyList(store, { state }).finally(() => store.close());
      if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      const head = 'ERROR NUMBER  CODE  STATE      VIN                DATE        ODOMETER    SENDER      FILE     LINE';
      const rows = list.map((a) =>
        [
          a.errorNumber,
          a.code.padEnd(4),
          a.state.padEnd(9),
          a.vin.padEnd(17),
          a.date,
          `${a.odometer} ${a.unit}`.padStart(10),
          a.sender.padEnd(10),
          (a.fileId ?? 'manual').padEnd(7),
          String(a.line ?? '-').padStart(5),
        ].join('  '),
      );
      process.stdout.write([head, ...rows].join('\n') + '\n');
    });
}

function registerApply(corrections: Command): void {
  withDataDir(
    corrections
      .command('apply <error-number>')
      .description('replace the reading of an anomaly by hand (allowed on a spent number; audited)'),
  )
    .requiredOption('--odometer <n>', 'the corrected odometer value', intOption('--odometer'))
    .option('--unit <unit>', "km | mi (default: the flagged reading's)")
    .option('--date <date>', "the corrected date, YYYY-MM-DD (default: the flagged reading's)")
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--by <name>', 'who applies it (default: the operating-system user)')
    .action(async (number: string, opts) => {
      const odometer = opts.odometer as number;
      if (odometer > MAX_ODOMETER) throw new UserError(`--odometer must be at most ${MAX_ODOMETER}`);
      if (opts.unit !== undefined && opts.unit !== 'km' && opts.unit !== 'mi')
        throw new UserError(`--unit must be km or mi, got "${opts.unit}"`);
      if (opts.date !== undefined && !isCalendarDate(opts.date))
        throw new UserError(`--date must be a calendar date YYYY-MM-DD, got "${opts.date}"`);
      const reason = String(opts.reason).trim();
      if (!reason) throw new UserError('--reason must say why');
      const by = (opts.by as string | undefined)?.trim() || osUser();
      const settings = settingsFrom(opts);
      const { store } = await openStoreFor(settings);
      let r: ManualCorrectionResult;
      try {
        r = await applyManualCorrection(store, {
          errorNumber: number.trim(),
          odometer,
          unit: opts.unit,
          date: opts.date,
          reason,
          by,
          today: brusselsToday(new Date()),
          history: { decreaseToleranceKm: settings.decreaseToleranceKm, maxKmPerDay: settings.maxKmPerDay },
        });
        await audited(store, 'admin', {
          action: 'corrections apply',
          by,
          reason,
          errorNumber: number.trim(),
          vin: r.vin,
          replaced: r.replaced,
          stored: r.stored,
          raised: r.issues.map((i) => i.errorNumber ?? i.code),
          withdrawn: r.withdrawn,
        });
      } catch (err) {
        if (err instanceof ManualCorrectionRefused) throw new UserError(err.message);
        throw err;
      } finally {
        await store.close();
      }
      process.stdout.write(appliedText(number.trim(), r));
    });
}
