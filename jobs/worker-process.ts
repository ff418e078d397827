/**
 * One worker of `inflow serve` in a process of its own (started by jobs/worker-processes.ts): the worker `inflow
 * worker` runs, with the settings the parent sends. It stops gracefully when the parent says so, on SIGTERM or
 * SIGINT (Ctrl-C reaches the whole process group), and when the parent is gone.
 */
import { layoutOf } from '../config/layout';
import { startWorkerJobs, type WorkerJobs } from './worker';
import type { FromWorkerProcess, ToWorkerProcess } from './worker-processes';

let worker: WorkerJobs | null = null;
let graceMs = 0;

function stop(ms: number): void {
  if (!worker) process.exit(0);
  void worker.close(ms).finally(() => process.exit(0));
}

process.on('message', (m: ToWorkerProcess) => {
  if (m.kind === 'start' && !worker) {
    graceMs = m.settings.shutdownGraceMs;
    startWorkerJobs(m.redisUrl, m.settings, layoutOf(m.settings)).then(
      (w) => {
        worker = w;
        process.send!({ kind: 'ready' } satisfies FromWorkerProcess);
      },
      (err: Error) => {
        process.stderr.write(`worker: cannot open the store: ${err.message}\n`);
        process.exit(1);
      },
    );
  } else if (m.kind === 'stop') {
    stop(m.graceMs);
  }
});
process.on('disconnect', () => stop(graceMs));
process.on('SIGTERM', () => stop(graceMs));
process.on('SIGINT', () => stop(graceMs));
