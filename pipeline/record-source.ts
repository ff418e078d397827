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
import { detectFormat } from '../parsers/detect-format';

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

/** The job thread's message to a records reader: one more batch may come; `buffer` is the committed batch's, to reuse. */
export interface ReaderCredit {
  kind: 'credit';
  buffer?: Uint8Array;
}

export interface RecordSource {
  scan(): Promise<ScanResult>;
  /**
   * The batches (none when the format cannot be told). They may be read before the scan has ended; a batch's
   * buffer is reused once the next one is asked for, so commit (or copy) a batch before asking.
   */
  batches(): AsyncIterable<RecordBatch>;
  /** Stops the reader thread(s); may be called again (scanAndStore closes a source after a roll-back, its opener at the end). */
  close(): Promise<void>;
}

/** threadScript finds the compiled reader thread: beside this module in dist/, or in dist/ when run from sources. */
function threadScript(): string | null {
  const beside = path.join(__dirname, 'reader-thread.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.join(__dirname, '..', 'dist', 'pipeline', 'reader-thread.js');
  return fs.existsSync(built) ? built : null;
}

/** What a reader thread does (pipeline/reader-thread.ts). */
export type ReaderMode = 'scan' | 'records' | 'once';

/**
 * openRecordSource starts reading `req.path`: a CSV file on two threads (a quick scan beside the records), an XML
 * file on one that reads it once for both (the scan of XML is a full parse: two would compete for one core).
 * `opts.scan` false: the records only, on one thread.
 */
export async function openRecordSource(req: ReaderRequest, opts: { scan?: boolean } = {}): Promise<RecordSource> {
  const script = process.env.INFLOW_READER_THREAD === '0' ? null : threadScript();
  if (!script) return inProcessSource(req);
  if (opts.scan === false) return recordsSource(script, req);
  const detected = await detectFormat(req.path);
  return 'format' in detected && detected.format === 'xml' ? onceSource(script, req) : threadSource(script, req);
}

/** recordsSource: the records alone, on one thread (`scan: false`: the caller has the scan already). */
function recordsSource(script: string, req: ReaderRequest): RecordSource {
  const reader = new ThreadReader(script, { ...req, mode: 'records' });
  return {
    scan: () => Promise.reject(new Error('this record source was opened without a scan')),
    batches: () => batchesOf(reader),
    close: () => reader.stop(),
  };
}

function inProcessSource(req: ReaderRequest): RecordSource {
  let scanned: ScanResult | null = null;
  return {
    scan: async () => (scanned = await scanFile(req.path, req)),
    batches: async function* () {
      const detected = scanned?.format ? { format: scanned.format } : await detectFormat(req.path);
      if ('format' in detected) yield* recordBatches(req.path, { ...req, format: detected.format });
    },
    close: async () => {},
  };
}

/** ThreadReader: one reader thread and the messages it has sent. */
class ThreadReader {
  private readonly worker: Worker;
  private readonly queue: ReaderMessage[] = [];
  private wake: (() => void) | null = null;
  private wakeScan: (() => void) | null = null;
  private failure: Error | null = null;
  exited = false;

  constructor(script: string, data: ReaderRequest & { mode: ReaderMode }) {
    // A reader holds a chunk, a batch of strings and the parser's state: a small heap keeps the process small.
    this.worker = new Worker(script, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
    const wakeAll = () => {
      this.wake?.();
      this.wakeScan?.();
    };
    this.worker.on('message', (m: ReaderMessage) => {
      this.queue.push(m);
      wakeAll();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      wakeAll();
    });
    this.worker.on('exit', () => {
      this.exited = true;
      wakeAll();
    });
  }

  /** next returns the next message other than a scan (nextScan takes those). */
  async next(): Promise<ReaderMessage> {
    for (;;) {
      const i = this.queue.findIndex((q) => q.kind !== 'scan');
      const m = i >= 0 ? this.queue.splice(i, 1)[0] : undefined;
      if (m) {
        if (m.kind === 'error') throw new Error(`reader thread: ${m.message}`);
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.exited) throw new Error('reader thread ended early');
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }

  /** nextScan returns the scan message, whatever other messages came before it (they stay queued, in order). */
  async nextScan(): Promise<ScanResult> {
    for (;;) {
      const i = this.queue.findIndex((m) => m.kind === 'scan' || m.kind === 'error');
      if (i >= 0) {
        const m = this.queue.splice(i, 1)[0];
        if (m.kind === 'error') throw new Error(`reader thread: ${m.message}`);
        return (m as { kind: 'scan'; scan: ScanResult }).scan;
      }
      if (this.failure) throw this.failure;
      if (this.exited) throw new Error('reader thread ended before its scan');
      await new Promise<void>((r) => (this.wakeScan = r));
      this.wakeScan = null;
    }
  }

  credit(buffer: Uint8Array): void {
    this.worker.postMessage({ kind: 'credit', buffer } satisfies ReaderCredit, [buffer.buffer as ArrayBuffer]);
  }

  async stop(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}

/** batchesOf yields a records reader's batches until its end, returning each one's buffer when the next is asked for. */
async function* batchesOf(reader: ThreadReader): AsyncGenerator<RecordBatch> {
  for (;;) {
    const m = await reader.next();
    if (m.kind === 'end') return;
    if (m.kind !== 'batch') throw new Error(`reader thread: expected a batch, got ${m.kind}`);
    yield m.batch;
    reader.credit(m.batch.packed); // the caller committed it: its buffer goes back
  }
}

function threadSource(script: string, req: ReaderRequest): RecordSource {
  const scanner = new ThreadReader(script, { ...req, mode: 'scan' });
  const reader = new ThreadReader(script, { ...req, mode: 'records' });
  return {
    scan: () => scanner.nextScan(),
    batches: () => batchesOf(reader),
    close: async () => {
      await Promise.all([scanner.stop(), reader.stop()]);
    },
  };
}

/** onceSource: one reader thread that sends the batches and, once it has read the whole file, the scan. */
function onceSource(script: string, req: ReaderRequest): RecordSource {
  const reader = new ThreadReader(script, { ...req, mode: 'once' });
  return {
    scan: () => reader.nextScan(),
    batches: () => batchesOf(reader),
    close: () => reader.stop(),
  };
}
