/** XML batch files inline, the XML receipt read the way a sender's software would, and xmllint. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { daysAgo, type R } from './batch';
import type { ParsedReceipt } from './receipt';

export const SCHEMAS = path.join(__dirname, '..', '..', 'schemas');

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** xmlReading renders one <reading> on one line; defaults make a valid reading, '' leaves an element out. */
export function xmlReading(r: R, extra = ''): string {
  const f = (v: unknown, d: string) => (v === undefined ? d : String(v));
  const el = (name: string, v: string) => (v === '' ? '' : `<${name}>${esc(v)}</${name}>`);
  const ref = f(r.ref, '');
  return (
    `<reading${ref ? ` ref="${esc(ref)}"` : ''}>` +
    el('vin', f(r.vin, 'TSTVNZZZ000000001')) +
    el('plate', f(r.plate, '')) +
    el('date', f(r.date, daysAgo(2))) +
    `<odometer unit="${esc(f(r.unit, 'km'))}">${esc(f(r.odometer, '10000'))}</odometer>` +
    el('work', f(r.work, 'MAINT')) +
    el('replaced', f(r.replaced, 'N')) +
    el('digits', f(r.digits, '')) +
    el('corrects', f(r.corrects, '')) +
    `${extra}</reading>`
  );
}

/** xmlBatch renders a whole file, one reading (or raw element) per line after the root: like csvBatch's lines. */
export function xmlBatch(
  sender: string,
  readings: (R | string)[],
  opts: { trailer?: boolean | { count: number; sum: number } } = {},
): string {
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?><inflow version="1" sender="${sender}" created="2026-11-25T22:00:00+01:00" software="TestDMS 1.0">`,
  ];
  let count = 0;
  let sum = 0;
  for (const r of readings) {
    lines.push('  ' + (typeof r === 'string' ? r : xmlReading(r)));
    if (typeof r === 'string') continue;
    count++;
    if (/^\d+$/.test(String(r.odometer ?? '10000'))) sum += Number(r.odometer ?? 10000);
  }
  if (opts.trailer === true) lines.push(`  <trailer count="${count}" sum="${sum}"/>`);
  else if (opts.trailer) lines.push(`  <trailer count="${opts.trailer.count}" sum="${opts.trailer.sum}"/>`);
  lines.push('</inflow>');
  return lines.join('\n') + '\n';
}

/** parseXmlReceipt reads an XML receipt into the shape parseReceipt gives for a CSV one. */
export function parseXmlReceipt(text: string): ParsedReceipt {
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    textNodeName: 'message',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    isArray: (name) => name === 'issue',
  }).parse(text);
  const r = doc.receipt;
  if (!r || r.format !== 'INFLOW-RECEIPT' || r.version !== '1') throw new Error('not an INFLOW-RECEIPT: ' + text.slice(0, 200));
  const issues = (r.issue ?? []).map((i: Record<string, string>) => ({
    errorNumber: i.errorNumber ?? '',
    line: Number(i.line),
    ...(i.reading === undefined ? {} : { reading: Number(i.reading) }),
    ref: i.ref ?? '',
    vin: i.vin ?? '',
    code: i.code,
    severity: i.severity,
    field: i.field,
    correctable: i.correctable,
    message: i.message ?? '',
  }));
  return {
    fileId: r.fileId,
    name: r.name,
    sha256: r.sha256,
    received: r.received,
    processed: r.processed,
    status: r.status,
    records: Number(r.records),
    accepted: Number(r.accepted),
    rejected: Number(r.rejected),
    anomalies: Number(r.anomalies),
    warnings: Number(r.warnings),
    issues,
    trailerCount: Number(r.trailer?.count),
  };
}

/** hasXmllint tells whether the xmllint binary (Debian's libxml2-utils) is on the PATH. */
export function hasXmllint(): boolean {
  return spawnSync('xmllint', ['--version']).status === 0;
}

/** xmllint validates `file` against `schema` (a file in schemas/), never fetching anything; stderr on failure. */
export function xmllint(schema: string, file: string): { ok: boolean; stderr: string } {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', path.join(SCHEMAS, schema), file], { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}
