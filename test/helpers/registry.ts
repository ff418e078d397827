/**
 * An in-process registry for tests of what the pipeline stores: a real store (SQLite in a temp directory, or a
 * PostgreSQL database of its own), files
 * taken in as the intake does and processed by the real pipeline (processFile, its reader thread from dist/), and
 * the three views that must agree on anomalies: the history, label rule 1 and the provider report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolveSettings } from '../../config/defaults';
import { dataLayout } from '../../config/layout';
import type { FileRecord, Store } from '../../store';
import { openTestStore, type Backend } from './stores';
import { AuditLog } from '../../store/audit-log';
import { processFile, type PipelineContext } from '../../pipeline/process-file';
import { formatErrorNumber } from '../../rules/error-number';
import { vehicleHistory } from '../../queries/vehicle-history';
import { decideLabel } from '../../queries/label';
import { providerReport } from '../../queries/provider-report';
import { brusselsToday } from '../../rules/brussels-date';
import { csvBatch, type R } from './batch';

export interface SentIssue {
  line: number;
  code: string;
  errorNumber: string | null;
  correctable: boolean;
}

export interface Registry {
  dir: string;
  /** The PostgreSQL database's URL, null on SQLite (a second store on the same data opens with it). */
  databaseUrl: string | null;
  store: Store;
  ctx: PipelineContext;
  /** send takes a CSV file of `sender` in and processes it; its result and issues. */
  send(
    sender: string,
    records: (R | string)[],
    opts?: { trailer?: boolean | { count: number; sum: number } },
  ): Promise<{
    file: FileRecord;
    issues: SentIssue[];
  }>;
  close(): Promise<void>;
}

export async function openRegistry(senders: string[], backend: Backend = 'sqlite'): Promise<Registry> {
  const t = await openTestStore(backend);
  const { dir, store } = t;
  const layout = dataLayout(dir);
  const ctx: PipelineContext = { store, layout, settings: resolveSettings({ dataDir: dir }, {}), audit: new AuditLog(store.audit) };
  const accounts = new Map<string, number>();
  for (const s of senders) accounts.set(s, (await store.accounts.add({ establishment: s, name: s, role: 'garage', passwordHash: 'x' })).id);
  let n = 0;
  return {
    dir,
    databaseUrl: t.databaseUrl,
    store,
    ctx,
    send: async (sender, records, opts = {}) => {
      const name = `f${++n}.csv`;
      const text = csvBatch(sender, records, { trailer: opts.trailer ?? true });
      const storedPath = path.join(dir, name);
      fs.writeFileSync(storedPath, text);
      const f = await store.files.receive({
        accountId: accounts.get(sender)!,
        name,
        storedPath,
        size: text.length,
        sha256: `sha-${n}`,
        receivedAt: new Date().toISOString(),
      });
      const file = await processFile(ctx, f.pk);
      const issues = (await store.issues.forFile(f.pk)).map((i) => ({
        line: i.line,
        code: i.code,
        errorNumber: i.severity === 'E' || i.severity === 'A' ? formatErrorNumber(i.id) : null,
        correctable: i.correctable,
      }));
      return { file, issues };
    },
    close: async () => {
      await ctx.audit.close();
      await t.dispose();
    },
  };
}

/** The anomalies of a vehicle as each view sees them, by error number. */
export interface AnomalyViews {
  /** error number → state, from `inflow history`. */
  states: Record<string, string>;
  /** error number → the reading it was raised on (file:line, or manual:corrects). */
  readingOf: Record<string, string>;
  /** Error numbers the history shows in a counting state (open, confirmed) on a reading that is not superseded. */
  historyCounting: string[];
  /** Error numbers label rule 1 names. */
  label: string[];
}

const COUNTING = ['open', 'confirmed'];

/** anomalyViews reads a vehicle's anomalies through the history and the label decision (ad dated today). */
export async function anomalyViews(store: Store, vin: string): Promise<AnomalyViews> {
  const h = await vehicleHistory(store, vin);
  const states: Record<string, string> = {};
  const readingOf: Record<string, string> = {};
  const historyCounting: string[] = [];
  for (const r of h.readings) {
    for (const i of r.issues) {
      if (!i.state || !i.errorNumber) continue;
      states[i.errorNumber] = i.state;
      readingOf[i.errorNumber] = r.fileId ? `${r.fileId}:${r.line}` : `manual:${r.corrects}`;
      if (COUNTING.includes(i.state) && r.status !== 'superseded') historyCounting.push(i.errorNumber);
    }
  }
  const d = await decideLabel(store, vin, 9_999_999, brusselsToday(new Date()));
  const label = d.reasons.filter((x) => x.rule === 1).flatMap((x) => [...x.message.matchAll(/error number (\d{12})/g)].map((m) => m[1]));
  return { states, readingOf, historyCounting: historyCounting.sort(), label: label.sort() };
}

/** discrepancies: the provider report's discrepancies of `sender` over the given years. */
export async function discrepancies(store: Store, sender: string, years: number[]): Promise<number> {
  let n = 0;
  for (const y of years) n += (await providerReport(store, y)).providers.find((p) => p.establishment === sender)?.discrepancies ?? 0;
  return n;
}
