/** `inflow worker`: one more worker process for the fleet, on the same database, files directory and Redis. */
import type { Command } from 'commander';
import { layoutOf } from '../config/layout';
import { startWorkerJobs } from '../jobs/worker';
import { WORKER_JOBS } from '../config/defaults';
import { withDataDir, withFilesDir, withRedis, settingsFrom, intOption, redisUrlFor, onStopSignal } from './common';

export function registerWorker(program: Command): void {
  const cmd = program.command('worker').description('run a worker process that processes queued files');
  withDataDir(cmd);
  withFilesDir(cmd);
  withRedis(cmd);
  cmd.option('--concurrency <n>', 'files processed at once (default 1)', intOption('--concurrency'));
  cmd.option('--jobs <list>', `what this process runs: ${WORKER_JOBS.join(', ')}, or both comma-separated (default both)`);
  cmd.action(async (opts) => {
    const settings = settingsFrom(opts, { concurrency: opts.concurrency, workerJobs: opts.jobs });
    const layout = layoutOf(settings);
    const w = await startWorkerJobs(redisUrlFor(settings, layout), settings, layout);
    process.stdout.write(
      `odo-inflow worker ${process.pid} is running ${settings.workerJobs} (data dir ${layout.root}, files dir ${layout.filesRoot})\n`,
    );
    onStopSignal((sig) => {
      process.stdout.write(
        `${sig}: worker ${process.pid} stopping (the file in progress gets ${Math.round(settings.shutdownGraceMs / 1000)} s)…\n`,
      );
      return w.close();
    });
  });
}
