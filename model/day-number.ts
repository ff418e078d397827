/** Dates as day numbers (days since 1970-01-01, UTC): compact keys in the store and cheap comparisons in the rules. */

const DAY_MS = 86_400_000;

const recent = new Map<string, number>();

/** dayOf turns a valid `YYYY-MM-DD` into its day number (remembering a few hundred: files repeat their dates). */
export function dayOf(date: string): number {
  let d = recent.get(date);
  if (d === undefined) {
    d = Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, +date.slice(8, 10)) / DAY_MS;
    if (recent.size > 512) recent.clear();
    recent.set(date, d);
  }
  return d;
}

/** dateOfDay turns a day number back into `YYYY-MM-DD`. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
