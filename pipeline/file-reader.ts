/**
 * The job thread's side of a file's reader thread (pipeline/reader-thread.ts): starts it, hands out its messages
 * (the batches, then the verdict of the file-level checks) and gives each stored batch's buffer back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ScanResult } from './file-scan';
import type { RecordBatch } from './batcher';

export interface ReaderRequest {
  path: string;
  allowedSenders: string[];
  maxRecords: number;
  /** The Brussels date the file was received: no reading may be later (E17). */
  today: string;
  /** Records up to this line were stored by an earlier attempt: not sent again. */
  resumeAfter: number;
  batchSize: number;
  /** Batches the reader may have in flight. */
  ahead: number;
  /** Where batches read ahead of their storing wait (removed when the reader ends). */
  spoolPath: string;
}

/** The reader's messages, in this order: batches, the verdict, more batches (from the spool), the end. */
export type ReaderMessage =
  { kind: 'batch'; batch: RecordBatch } | { kind: 'verdict'; scan: ScanResult } | { kind: 'end' } | { kind: 'error'; message: string };

/** The job thread's message to the reader: one more batch may come; `buffer` is the stored batch's, to reuse. */
export interface ReaderCredit {
  kind: 'credit';
  buffer?: Uint8Array;
}

/**
 * threadScript finds the compiled reader thread: beside this module when it runs from dist/; from the sources
 * (ts-jest), in dist/, which the tests build before they run (test/global-setup.ts), so it is never stale.
 */
function threadScript(): string {
  const beside = path.join(__dirname, 'reader-thread.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.join(__dirname, '..', 'dist', 'pipeline', 'reader-thread.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`the reader thread is not built (${built}): run npm run build`);
}

/**
 * FileReader: one file's reader thread and the messages it has sent. The batches come through next(), in order;
 * the verdict through `verdict`, as soon as it is sent, whatever batches are still to be stored before it.
 */
export class FileReader {
  /** The verdict of the file-level checks (rejects when the thread fails first). */
  readonly verdict: Promise<ScanResult>;
  private readonly worker: Worker;
  private readonly queue: ReaderMessage[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private exited = false;
  private settleVerdict!: { resolve: (s: ScanResult) => void; reject: (e: Error) => void };

  constructor(private readonly req: ReaderRequest) {
    this.verdict = new Promise((resolve, reject) => (this.settleVerdict = { resolve, reject }));
    this.verdict.catch(() => {}); // next() reports the same failure
    fs.mkdirSync(path.dirname(req.spoolPath), { recursive: true, mode: 0o700 });
    // A reader holds a chunk, a batch of strings and the parser's state: a small heap keeps the process small.
    this.worker = new Worker(threadScript(), {
      workerData: req,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    this.worker.on('message', (m: ReaderMessage) => {
      if (m.kind === 'verdict') this.settleVerdict.resolve(m.scan);
      else this.queue.push(m);
      if (m.kind === 'error') this.settleVerdict.reject(new Error(`reader thread: ${m.message}`));
      this.wake?.();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.settleVerdict.reject(err);
      this.wake?.();
    });
    this.worker.on('exit', () => {
      this.exited = true;
      this.settleVerdict.reject(new Error('reader thread ended before its verdict'));
      this.wake?.();
    });
  }

  /** next returns the next batch, or the end (after the last batch). */
  async next(): Promise<{ kind: 'batch'; batch: RecordBatch } | { kind: 'end' }> {
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (m.kind === 'error') throw new Error(`reader thread: ${m.message}`);
        if (m.kind !== 'verdict') return m;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.exited) throw new Error('reader thread ended before its end');
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }

  /** nextReady returns the next batch when it has come already (no waiting), else null. */
  nextReady(): RecordBatch | null {
    if (this.queue[0]?.kind !== 'batch') return null;
    return (this.queue.shift() as { kind: 'batch'; batch: RecordBatch }).batch;
  }

  /** stored: the batch is stored; its buffer goes back to the reader and one more batch may come. */
  stored(batch: RecordBatch): void {
    if (this.exited) return;
    this.worker.postMessage({ kind: 'credit', buffer: batch.packed } satisfies ReaderCredit, [batch.packed.buffer as ArrayBuffer]);
  }

  /** close stops the thread (at once, wherever it is) and removes its spool; may be called more than once. */
  async close(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
    fs.rmSync(this.req.spoolPath, { force: true });
  }
}
