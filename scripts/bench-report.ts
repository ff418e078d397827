/**
 * The bench's tables: one backend's stages as before, or SQLite and PostgreSQL side by side (records/s, the
 * PostgreSQL/SQLite ratio, peak RSS of the front and the workers), the two-file ratio (2 workers / 1 worker), the
 * observations table (observations/s and time to the final status during a nightly file), and the history table
 * (readings already stored → nightly records/s).
 */
import os from 'node:os';
import type { NativeResult } from './bench-native';
import type { ObservationResult } from './bench-observations';
import { BACKEND_LABEL, type BackendName } from './bench-stack';
import type { StageResult } from './bench-stage';
import { PAIR_STAGES } from './bench-stages';

export interface HistoryResult {
  /** Readings in the store before the nightly file. */
  readings: number;
  /** Readings the seed stage added, and how long it took (upload start to last receipt). */
  seededRecords: number;
  seedSeconds: number;
  nightly: StageResult;
}

export interface BackendReport {
  backend: BackendName;
  /** sqlite3's version, or the PostgreSQL server's. */
  version: string;
  stages: (StageResult & { native?: NativeResult })[];
  /** The observations stage's load (null: no such stage). */
  observations: ObservationResult | null;
  history: HistoryResult[];
  lifetime: Record<string, { peakRssMb: number | null; vmHwmMb: number | null }>;
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (x: number | null) => (x === null ? '-' : x.toFixed(0));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '');
const short = (b: BackendName) => (b === 'sqlite' ? 'SQLite' : 'PG');

function table(head: string[], rows: string[][]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i])))
      .join('  ')
      .trimEnd();
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** renderReport: the stage table (one backend, or both side by side), the two-file ratios, the history table. */
export function renderReport(reports: BackendReport[], records: number, keptAt: string | null): string {
  const out = reports.length === 1 ? singleTable(reports[0]) : sideBySide(reports);
  out.push('');
  for (const r of reports) out.push(pairLine(r));
  if (reports.some((r) => r.observations)) out.push('', ...observationsTable(reports));
  if (reports.some((r) => r.history.length)) out.push('', ...historyTable(reports));
  out.push('');
  out.push(`seconds: start of the upload(s) until the last receipt is in /receipts/ (upload s: until the last upload's FTP 226).`);
  out.push(`MB: peak VmRSS during the stage, sampled every 100 ms (front = inflow serve --workers 0; workers = inflow worker).`);
  out.push(`native: the backend's own bulk import of the same records into one keyed table (native/ours = its seconds / ours).`);
  for (const r of reports)
    out.push(
      `${BACKEND_LABEL[r.backend]} ${r.version}; lifetime VmHWM MB: ` +
        Object.entries(r.lifetime)
          .map(([k, v]) => `${k} ${mb(v.vmHwmMb)}`)
          .join(', '),
    );
  out.push(`${os.cpus().length} CPUs, node ${process.version}; ${int(records)} records per nightly-sized file.`);
  if (keptAt) out.push(`kept: ${keptAt}`);
  return out.join('\n');
}

function singleTable(r: BackendReport): string[] {
  const head = ['stage', 'workers', 'records', 'upload s', 'seconds', 'records/s', 'front MB', 'worker MB', 'native/ours'];
  const rows: string[][] = [];
  for (const s of r.stages) {
    const w = s.workerPeakMb.map(mb).join(' / ');
    rows.push([
      s.stage,
      String(s.workers),
      int(s.records),
      s.uploadSeconds.toFixed(2),
      s.seconds.toFixed(2),
      int(s.recordsPerSecond),
      mb(s.serverPeakMb),
      w,
      s.native ? s.native.ratio.toFixed(4) : '',
    ]);
    if (s.native) {
      const n = s.native;
      rows.push([
        `  ${n.tool} (onto ${int(n.preloaded)})`,
        '',
        int(n.records),
        '',
        n.seconds.toFixed(2),
        int(n.recordsPerSecond),
        '',
        '',
        '',
      ]);
    }
  }
  return [`${BACKEND_LABEL[r.backend]}:`, ...table(head, rows)];
}

/** sideBySide: one row per stage, SQLite's and PostgreSQL's seconds, records/s and memory. */
function sideBySide(reports: BackendReport[]): string[] {
  const [a, b] = reports;
  const head = ['stage', 'workers', 'records'];
  for (const r of reports) head.push(`${short(r.backend)} s`, `${short(r.backend)} rec/s`);
  head.push(`${short(b.backend)}/${short(a.backend)}`);
  for (const r of reports) head.push(`${short(r.backend)} MB front; workers`);
  const rows: string[][] = [];
  for (const sa of a.stages) {
    const sb = b.stages.find((s) => s.stage === sa.stage);
    const pair = [sa, sb];
    const row = [sa.stage, String(sa.workers), int(sa.records)];
    for (const s of pair) row.push(s ? s.seconds.toFixed(2) : '-', s ? int(s.recordsPerSecond) : '-');
    row.push(ratio(sb?.recordsPerSecond, sa.recordsPerSecond));
    for (const s of pair) row.push(s ? `${mb(s.serverPeakMb)}; ${s.workerPeakMb.map(mb).join(' / ')}` : '-');
    rows.push(row);
    if (sa.native || sb?.native) {
      const n = [sa.native, sb?.native];
      const nrow = [`  native: ${n.map((x) => x?.tool ?? '-').join(' | ')}`, '', int(sa.records)];
      for (const x of n) nrow.push(x ? x.seconds.toFixed(2) : '-', x ? int(x.recordsPerSecond) : '-');
      nrow.push(ratio(n[1]?.recordsPerSecond, n[0]?.recordsPerSecond), '', '');
      rows.push(nrow);
    }
  }
  return table(head, rows);
}

/** pairLine: total records/s of two files with 2 workers over with 1 worker, and when each receipt came. */
function pairLine(r: BackendReport): string {
  const one = r.stages.find((s) => s.stage === PAIR_STAGES.one);
  const two = r.stages.find((s) => s.stage === PAIR_STAGES.two);
  if (!one || !two) return `${BACKEND_LABEL[r.backend]}: no two-file stages.`;
  const when = (s: StageResult) =>
    s.receipts
      .map((x) => x.receiptSeconds)
      .sort((x, y) => x - y)
      .map((x) => x.toFixed(1))
      .join(' and ') + ' s';
  return (
    `${BACKEND_LABEL[r.backend]}: two files, 2 workers / 1 worker = ${(two.recordsPerSecond / one.recordsPerSecond).toFixed(2)}× ` +
    `records/s; receipts at ${when(one)} with 1 worker, at ${when(two)} with 2; with 2, both workers busy at once ` +
    `for ${two.sideBySideSeconds.toFixed(1)} of ${two.seconds.toFixed(1)} s (worker CPU s: ${two.workerCpuSeconds.map((c) => (c === null ? '-' : c.toFixed(1))).join(' / ')}).`
  );
}

/** observationsTable: per backend, the observations sent during the stage's file, and that file's own pace. */
function observationsTable(reports: BackendReport[]): string[] {
  const head = ['backend', 'clients', 'observations', 'start s', 'seconds', 'obs/s', 'p50 s', 'p99 s', 'max s'];
  head.push('nightly s', 'nightly rec/s', 'nightly still running');
  const rows: string[][] = [];
  for (const r of reports) {
    const o = r.observations;
    if (!o) continue;
    const running = o.nightlyStillRunning
      ? `yes, ${o.nightlyAfterSeconds.toFixed(1)} s more`
      : `NO: ended ${(-o.nightlyAfterSeconds).toFixed(1)} s before`;
    rows.push([
      BACKEND_LABEL[r.backend],
      String(o.clients),
      int(o.observations),
      o.startSeconds.toFixed(2),
      o.seconds.toFixed(2),
      int(o.observationsPerSecond),
      o.p50Seconds.toFixed(2),
      o.p99Seconds.toFixed(2),
      o.maxSeconds.toFixed(2),
      o.nightlySeconds.toFixed(2),
      int(o.nightlyRecordsPerSecond),
      running,
    ]);
  }
  const first = reports.find((r) => r.observations)!;
  const stage = first.stages.find((s) => s.stage === first.observations!.stage)!;
  return [
    `Observations during a nightly-sized file (stage "${stage.stage}", ${stage.workers} worker(s), ${int(stage.records)} records; every one ACCEPTED):`,
    ...table(head, rows),
    "start s: from the file upload's start until the first POST (the file being processed); seconds: first POST until the last",
    "final status; p50/p99/max: one observation's POST start until its final status (GET ?wait=); nightly still running: whether",
    "the file's receipt came after the last observation's final status.",
  ];
}

/** historyTable: per history size, each backend's seeding time and nightly records/s (and PostgreSQL/SQLite). */
function historyTable(reports: BackendReport[]): string[] {
  const sizes = [...new Set(reports.flatMap((r) => r.history.map((h) => h.readings)))].sort((x, y) => x - y);
  const head = ['readings stored'];
  for (const r of reports) {
    const b = short(r.backend);
    head.push(`${b} seeded`, `${b} seed s`, `${b} nightly s`, `${b} rec/s`, `${b} worker MB`);
  }
  if (reports.length === 2) head.push(`${short(reports[1].backend)}/${short(reports[0].backend)}`);
  const rows = sizes.map((n) => {
    const row = [int(n)];
    const hs = reports.map((r) => r.history.find((h) => h.readings === n));
    for (const h of hs) {
      if (!h) row.push('-', '-', '-', '-', '-');
      else
        row.push(
          int(h.seededRecords),
          h.seedSeconds.toFixed(1),
          h.nightly.seconds.toFixed(2),
          int(h.nightly.recordsPerSecond),
          h.nightly.workerPeakMb.map(mb).join(' / '),
        );
    }
    if (reports.length === 2) row.push(ratio(hs[1]?.nightly.recordsPerSecond, hs[0]?.nightly.recordsPerSecond));
    return row;
  });
  return [
    'The nightly file onto a store that already holds N readings (per backend one fresh store, filled size by size through FTPS and',
    'the pipeline with 2 workers; seeded: the readings added for this size, seed s: how long that took; only the nightly is timed):',
    ...table(head, rows),
  ];
}
