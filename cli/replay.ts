/**
 * `inflow replay <file id...>` and `inflow replay --failed [--since DATE]`: re-queue files, follow them to the end
 * with a progress bar, then print a summary table (docs/cli.md). Exit 0 when every file ends done, 1 otherwise.
 */
import type { Command } from 'commander';
import type { FileRecord } from '../store';
import { filePkOf } from '../model/file-id';
import { AuditLog } from '../store/audit-log';
import { openFileQueue } from '../jobs/queue';
import { requeueFiles, followFiles } from '../jobs/replay';
import { withDataDir, withRedis, settingsFrom, openStoreFor, redisUrlFor } from './common';
import { UserError } from './exit';
import { ProgressBar } from '../uploader/progress-bar';
import { fileJson } from '../queries/file-json';
import os from 'node:os';

/** summaryTable: one row per replayed file. */
export function summaryTable(files: FileRecord[]): string {
  const head = ['ID', 'STATUS', 'RESULT', 'RECORDS', 'ACCEPTED', 'REJECTED', 'ANOMALIES', 'ATTEMPTS', 'NAME / ERROR'];
  const rows = files.map((f) => [
    f.id,
    f.status,
    f.result ?? '-',
    String(f.records ?? '-'),
    String(f.accepted ?? '-'),
    String(f.rejected ?? '-'),
    String(f.anomalies ?? '-'),
    String(f.attempts),
    f.status === 'failed' && f.error ? `${f.name}: ${f.error}` : f.name,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([3, 4, 5, 6, 7]);
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}

function sinceDate(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(v) || Number.isNaN(Date.parse(v)))
    throw new UserError(`--since must be a date YYYY-MM-DD (or an ISO time), got "${v}"`);
  return new Date(v).toISOString();
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay [ids...]')
    .description('re-queue files (by id, or --failed) and follow them to the end with a progress bar');
  withDataDir(cmd);
  withRedis(cmd);
  cmd
    .option('--failed', 'every file that is `failed`')
    .option('--since <date>', 'with --failed: only files received since this date (YYYY-MM-DD)')
    .option('--no-wait', 're-queue only; do not follow the files')
    .option('--json', 'print the final files as JSON instead of the table')
    .action(async (ids: string[], opts) => {
      if (opts.failed && ids.length) throw new UserError('give file ids or --failed, not both');
      if (!opts.failed && !ids.length) throw new UserError('give the file ids to replay, or --failed');
      if (opts.since && !opts.failed) throw new UserError('--since goes with --failed');
      const since = opts.since ? sinceDate(opts.since) : undefined;
      const settings = settingsFrom(opts);
      const { store, layout } = await openStoreFor(settings);
      const queue = openFileQueue(redisUrlFor(settings, layout), settings, { setConcurrency: false });
      const audit = new AuditLog(store.audit);
      try {
        let pks: number[];
        if (opts.failed) {
          pks = (await store.files.list({ status: 'failed', receivedSince: since })).map((f) => f.pk);
          if (!pks.length) {
            process.stdout.write(`no failed files${since ? ' received since ' + opts.since : ''}\n`);
            return;
          }
        } else {
          pks = [];
          for (const id of ids) {
            const pk = filePkOf(id);
            const f = pk === null ? null : await store.files.get(pk);
            if (!f || f.origin !== 'upload') throw new UserError(`no file ${id}`); // a round of observations is none
            pks.push(f.pk);
          }
          pks = [...new Set(pks)];
        }
        const by = safeUser();
        const started = await requeueFiles({ store, queue, settings, audit }, pks, by).catch((err: Error) => {
          throw new UserError(`could not re-queue (is Redis reachable?): ${err.message}`);
        });
        const bar = new ProgressBar(process.stderr, pks.length);
        for (const s of started) bar.log(`${s.file.id} ${s.file.name}: re-queued (${s.action})`);
        if (opts.wait === false) {
          process.stdout.write(summaryTable(started.map((s) => s.file)));
          return;
        }

        const seen = new Map<number, string>();
        const result = await followFiles(store, pks, {
          workers: () => queue.queue.getWorkersCount(),
          onTick: (files) => {
            for (const f of files) {
              const state = f.status === 'done' ? `done ${f.result}` : f.status === 'failed' ? `failed: ${f.error}` : f.status;
              if (seen.get(f.pk) !== state) {
                seen.set(f.pk, state);
                if (!bar.tty || f.status === 'done' || f.status === 'failed') bar.log(`${f.id} ${state}`);
              }
            }
            const done = files.filter((f) => f.status === 'done' || f.status === 'failed').length;
            const busy = files.find((f) => f.status === 'processing');
            bar.update(
              done,
              busy ? `${busy.id} processing, line ${busy.progressLine}` : done === files.length ? '' : 'waiting for a worker',
            );
          },
        });
        bar.finish();
        process.stdout.write(
          opts.json
            ? JSON.stringify(
                result.files.map((f) => ({ ...fileJson(f), attempts: f.attempts, error: f.error })),
                null,
                2,
              ) + '\n'
            : summaryTable(result.files),
        );
        if (!result.settled) {
          const left = result.files.filter((f) => f.status !== 'done' && f.status !== 'failed').length;
          throw new UserError(`no worker is running: ${left} file(s) stay queued; start \`inflow serve\` or \`inflow worker\``);
        }
        const failed = result.files.filter((f) => f.status === 'failed').length;
        if (failed) throw new UserError(`${failed} file(s) failed again: see \`inflow files show <id>\``);
      } finally {
        await queue.close();
        await audit.close();
        await store.close();
      }
    });
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'admin';
  }
}
