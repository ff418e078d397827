/**
 * Bench data: synthetic, valid, recent readings, streamed to disk (never held in memory).
 *
 * Vehicle i (0 ≤ i < vehicles) has a VIN that is unique and scattered over the key space (so inserts and look-ups
 * are not in key order, as in a real nightly file), a base odometer and a per-reading increment of 25..274 km.
 * Its k-th reading ("step" k) has odometer base + k × increment: every later step of a vehicle is higher, so a
 * dataset whose steps follow the vehicle's earlier datasets is free of A40/A41/A42 and of E21/W51.
 */
import fs from 'node:fs';
import { once } from 'node:events';

/** The 33 characters a VIN may use (no I, O, Q). */
const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
/** 9 scattered characters after an 8-character prefix. */
const VIN_SPACE = 33n ** 9n;
/**
 * Fibonacci hashing: i → i × MULT mod 33^9 with MULT ≈ 33^9 / φ and coprime with 33, a bijection that spreads
 * consecutive vehicles evenly over the key space (a nightly file is not in VIN order).
 */
const VIN_MULT = (() => {
  let m = (VIN_SPACE * 618_033_988_749n) / 1_000_000_000_000n;
  while (m % 3n === 0n || m % 11n === 0n) m++;
  return m;
})();
/** Vehicle indexes stay below this (far more than --records allows). */
export const MAX_VEHICLES = 1e12;

/** benchVin: 17 characters of [A-HJ-NPR-Z0-9], unique per vehicle index. */
export function benchVin(i: number): string {
  let x = (BigInt(i) * VIN_MULT + 12_345n) % VIN_SPACE;
  let tail = '';
  for (let k = 0; k < 9; k++) {
    tail = VIN_CHARS[Number(x % 33n)] + tail;
    x /= 33n;
  }
  return 'WVWZZZ1K' + tail;
}

/**
 * odometer of vehicle i at its step-th reading (km). Increments are 25..274 km: a vehicle that skips up to two
 * steps between two readings on one day (the two-file stages after the XML stage, which covers a fifth of the
 * vehicles) still stays below A42's 1,000 km a day.
 */
export function benchOdometer(i: number, step: number): number {
  const base = 5_000 + ((i * 7_919) % 150_000);
  const inc = 25 + ((i * 31) % 250);
  return base + step * inc;
}

/** daysAgo: the UTC date n days before today (n ≥ 1 is never after today in Brussels). */
export function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

/**
 * A dataset: passes over the vehicles [from, to); pass p dates every reading `dates[p]` and uses step
 * `firstStep + p`. Records = (to − from) × dates.length, written pass by pass (one date after the other, as a
 * DMS would send them).
 */
export interface Dataset {
  name: string;
  from: number;
  to: number;
  dates: string[];
  firstStep: number;
  /** The unit of every reading: `km` unless a stage wants them all rejected (a DMS writing `KMS`: E15). */
  unit?: string;
}

export function datasetRecords(d: Dataset): number {
  return (d.to - d.from) * d.dates.length;
}

export interface Reading {
  ref: string;
  vin: string;
  date: string;
  odometer: number;
}

export function* readingsOf(d: Dataset): Generator<Reading> {
  let n = 0;
  for (let p = 0; p < d.dates.length; p++) {
    const date = d.dates[p];
    for (let i = d.from; i < d.to; i++) {
      n++;
      yield { ref: `WO-${d.name}-${n}`, vin: benchVin(i), date, odometer: benchOdometer(i, d.firstStep + p) };
    }
  }
}

/** The inflow batch formats the bench can write. */
export type BenchFormat = 'csv' | 'xml';

export interface WrittenFile {
  path: string;
  records: number;
  sum: number;
  bytes: number;
}

/** A buffered writer that honours back-pressure. */
class LineSink {
  private buf: string[] = [];
  private readonly out: fs.WriteStream;
  bytes = 0;
  constructor(file: string) {
    this.out = fs.createWriteStream(file);
  }
  async push(s: string): Promise<void> {
    this.buf.push(s);
    if (this.buf.length >= 8192) await this.flush();
  }
  private async flush(): Promise<void> {
    if (!this.buf.length) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.bytes += Buffer.byteLength(chunk);
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.out, 'finish');
  }
}

const xmlEsc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/**
 * writeBatch writes dataset `d` as an inflow batch file (header, records, trailer with count and odometer sum)
 * and, when `nativeCsv` is given, the same records as plain `;`-separated rows for the sqlite3 baseline
 * (ref;vin;plate;date;odometer;unit;work;replaced;digits;corrects — no H, R or T).
 */
export async function writeBatch(d: Dataset, format: BenchFormat, sender: string, file: string, nativeCsv?: string): Promise<WrittenFile> {
  const out = new LineSink(file);
  const native = nativeCsv ? new LineSink(nativeCsv) : null;
  const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  let records = 0;
  let sum = 0;
  if (format === 'csv') await out.push(`H;INFLOW;1;${sender};${created};odo-inflow bench\n`);
  else
    await out.push(
      `<?xml version="1.0" encoding="UTF-8"?>\n<inflow version="1" sender="${sender}" created="${created}" software="odo-inflow bench">\n`,
    );
  for (const r of readingsOf(d)) {
    records++;
    sum += r.odometer;
    const row = `${r.ref};${r.vin};;${r.date};${r.odometer};${d.unit ?? 'km'};MAINT;N;;`;
    if (format === 'csv') await out.push(`R;${row}\n`);
    else {
      await out.push(
        `  <reading ref="${xmlEsc(r.ref)}"><vin>${r.vin}</vin><date>${r.date}</date>` +
          `<odometer unit="${xmlEsc(d.unit ?? 'km')}">${r.odometer}</odometer><work>MAINT</work><replaced>N</replaced></reading>\n`,
      );
    }
    if (native) await native.push(row + '\n');
  }
  if (format === 'csv') await out.push(`T;${records};${sum}\n`);
  else await out.push(`  <trailer count="${records}" sum="${sum}"/>\n</inflow>\n`);
  await out.close();
  if (native) await native.close();
  return { path: file, records, sum, bytes: out.bytes };
}
