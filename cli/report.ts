/** `inflow report providers --year Y [--json|--csv]`: the yearly Trusted Provider report (docs/provider-report.md). */
import type { Command } from 'commander';
import { providerReport, type ProviderReport } from '../queries/provider-report';
import { formatRate } from '../rules/provider-label';
import { withDataDir, settingsFrom, openStoreFor } from './common';
import { UserError } from './exit';

/** reportText: a table sorted by establishment number, the totals last. */
export function reportText(r: ProviderReport): string {
  const head = `Trusted Provider report ${r.year} (label: discrepancy rate below 0.5%)`;
  const row = (est: string, readings: string, disc: string, rate: string, label: string) =>
    [est.padEnd(13), readings.padStart(10), disc.padStart(13), rate.padStart(8), label].join('  ');
  const lines = [head, row('ESTABLISHMENT', 'READINGS', 'DISCREPANCIES', 'RATE', 'LABEL')];
  for (const p of r.providers)
    lines.push(row(p.establishment, String(p.readings), String(p.discrepancies), formatRate(p.rate), p.label ? 'yes' : 'no'));
  const t = r.totals;
  lines.push(row('TOTAL', String(t.readings), String(t.discrepancies), formatRate(t.rate), `${t.labelled} of ${t.providers} labelled`));
  return lines.join('\n') + '\n';
}

/** reportCsv: `;`-separated like the receipts; rate as a fraction; a TOTAL line last. */
export function reportCsv(r: ProviderReport): string {
  const lines = ['establishment;readings;discrepancies;rate;label'];
  for (const p of r.providers) lines.push([p.establishment, p.readings, p.discrepancies, p.rate, p.label ? 'Y' : 'N'].join(';'));
  const t = r.totals;
  lines.push(['TOTAL', t.readings, t.discrepancies, t.rate, t.labelled].join(';'));
  return lines.join('\n') + '\n';
}

export function registerReport(program: Command): void {
  const report = program.command('report').description('registry reports');
  withDataDir(report.command('providers').description('Trusted Provider report: per establishment, readings and discrepancies of a year'))
    .requiredOption('--year <year>', 'the year whose readings (by date of the work) are counted')
    .option('--json', 'JSON output')
    .option('--csv', 'CSV output (;-separated)')
    .action(async (opts) => {
      if (!/^\d{4}$/.test(opts.year) || Number(opts.year) < 1990)
        throw new UserError(`--year must be a year from 1990 on, got "${opts.year}"`);
      if (opts.json && opts.csv) throw new UserError('choose one of --json and --csv');
      const { store } = await openStoreFor(settingsFrom(opts));
      let r: ProviderReport;
      try {
        r = await providerReport(store, Number(opts.year));
      } finally {
        await store.close();
      }
      process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : opts.csv ? reportCsv(r) : reportText(r));
    });
}
