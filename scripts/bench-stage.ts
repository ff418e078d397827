/**
 * One timed stage: upload its files over FTPS at once, wait until every receipt is in the account's receipts
 * folder, and check that each says what the file's spec expects (a bench of a broken pipeline is worthless).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openFileQueue } from '../jobs/queue';
import type { BenchFormat, WrittenFile } from './bench-data';
import { describeTail, runInflow } from './bench-procs';
import { allChildren, BenchFailure, connect, log, setWorkers, signals, storeArgs, type Run } from './bench-stack';
import { ESTABLISHMENT, UPLOAD_CONNECTIONS, type FileSpec, type StageSpec } from './bench-stages';

export interface StageFile {
  batch: WrittenFile;
  /** The same records as plain rows for the native import (null when no native stage needs them). */
  native: string | null;
  spec: FileSpec;
}

export interface StageResult {
  stage: string;
  files: number;
  workers: number;
  records: number;
  bytes: number;
  /** Start of the uploads until the last 226. */
  uploadSeconds: number;
  /** Start of the uploads until the last receipt is present. */
  seconds: number;
  recordsPerSecond: number;
  /** Peak VmRSS during the stage (sampled every 100 ms), MB. */
  serverPeakMb: number | null;
  workerPeakMb: (number | null)[];
  /** CPU seconds (user + system) of each worker during the stage. */
  workerCpuSeconds: (number | null)[];
  /** Seconds during which two or more workers were each busy (≥ a tenth of a core): files processed side by side. */
  sideBySideSeconds: number;
  receipts: { file: string; status: string; records: number; accepted: number; receiptSeconds: number }[];
}

export const round1 = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
export const round2 = (x: number) => Math.round(x * 100) / 100;

/** The longest wait for a stage of `records` records: --timeout, else 300 s + 3 ms per record. */
export const stageTimeoutMs = (run: Run, records: number) => (run.timeoutSeconds ?? 300 + records * 0.003) * 1000;

export async function runStage(run: Run, stage: StageSpec, files: StageFile[]): Promise<StageResult> {
  const jobs = run.backend === 'postgres' ? stage.postgresWorkerJobs : undefined;
  const workers = jobs?.length ?? stage.workers;
  await setWorkers(run, workers, jobs);
  const records = files.reduce((a, f) => a + f.batch.records, 0);
  const receiptsDir = dataLayout(run.dataDir).receiptsDir(ESTABLISHMENT);
  const names = files.map((f) => path.basename(f.batch.path));
  const receiptPaths = files.map((f, i) => path.join(receiptsDir, `${names[i]}.receipt.${f.spec.format === 'xml' ? 'xml' : 'csv'}`));
  log(`${run.backend}: ${stage.name}: uploading ${files.length} file(s), ${records} records, ${workers} worker(s)…`);

  run.sampler.resetPeaks();
  const t0 = performance.now();
  const failed: { error: Error | null } = { error: null };
  const uploadsDone: number[] = [];
  const uploads = uploadAll(run, files, names, uploadsDone, failed);
  const timeoutMs = stageTimeoutMs(run, records);
  const receiptAt = await waitForReceipts(run, stage, receiptPaths, t0, timeoutMs, () => failed.error);
  const t1 = Math.max(...receiptAt);
  run.sampler.sample();
  await uploads;
  if (failed.error) throw failed.error;

  const seconds = (t1 - t0) / 1000;
  const receipts = files.map((f, i) => {
    const r = checkedReceipt(run, stage, f, receiptPaths[i]);
    return {
      file: names[i],
      status: r.status,
      records: r.records,
      accepted: r.accepted,
      receiptSeconds: round2((receiptAt[i] - t0) / 1000),
    };
  });
  return {
    stage: stage.name,
    files: files.length,
    workers,
    records,
    bytes: files.reduce((a, f) => a + f.batch.bytes, 0),
    uploadSeconds: round2((Math.max(...uploadsDone) - t0) / 1000),
    seconds: round2(seconds),
    recordsPerSecond: Math.round(records / seconds),
    serverPeakMb: round1(run.sampler.stagePeakMb('server')),
    workerPeakMb: run.workers.map((w) => round1(run.sampler.stagePeakMb(w.name))),
    workerCpuSeconds: run.workers.map((w) => round1(run.sampler.stageCpuSeconds(w.name))),
    sideBySideSeconds: round1(run.sampler.stageSideBySideSeconds())!,
    receipts,
  };
}

/**
 * uploadAll uploads the files over up to UPLOAD_CONNECTIONS connections at once (each its share, one after the
 * other): a stage of two files uploads both at the same time. Failures go to `failed` (the receipts wait stops).
 */
async function uploadAll(run: Run, files: StageFile[], names: string[], done: number[], failed: { error: Error | null }): Promise<void> {
  const lanes = Math.min(files.length, UPLOAD_CONNECTIONS);
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      let client;
      try {
        client = await connect(run);
      } catch (err) {
        failed.error ??= new BenchFailure(`FTPS login failed: ${(err as Error).message}`);
        return;
      }
      try {
        for (let i = lane; i < files.length; i += lanes) {
          await client.uploadFrom(files[i].batch.path, names[i]);
          done.push(performance.now());
        }
      } catch (err) {
        failed.error ??= new BenchFailure(`upload failed: ${(err as Error).message}`);
      } finally {
        client.close();
      }
    }),
  );
}

/** checkedReceipt reads a file's receipt and fails the bench unless it says what the file's spec expects. */
function checkedReceipt(run: Run, stage: StageSpec, f: StageFile, receiptPath: string): ParsedReceipt {
  const r = parseReceipt(receiptPath, f.spec.format);
  const rejected = f.spec.expect === 'rejected';
  const expected = { status: rejected ? 'PARTIAL' : 'ACCEPTED', accepted: rejected ? 0 : f.batch.records };
  if (r.status !== expected.status || r.records !== f.batch.records || r.accepted !== expected.accepted) {
    throw new BenchFailure(
      `${run.backend}: stage "${stage.name}": receipt of ${path.basename(f.batch.path)} says ${r.status}, ${r.records} records, ` +
        `${r.accepted} accepted; expected ${expected.status} with ${f.batch.records} records, ${expected.accepted} accepted.\n${r.head}\n` +
        run.workers.map((w) => describeTail(w)).join('\n'),
    );
  }
  return r;
}

/**
 * waitForReceipts polls the receipts folder on disk every 100 ms (receipts are written to a temp name and
 * renamed: present means complete). Fails at once when a child exits, an upload fails, or a file's job failed for
 * good (BullMQ keeps failed jobs: checked every second on the run's private Redis); fails with the files' states
 * after `timeoutMs`.
 */
async function waitForReceipts(
  run: Run,
  stage: StageSpec,
  paths: string[],
  t0: number,
  timeoutMs: number,
  uploadFailure: () => Error | null,
): Promise<number[]> {
  const at: (number | null)[] = paths.map(() => null);
  const q = openFileQueue(run.redis!.url, DEFAULTS, { setConcurrency: false });
  try {
    let lastFailedCheck = 0;
    for (;;) {
      if (signals.interrupted) throw new BenchFailure('interrupted');
      const now = performance.now();
      paths.forEach((p, i) => {
        if (at[i] === null && fs.existsSync(p)) at[i] = now;
      });
      if (at.every((t) => t !== null)) return at as number[];
      const fail = (why: string) => {
        throw new BenchFailure(
          `${run.backend}: stage "${stage.name}" failed after ${((now - t0) / 1000).toFixed(1)} s: ${why}\n${diagnostics(run)}`,
        );
      };
      const up = uploadFailure();
      if (up) fail(up.message);
      for (const c of allChildren(run))
        if (c.exited) fail(`${c.name} (pid ${c.pid}) exited: code ${c.exited.code}, signal ${c.exited.signal}`);
      if (now - lastFailedCheck > 1000) {
        lastFailedCheck = now;
        const failed = await q.queue.getFailed(0, 4).catch(() => []);
        if (failed.length) fail(`file failed for good: ${failed.map((j) => `${j.id}: ${j.failedReason}`).join('; ')}`);
      }
      if (now - t0 > timeoutMs) {
        const missing = paths.filter((_, i) => at[i] === null).map((p) => path.basename(p));
        fail(`no receipt for ${missing.join(', ')} within ${(timeoutMs / 1000).toFixed(0)} s (--timeout)`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await q.close();
  }
}

/** diagnostics: the files' states (via the CLI) and the last lines of every child. */
function diagnostics(run: Run): string {
  const parts: string[] = [];
  const list = runInflow(['files', 'list', '--json', ...storeArgs(run)]);
  try {
    const files = JSON.parse(list.stdout) as { id: string; name: string; status: string; result: string | null; records: number | null }[];
    parts.push('--- inflow files list ---');
    for (const f of files) {
      parts.push(`${f.id} ${f.name} status=${f.status} result=${f.result ?? '-'} records=${f.records ?? '-'}`);
      if (f.status !== 'done') {
        const show = runInflow(['files', 'show', f.id, '--json', ...storeArgs(run)]);
        try {
          const s = JSON.parse(show.stdout) as { attempts: number; error: string | null };
          parts.push(`  attempts=${s.attempts} error=${s.error ?? '-'}`);
        } catch {
          parts.push(`  files show: ${show.stderr.trim()}`);
        }
      }
    }
  } catch {
    parts.push(`inflow files list failed: ${list.stderr.trim()}`);
  }
  for (const c of allChildren(run)) parts.push(describeTail(c));
  return parts.join('\n');
}

interface ParsedReceipt {
  status: string;
  records: number;
  accepted: number;
  /** The first lines, for a failure message. */
  head: string;
}

/** parseReceipt reads the receipt's header (docs/receipts.md). Reads only the start: a bad receipt may be huge. */
function parseReceipt(file: string, format: BenchFormat): ParsedReceipt {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8192);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const text = buf.subarray(0, n).toString('utf8');
  const head = text.split('\n').slice(0, 12).join('\n');
  if (format === 'csv') {
    const h = text.split('\n')[0].split(';');
    if (h[0] !== 'H' || h[1] !== 'INFLOW-RECEIPT') throw new BenchFailure(`${file} does not start with an INFLOW-RECEIPT header:\n${head}`);
    return { status: h[8], records: Number(h[9]), accepted: Number(h[10]), head };
  }
  // XML receipt (schemas/inflow-receipt-1.xsd): the counts are attributes of the <receipt> start tag.
  const start = /<receipt\s[^>]*>/.exec(text)?.[0];
  const attr = (name: string) => (start ? new RegExp(`\\s${name}="([^"]*)"`).exec(start)?.[1] : undefined);
  const status = attr('status');
  if (status === undefined) throw new BenchFailure(`cannot find <receipt status=…> in the XML receipt ${file}:\n${head}`);
  return { status, records: Number(attr('records')), accepted: Number(attr('accepted')), head };
}
