/** `inflow files list|show|abandon` and `inflow receipt`. */
import fs from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { FILE_STATUSES, type FileRecord, type Store } from '../store';
import { filePkOf } from '../model/file-id';
import { AuditLog } from '../store/audit-log';
import { openFileQueue } from '../jobs/queue';
import { abandonFile, AbandonRefusedError } from '../jobs/abandon';
import { withDataDir, withFilesDir, withRedis, settingsFrom, openStoreFor, redisUrlFor } from './common';
import { UserError } from './exit';
import { receiptHeaderOf, receiptIssuesOf } from '../pipeline/write-receipt';
import { xmlReceiptChunks } from '../receipts/xml-receipt';
import { collectText } from '../receipts/receipt';
import { fileJson } from '../queries/file-json';

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'admin';
  }
}

async function fileById(store: Store, id: string): Promise<FileRecord> {
  const pk = filePkOf(id);
  const f = pk === null ? null : await store.files.get(pk);
  // A round of observations is not a file anyone sent (docs/observations.md).
  if (!f || f.origin !== 'upload') throw new UserError(`no file ${id}`);
  return f;
}

export function registerFiles(program: Command): void {
  const files = program.command('files').description('inspect received files');

  withDataDir(files.command('list').description('list received files'))
    .option('--status <status>', FILE_STATUSES.join(' | '))
    .option('--account <establishment>', 'only this account')
    .option('--json', 'JSON output')
    .action(async (opts) => {
      if (opts.status && !(FILE_STATUSES as readonly string[]).includes(opts.status))
        throw new UserError(`--status must be one of ${FILE_STATUSES.join(', ')}, got "${opts.status}"`);
      const { store } = await openStoreFor(settingsFrom(opts));
      const list = await store.files.list({ status: opts.status, account: opts.account });
      await store.close();
      if (opts.json)
        return void process.stdout.write(
          JSON.stringify(
            list.map((f) => ({ ...fileJson(f), attempts: f.attempts, error: f.error })),
            null,
            2,
          ) + '\n',
        );
      const head = 'ID        ACCOUNT     STATUS      RESULT     RECORDS  ACCEPTED  REJECTED  ANOMALIES  ATTEMPTS  NAME';
      const rows = list.map((f) =>
        [
          f.id.padEnd(8),
          f.account.padEnd(10),
          f.status.padEnd(10),
          (f.result ?? '-').padEnd(9),
          String(f.records ?? '-').padStart(7),
          String(f.accepted ?? '-').padStart(8),
          String(f.rejected ?? '-').padStart(8),
          String(f.anomalies ?? '-').padStart(9),
          String(f.attempts).padStart(8),
          f.name + (f.status === 'failed' && f.error ? `  (${f.error})` : ''),
        ].join('  '),
      );
      process.stdout.write([head, ...rows].join('\n') + '\n');
    });

  withFilesDir(withDataDir(files.command('show <id>').description('show one file, with attempts, last error and receipt path')))
    .option('--json', 'JSON output')
    .action(async (id: string, opts) => {
      const { store, layout } = await openStoreFor(settingsFrom(opts));
      const f = await fileById(store, id);
      await store.close();
      const receipt = f.receiptPath === null ? null : layout.filesPath(f.receiptPath);
      const o = { ...fileJson(f), attempts: f.attempts, error: f.error, receipt };
      if (opts.json) return void process.stdout.write(JSON.stringify(o, null, 2) + '\n');
      process.stdout.write(
        Object.entries(o)
          .map(([k, v]) => `${k.padEnd(12)} ${v ?? '-'}`)
          .join('\n') + '\n',
      );
    });

  const abandon = files.command('abandon <id>').description('give up on a failed file: REJECTED receipt with F08, its job removed');
  withFilesDir(withDataDir(abandon));
  withRedis(abandon).action(async (id: string, opts) => {
    const settings = settingsFrom(opts);
    const { store, layout } = await openStoreFor(settings);
    const queue = openFileQueue(redisUrlFor(settings, layout), settings, { setConcurrency: false });
    const audit = new AuditLog(store.audit);
    try {
      const f = await fileById(store, id);
      const r = await abandonFile({ store, queue, layout, audit }, f.pk, userName()).catch((err: Error) => {
        if (err instanceof AbandonRefusedError) throw new UserError(err.message);
        throw new UserError(`could not abandon ${f.id} (is Redis reachable?): ${err.message}`);
      });
      if (r.outcome === 'kept') {
        process.stdout.write(
          `${r.file.id}: replay abandoned; it keeps its earlier result ${r.file.result} and receipt ${layout.filesPath(r.file.receiptPath!)}\n`,
        );
      } else {
        const gone =
          r.discarded.readings || r.discarded.issues
            ? ` (removed ${r.discarded.readings} readings and ${r.discarded.issues} issues an earlier attempt stored)`
            : '';
        process.stdout.write(`${r.file.id}: abandoned, REJECTED with F08${gone}; receipt ${layout.filesPath(r.file.receiptPath!)}\n`);
      }
    } finally {
      await queue.close();
      await audit.close();
      await store.close();
    }
  });

  withFilesDir(withDataDir(program.command('receipt <id>').description("print a file's receipt (as written: CSV or XML, after its input)")))
    .option('--xml', 'print it as XML (rendered from the database when the written receipt is CSV)')
    .action(async (id: string, opts) => {
      const { store, layout } = await openStoreFor(settingsFrom(opts));
      try {
        const f = await fileById(store, id);
        const receipt = f.receiptPath === null ? null : layout.filesPath(f.receiptPath);
        if (!receipt || !fs.existsSync(receipt)) throw new UserError(`file ${f.id} has no receipt yet (status ${f.status})`);
        if (!opts.xml || receipt.endsWith('.xml')) return void process.stdout.write(fs.readFileSync(receipt));
        // Same content as the written receipt: both come from the file's row and its issues.
        process.stdout.write(await collectText(xmlReceiptChunks(receiptHeaderOf(f), receiptIssuesOf(store, f.pk))));
      } finally {
        await store.close();
      }
    });
}
