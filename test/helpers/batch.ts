/** Building small batch files inline, with dates relative to today so they never become late or future. */

/** daysAgo returns the date n days before today (UTC date; tests keep n ≥ 1 so Brussels' date never differs). */
export function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86400_000).toISOString().slice(0, 10);
}

export interface R {
  ref?: string;
  vin?: string;
  plate?: string;
  date?: string;
  odometer?: string | number;
  unit?: string;
  work?: string;
  replaced?: string;
  digits?: string;
  corrects?: string;
}

/** rLine renders one R record; defaults make a valid reading. */
export function rLine(r: R): string {
  const f = (v: unknown, d: string) => (v === undefined ? d : String(v));
  return [
    'R',
    f(r.ref, ''),
    f(r.vin, 'TSTVNZZZ000000001'),
    f(r.plate, ''),
    f(r.date, daysAgo(2)),
    f(r.odometer, '10000'),
    f(r.unit, 'km'),
    f(r.work, 'MAINT'),
    f(r.replaced, 'N'),
    f(r.digits, ''),
    f(r.corrects, ''),
  ].join(';');
}

/** csvBatch renders a whole file: H line, records (objects or raw lines), optional trailer. */
export function csvBatch(
  sender: string,
  records: (R | string)[],
  opts: { trailer?: boolean | { count: number; sum: number } } = {},
): string {
  const lines = [`H;INFLOW;1;${sender};2026-11-25T22:00:00+01:00;TestDMS 1.0`];
  let count = 0;
  let sum = 0;
  for (const r of records) {
    const line = typeof r === 'string' ? r : rLine(r);
    lines.push(line);
    const f = line.split(';');
    if (f[0] === 'R') {
      count++;
      if (/^\d+$/.test(f[5] ?? '')) sum += Number(f[5]);
    }
  }
  if (opts.trailer === true) lines.push(`T;${count};${sum}`);
  else if (opts.trailer) lines.push(`T;${opts.trailer.count};${opts.trailer.sum}`);
  return lines.join('\n') + '\n';
}

/** vin makes a valid 17-character VIN ending in the given number (a prefix the fixtures do not use). */
export function vin(n: number): string {
  return 'TSTVNZZZ' + String(n).padStart(9, '0');
}
