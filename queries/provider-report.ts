/** The yearly Trusted Provider report (docs/provider-report.md) from the store's per-establishment counts. */
import type { Store } from '../store';
import { COUNTING_STATES } from '../rules/correction-outcome';
import { discrepancyRate, earnsTrustedLabel } from '../rules/provider-label';

export interface ProviderLine {
  establishment: string;
  readings: number;
  discrepancies: number;
  /** discrepancies / readings, a fraction (0.005 = 0.5%). */
  rate: number;
  /** Earns the Trusted Provider label: rate below 0.5%. */
  label: boolean;
}

/** The JSON of `inflow report providers --json` (docs/provider-report.md); more fields may be added. */
export interface ProviderReport {
  year: number;
  providers: ProviderLine[];
  totals: { providers: number; labelled: number; readings: number; discrepancies: number; rate: number };
}

/** providerReport counts the readings dated in `year` per establishment, sorted by establishment number. */
export async function providerReport(store: Store, year: number): Promise<ProviderReport> {
  const y = String(year).padStart(4, '0');
  const providers = (await store.reports.providerCounts(`${y}-01-01`, `${y}-12-31`, COUNTING_STATES)).map((p) => ({
    ...p,
    rate: discrepancyRate(p.readings, p.discrepancies),
    label: earnsTrustedLabel(p.readings, p.discrepancies),
  }));
  const readings = providers.reduce((n, p) => n + p.readings, 0);
  const discrepancies = providers.reduce((n, p) => n + p.discrepancies, 0);
  return {
    year,
    providers,
    totals: {
      providers: providers.length,
      labelled: providers.filter((p) => p.label).length,
      readings,
      discrepancies,
      rate: discrepancyRate(readings, discrepancies),
    },
  };
}
