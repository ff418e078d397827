/**
 * A normalised dump of what a store holds about its files, read through the Store interface only, so one function
 * dumps every backend: per file (by account and name) its result and counts, its readings and its issues, one line
 * each. What differs between two runs of the same files by nature is left out or replaced by a stable key: file
 * ids and pks become the file's name, an error number (an issue id) becomes "file:line:code:field".
 */
import type { Store, StoredIssue } from '../../store';
import { formatErrorNumber } from '../../rules/error-number';

export interface StoreDump {
  /** `account/name` → the file's lines: its header line, then `R …` readings, then `I …` issues. */
  files: Map<string, string[]>;
  /** The error numbers of the E and A issues, as issued. */
  errorNumbers: string[];
}

const numbered = (i: StoredIssue) => i.severity === 'E' || i.severity === 'A';

export async function dumpStore(store: Store): Promise<StoreDump> {
  const files = (await store.files.list()).sort((a, b) => a.pk - b.pk);
  const nameOf = new Map(files.map((f) => [f.pk, f.name]));
  const issuesOf = new Map<number, StoredIssue[]>();
  const keyOf = new Map<number, string>();
  for (const f of files) {
    const issues = await store.issues.forFile(f.pk);
    issuesOf.set(f.pk, issues);
    for (const i of issues) keyOf.set(i.id, `${f.name}:${i.line}:${i.code}:${i.field}`);
  }
  const out: StoreDump = { files: new Map(), errorNumbers: [] };
  for (const f of files) {
    const lines = [
      [
        'F',
        f.status,
        f.result,
        f.format,
        f.sender,
        f.duplicateOf,
        f.records,
        f.accepted,
        f.rejected,
        f.anomalies,
        f.warnings,
        f.passed,
        f.receiptPath ? 'receipt' : 'no receipt',
      ].join(' '),
    ];
    for (const r of await store.readings.forFile(f.pk)) {
      const corrects = r.corrects === null ? '-' : (keyOf.get(r.corrects) ?? `unknown issue ${r.corrects}`);
      // prettier-ignore
      lines.push(['R', r.line, r.vin, r.date, r.odometer, r.unit, r.km, r.work, r.replaced, r.digits, r.ref, r.plate,
        r.sender, nameOf.get(r.fileId) ?? r.fileId, r.status, corrects].join(' '));
    }
    for (const i of issuesOf.get(f.pk)!) {
      // prettier-ignore
      lines.push(['I', i.line, i.startLine, i.code, i.severity, i.field, i.ref, i.vin, i.correctable, i.corrected, i.state,
        numbered(i) ? keyOf.get(i.id) : '-', i.message].join(' '));
      if (numbered(i)) out.errorNumbers.push(formatErrorNumber(i.id));
    }
    out.files.set(`${f.account}/${f.name}`, lines);
  }
  return out;
}

/**
 * dumpDiff says how two dumps differ, readably: files only in one, then per file the first `max` lines that
 * differ (with their positions); '' when they are the same.
 */
export function dumpDiff(expected: StoreDump, got: StoreDump, max = 12): string {
  const out: string[] = [];
  const keys = [...new Set([...expected.files.keys(), ...got.files.keys()])];
  for (const k of keys) {
    const e = expected.files.get(k);
    const g = got.files.get(k);
    if (!e || !g) {
      out.push(`${k}: only in the ${e ? 'expected' : 'tested'} run`);
      continue;
    }
    const [es, gs] = [new Set(e), new Set(g)];
    const missing = e.filter((l) => !gs.has(l));
    const extra = g.filter((l) => !es.has(l));
    if (missing.length === 0 && extra.length === 0 && e.join('\n') === g.join('\n')) continue;
    out.push(`${k}: ${e.length} lines expected, ${g.length} found`);
    for (const l of missing.slice(0, max)) out.push(`  - ${l}`);
    if (missing.length > max) out.push(`  … ${missing.length - max} more missing`);
    for (const l of extra.slice(0, max)) out.push(`  + ${l}`);
    if (extra.length > max) out.push(`  … ${extra.length - max} more unexpected`);
    if (missing.length === 0 && extra.length === 0) out.push('  (the same lines in another order)');
  }
  return out.join('\n');
}
