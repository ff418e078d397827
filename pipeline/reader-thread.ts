/**
 * The reader thread: reads a file once (pipeline/read-file.ts) while the job thread stores the batches: both cores
 * work on one file. Messages to the job thread: the batches; the verdict of the file-level checks as soon as the
 * file is read; the batches still in the spool; the end.
 *
 * At most `ahead` batches are in flight: the job thread sends a credit for each batch it has stored, with the
 * batch's buffer, which later batches reuse (the packed bytes never pile up in either heap). Batches read while
 * none may be sent wait in the spool (pipeline/spool.ts): reading never waits for storing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BufferSource, RecordBatch } from './batcher';
import { Spool } from './spool';
import { readFile } from './read-file';
import type { ReaderCredit, ReaderMessage, ReaderRequest } from './file-reader';

/** Credits: batches the reader may still send, and the buffers the job thread gave back. */
class Credits {
  private credits: number;
  private wake: (() => void) | null = null;
  readonly spare: Uint8Array[] = [];

  constructor(private readonly ahead: number) {
    this.credits = ahead;
  }

  give(m: ReaderCredit): void {
    this.credits++;
    if (m.buffer && this.spare.length < this.ahead) this.spare.push(m.buffer);
    this.wake?.();
  }

  /** tryTake takes a credit when there is one. */
  tryTake(): boolean {
    if (this.credits === 0) return false;
    this.credits--;
    return true;
  }

  async take(): Promise<void> {
    while (this.credits === 0) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    this.credits--;
  }

  /** A returned buffer that is big enough, or a new one with room to spare (batches vary a little in size). */
  readonly buffers: BufferSource = (bytes) => {
    const i = this.spare.findIndex((b) => b.byteLength >= bytes);
    return i >= 0 ? this.spare.splice(i, 1)[0] : new Uint8Array(Math.ceil(bytes * 1.1));
  };
}

async function run(req: ReaderRequest, spool: Spool): Promise<void> {
  const port = parentPort!;
  const credits = new Credits(req.ahead);
  port.on('message', (m: ReaderCredit) => credits.give(m));
  const send = (batch: RecordBatch) =>
    port.postMessage({ kind: 'batch', batch } satisfies ReaderMessage, [batch.packed.buffer as ArrayBuffer]);
  // In file order: what waits in the spool goes first; a batch that cannot go now joins it.
  const offer = (batch: RecordBatch | null) => {
    while (spool.size > 0 && credits.tryTake()) send(spool.take(credits.buffers));
    if (!batch) return;
    if (spool.size === 0 && credits.tryTake()) {
      send(batch);
    } else {
      spool.put(batch);
      if (credits.spare.length < req.ahead) credits.spare.push(batch.packed);
    }
  };

  const { verdict, last } = await readFile(req.path, req, credits.buffers, offer);
  port.postMessage({ kind: 'verdict', scan: verdict } satisfies ReaderMessage);
  if (last) {
    offer(last);
    while (spool.size > 0) {
      await credits.take();
      send(spool.take(credits.buffers));
    }
  }
  port.postMessage({ kind: 'end' } satisfies ReaderMessage);
}

// Closing the port lets the thread end once the messages are out.
const request = workerData as ReaderRequest;
const spool = new Spool(request.spoolPath);
run(request, spool)
  .catch((err: Error) => parentPort!.postMessage({ kind: 'error', message: err.message } satisfies ReaderMessage))
  .finally(() => {
    spool.remove();
    parentPort!.close();
  });
