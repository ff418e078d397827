/**
 * The Trusted Provider label (docs/provider-report.md): an establishment earns it for a year when the readings of it that created a
 * discrepancy are below 0.5% of the readings it sent for that year. Exactly 0.5% does not earn it.
 */

/** The threshold as a fraction: 0.5%. */
export const TRUSTED_PROVIDER_MAX_RATE = 0.005;

/** discrepancyRate is discrepancies / readings as a fraction (0 when there are no readings). */
export function discrepancyRate(readings: number, discrepancies: number): number {
  return readings === 0 ? 0 : discrepancies / readings;
}

/**
 * earnsTrustedLabel: rate < 0.5%, decided in whole numbers (discrepancies × 1000 < readings × 5) so the boundary is
 * exact (1 in 200 is at 0.5%, not below it). No readings, no label.
 */
export function earnsTrustedLabel(readings: number, discrepancies: number): boolean {
  return readings > 0 && discrepancies * 1000 < readings * 5;
}

/** formatRate renders a fraction as a percentage with three decimals: 0.004975 → "0.498%". */
export function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(3)}%`;
}
