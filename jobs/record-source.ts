/**
 * Where the job thread gets a file's scan and record batches from: the reader thread (default: parsing runs on the
 * other core while this thread writes SQLite), or the same generators in-process (INFLOW_READER_THREAD=0, and
 * when the compiled thread script is not there, as under ts-jest without a build).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { scanFile, type ScanResult } from './scan-file';
import { recordBatches, type RecordBatch } from './read-records';

export interface ReaderRequest {
  path: string;
  allowedSenders: string[];
  maxRecords: number;
  today: string;
  resumeAfter: number;
  batchSize: number;
  /** Batches the reader may have in flight. */
  ahead: number;
}

export type ReaderMessage =
  | { kind: 'scan'; scan: ScanResult }
  | { kind: 'batch'; batch: RecordBatch }
  | { kind: 'end' }
  | { kind: 'error'; message: string };

export interface RecordSource {
  scan(): Promise<ScanResult>;
  /** The batches, after a scan without findings; call `done` after committing each one. */
  batches(): AsyncIterable<RecordBatch>;
  close(): Promise<void>;
}

/** threadScript finds the compiled reader thread: beside this module in dist/, or in dist/ when run from sources. */
function threadScript(): string | null {
  const beside = path.join(__dirname, 'reader-thread.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.join(__dirname, '..', 'dist', 'jobs', 'reader-thread.js');
  return fs.existsSync(built) ? built : null;
}

/** openRecordSource starts reading `req.path`. */
export function openRecordSource(req: ReaderRequest): RecordSource {
  const script = process.env.INFLOW_READER_THREAD === '0' ? null : threadScript();
  return script ? threadSource(script, req) : inProcessSource(req);
}

function inProcessSource(req: ReaderRequest): RecordSource {
  let scanned: ScanResult | null = null;
  return {
    scan: async () => (scanned = await scanFile(req.path, req)),
    batches: () => recordBatches(req.path, { ...req, format: scanned!.format! }),
    close: async () => {},
  };
}

function threadSource(script: string, req: ReaderRequest): RecordSource {
  // The reader holds a chunk, a batch of strings and csv-parse's state: a small heap keeps the process small.
  const worker = new Worker(script, { workerData: req, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 } });
  const queue: ReaderMessage[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  let exited = false;
  worker.on('message', (m: ReaderMessage) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (err) => {
    failure = err;
    wake?.();
  });
  worker.on('exit', () => {
    exited = true;
    wake?.();
  });
  const next = async (): Promise<ReaderMessage> => {
    for (;;) {
      const m = queue.shift();
      if (m) {
        if (m.kind === 'error') throw new Error(`reader thread: ${m.message}`);
        return m;
      }
      if (failure) throw failure;
      if (exited) throw new Error('reader thread ended early');
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  };
  return {
    scan: async () => {
      const m = await next();
      if (m.kind !== 'scan') throw new Error(`reader thread: expected the scan, got ${m.kind}`);
      return m.scan;
    },
    batches: async function* () {
      for (;;) {
        const m = await next();
        if (m.kind === 'end') return;
        if (m.kind !== 'batch') throw new Error(`reader thread: expected a batch, got ${m.kind}`);
        yield m.batch;
        worker.postMessage({ kind: 'credit' }); // the caller committed it
      }
    },
    close: async () => {
      if (!exited) await worker.terminate();
    },
  };
}
