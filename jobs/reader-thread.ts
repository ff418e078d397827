/**
 * The reader thread: parses a file and runs the stateless checks while the job's thread writes to SQLite, so both
 * cores work on one file. It keeps at most `ahead` batches in flight (bounded memory): the job thread sends a
 * credit for each batch it has committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanFile } from './scan-file';
import { recordBatches } from './read-records';
import type { ReaderRequest, ReaderMessage } from './record-source';

async function run(req: ReaderRequest): Promise<void> {
  const port = parentPort!;
  const send = (m: ReaderMessage) => port.postMessage(m);
  let credits = req.ahead;
  let wake: (() => void) | null = null;
  port.on('message', (m: { kind: 'credit' }) => {
    if (m.kind === 'credit') {
      credits++;
      wake?.();
    }
  });
  const scan = await scanFile(req.path, req);
  send({ kind: 'scan', scan });
  if (scan.findings.length || !scan.format) return;
  for await (const batch of recordBatches(req.path, { ...req, format: scan.format })) {
    while (credits === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    credits--;
    send({ kind: 'batch', batch });
  }
  send({ kind: 'end' });
}

// Closing the port lets the thread end once the messages are out.
run(workerData as ReaderRequest).then(
  () => parentPort!.close(),
  (err: Error) => {
    parentPort!.postMessage({ kind: 'error', message: err.message } satisfies ReaderMessage);
    parentPort!.close();
  },
);
