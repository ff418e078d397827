/**
 * A reader thread: parses a file and runs the stateless checks while the job's thread writes to SQLite, so both
 * cores work on one file. The records reader keeps at most `ahead` batches in flight (bounded memory): the job
 * thread sends a credit for each batch it has committed, with the batch's buffer, which the next batches reuse (the
 * packed bytes never pile up in either heap).
 *
 * Modes:
 * - `scan`: the file-level checks over the whole file (a CSV scan skips what they ignore: several times faster
 *   than reading records), on a thread of its own beside a `records` reader.
 * - `records`: the batches.
 * - `once` (XML: its scan costs as much as reading the records): one reading feeds both the scan and the batches.
 *   When the credits run out before the end of the file, the reading goes on for the scan alone (the job thread
 *   cannot commit before the scan's verdict), then the records after the last batch sent are read again.
 *   Messages: batches, the scan, more batches, end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FileScan, scanFile, unreadable } from './scan-file';
import { Batcher, recordBatches, type BufferSource, type RecordBatch } from './read-records';
import { detectFormat } from '../parsers/detect-format';
import { readBatch } from '../parsers/read-batch';
import type { ReaderRequest, ReaderMessage, ReaderCredit, ReaderMode } from './record-source';

async function run(req: ReaderRequest & { mode: ReaderMode }): Promise<void> {
  const port = parentPort!;
  const send = (m: ReaderMessage) => port.postMessage(m);
  if (req.mode === 'scan') {
    send({ kind: 'scan', scan: await scanFile(req.path, req) });
    return;
  }
  let credits = req.ahead;
  let wake: (() => void) | null = null;
  const spare: Uint8Array[] = [];
  port.on('message', (m: ReaderCredit) => {
    if (m.kind === 'credit') {
      credits++;
      if (m.buffer && spare.length < req.ahead) spare.push(m.buffer);
      wake?.();
    }
  });
  // A returned buffer that is big enough, or a new one with room to spare (batches vary a little in size).
  const buffers: BufferSource = (bytes) => {
    const i = spare.findIndex((b) => b.byteLength >= bytes);
    return i >= 0 ? spare.splice(i, 1)[0] : new Uint8Array(Math.ceil(bytes * 1.1));
  };
  const sendBatch = async (batch: RecordBatch) => {
    while (credits === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    credits--;
    port.postMessage({ kind: 'batch', batch } satisfies ReaderMessage, [batch.packed.buffer as ArrayBuffer]);
  };

  const detected = await detectFormat(req.path);
  if (!('format' in detected)) {
    if (req.mode === 'once') send({ kind: 'scan', scan: unreadable(detected.fatal) });
    send({ kind: 'end' });
    return;
  }
  const opts = { ...req, format: detected.format };
  if (req.mode === 'records') {
    for await (const batch of recordBatches(req.path, opts, buffers)) await sendBatch(batch);
    send({ kind: 'end' });
    return;
  }

  // once
  const scan = new FileScan(detected.format, req);
  const batcher = new Batcher(opts, buffers);
  let sentUpTo: number | null = null; // set when the credits ran out: the records after this line are read again
  let lastSent = req.resumeAfter;
  for await (const item of readBatch(req.path, detected.format)) {
    if (!scan.add(item)) break;
    if (sentUpTo !== null) continue;
    const batch = batcher.add(item);
    if (!batch) continue;
    if (credits === 0) {
      sentUpTo = lastSent;
      spare.push(batch.packed); // dropped: read again later
      continue;
    }
    await sendBatch(batch);
    lastSent = batch.lastLine;
  }
  const verdict = scan.result();
  if (sentUpTo === null && verdict.findings.length === 0) {
    const last = batcher.flush();
    send({ kind: 'scan', scan: verdict });
    await sendBatch(last);
  } else {
    send({ kind: 'scan', scan: verdict });
    if (verdict.findings.length === 0) {
      for await (const batch of recordBatches(req.path, { ...opts, resumeAfter: sentUpTo! }, buffers)) await sendBatch(batch);
    }
  }
  send({ kind: 'end' });
}

// Closing the port lets the thread end once the messages are out.
run(workerData).then(
  () => parentPort!.close(),
  (err: Error) => {
    parentPort!.postMessage({ kind: 'error', message: err.message } satisfies ReaderMessage);
    parentPort!.close();
  },
);
