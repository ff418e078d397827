/**
 * The workers of `inflow serve`, each in a child process of its own (jobs/worker-process.ts): the worker that
 * `inflow worker` runs, started, watched and stopped over an IPC channel. Processing a file takes whole seconds of
 * synchronous work (a batch's SQLite transaction, parsing, garbage collection of large batches); in a process of
 * its own none of it can hold up the FTPS front's event loop. Why processes and not threads: README, "A worker
 * fleet".
 *
 * A worker process that dies (out of memory, a native fault) is started again; BullMQ hands its file to a live
 * worker once the dead one's lock expires, and the pipeline resumes after the last committed batch.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/defaults';

/** Parent → worker process. */
export type ToWorkerProcess = { kind: 'start'; redisUrl: string; settings: Settings } | { kind: 'stop'; graceMs: number };
/** Worker process → parent. */
export type FromWorkerProcess = { kind: 'ready' };

/** How long a worker process may take to start. */
const START_TIMEOUT_MS = 60_000;
/** Before a dead worker process is replaced. */
const RESTART_DELAY_MS = 1_000;
/** The longest wait between two tries at replacing a worker process that cannot start. */
const MAX_RESTART_DELAY_MS = 30_000;
/** After its grace time, what a stopping worker gets to hand its file back and close before it is killed. */
const HAND_BACK_MS = 10_000;

export interface WorkerProcesses {
  /** The process ids of the workers running now. */
  pids(): number[];
  /** close stops every worker: each finishes its file within `graceMs` or hands it back to the queue, then exits. */
  close(graceMs: number): Promise<void>;
}

/**
 * workerScript finds the compiled worker process: beside this module when it runs from dist/; from the sources
 * (ts-jest), in dist/, which the tests build before they run.
 */
function workerScript(): string {
  const beside = path.join(__dirname, 'worker-process.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.join(__dirname, '..', 'dist', 'jobs', 'worker-process.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`the worker process is not built (${built}): run npm run build`);
}

/** startWorkerProcesses starts `count` worker processes and resolves once each is running. */
export async function startWorkerProcesses(count: number, redisUrl: string, settings: Settings): Promise<WorkerProcesses> {
  const script = workerScript();
  const running = new Set<ChildProcess>();
  let closing = false;

  // A replacement that cannot start (the database or Redis away) is tried again, less and less often: a worker
  // process is never given up while serve runs.
  const restart = (delayMs: number): void => {
    setTimeout(() => {
      if (closing) return;
      start().catch((err: Error) => {
        process.stderr.write(`${err.message}; trying again in ${(delayMs * 2) / 1000} s\n`);
        restart(Math.min(delayMs * 2, MAX_RESTART_DELAY_MS));
      });
    }, delayMs);
  };
  const start = (): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const execArgv = workerExecArgv(settings);
      const child = fork(script, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      running.add(child);
      let ready = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`worker process ${child.pid} did not start within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      child.on('message', (m: FromWorkerProcess) => {
        if (m.kind !== 'ready') return;
        ready = true;
        clearTimeout(timer);
        resolve(child);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        running.delete(child);
        if (!ready) return reject(new Error(`worker process ${child.pid} exited (${signal ?? code}) before it started`));
        if (closing) return;
        process.stderr.write(`worker process ${child.pid} exited (${signal ?? code}); starting another\n`);
        restart(RESTART_DELAY_MS);
      });
      child.send({ kind: 'start', redisUrl, settings } satisfies ToWorkerProcess);
    });

  try {
    await Promise.all(Array.from({ length: count }, start));
  } catch (err) {
    closing = true;
    for (const child of running) child.kill('SIGKILL');
    throw err;
  }
  return {
    pids: () => [...running].map((c) => c.pid!),
    close: async (graceMs) => {
      closing = true;
      await Promise.all([...running].map((child) => stop(child, graceMs)));
    },
  };
}

/**
 * workerExecArgv: node's flags for a worker process: the parent's (but a debugger port, which would clash), and
 * the heap limit of settings.workerHeapMb unless the parent was given one.
 */
export function workerExecArgv(settings: Pick<Settings, 'workerHeapMb'>, parent: readonly string[] = process.execArgv): string[] {
  const execArgv = parent.filter((a) => !a.startsWith('--inspect'));
  const limited = [...execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'));
  if (!limited && settings.workerHeapMb > 0) execArgv.push(`--max-old-space-size=${settings.workerHeapMb}`);
  return execArgv;
}

/** stop asks one worker process to stop and waits for it to exit; it is killed when it takes too long. */
function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs + HAND_BACK_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ kind: 'stop', graceMs } satisfies ToWorkerProcess);
    else child.kill('SIGTERM');
  });
}
