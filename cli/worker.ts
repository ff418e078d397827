/** `inflow worker`: one more worker process for the fleet, on the same data directory and Redis. */
import type { Command } from 'commander';
import { dataLayout } from '../config/layout';
import { startFileWorker } from '../jobs/worker';
import { withDataDir, withRedis, settingsFrom, intOption, redisUrlFor } from './common';
import { failWith } from './exit';

export function registerWorker(program: Command): void {
  const cmd = program.command('worker').description('run a worker process that processes queued files');
  withDataDir(cmd);
  withRedis(cmd);
  cmd.option('--concurrency <n>', 'files processed at once (default 1)', intOption('--concurrency')).action(async (opts) => {
    const settings = settingsFrom(opts, { concurrency: opts.concurrency });
    const layout = dataLayout(settings.dataDir);
    const w = startFileWorker(redisUrlFor(settings, layout), settings, layout);
    process.stdout.write(`odo-inflow worker ${process.pid} is running (data dir ${layout.root})\n`);
    const shutdown = () => w.close().then(() => process.exit(0), failWith);
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}
