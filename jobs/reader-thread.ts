/**
 * A reader thread: parses a file and runs the stateless checks while the job's thread writes to SQLite, so both
 * cores work on one file. Two run per file: one scans the whole file (file-level checks) while the other already
 * parses the first batches, which wait until the scan has passed. The records reader keeps at most `ahead`
 * batches in flight (bounded memory): the job thread sends a credit for each batch it has committed, with the
 * batch's buffer, which the next batches reuse (the packed bytes never pile up in either heap).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanFile } from './scan-file';
import { recordBatches, type BufferSource } from './read-records';
import { detectFormat } from '../parsers/detect-format';
import type { ReaderRequest, ReaderMessage, ReaderCredit } from './record-source';

async function run(req: ReaderRequest & { mode: 'scan' | 'records' }): Promise<void> {
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
  const detected = await detectFormat(req.path);
  if ('format' in detected) {
    for await (const batch of recordBatches(req.path, { ...req, format: detected.format }, buffers)) {
      while (credits === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      credits--;
      port.postMessage({ kind: 'batch', batch } satisfies ReaderMessage, [batch.packed.buffer as ArrayBuffer]);
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
