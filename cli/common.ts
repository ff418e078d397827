/** Options every command shares, and turning them into settings and a store. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { resolveSettings, type Settings } from '../config/defaults';
import { layoutOf, type DataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { AuditLog, type AuditEvent } from '../store/audit-log';
import { UserError, failWith } from './exit';

/** withDataDir adds --data-dir (default $INFLOW_DATA_DIR, else ./var) and --database-url (default $INFLOW_DATABASE_URL). */
export function withDataDir(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory (default: $INFLOW_DATA_DIR, else ./var)')
    .option('--database-url <url>', 'PostgreSQL database, postgres://… (default: $INFLOW_DATABASE_URL, else SQLite in the data directory)');
}

/** withRedis adds --redis-url (default $REDIS_URL, else the private Redis `serve` recorded). */
export function withRedis(cmd: Command): Command {
  return cmd.option('--redis-url <url>', 'Redis URL (default: $REDIS_URL, else the private Redis that serve started)');
}

/** withFilesDir adds --files-dir (default $INFLOW_FILES_DIR, else the data directory), for commands that read or write stored files or receipts. */
export function withFilesDir(cmd: Command): Command {
  return cmd.option('--files-dir <dir>', 'files directory shared by every host (default: $INFLOW_FILES_DIR, else the data directory)');
}

/** settingsFrom resolves the settings of a command from its options. */
export function settingsFrom(opts: Record<string, unknown>, extra: Partial<Settings> = {}): Settings {
  return resolveSettings({
    dataDir: opts.dataDir as string | undefined,
    filesDir: opts.filesDir as string | undefined,
    redisUrl: opts.redisUrl as string | undefined,
    databaseUrl: opts.databaseUrl as string | undefined,
    ...extra,
  });
}

/** openStoreFor opens the configured database (PostgreSQL, else the data directory's SQLite); a user error when there is none yet. */
export async function openStoreFor(settings: Settings): Promise<{ store: Store; layout: DataLayout }> {
  const layout = layoutOf(settings);
  if (!settings.databaseUrl && !fs.existsSync(layout.db))
    throw new UserError(`no database in ${layout.root}: start \`inflow serve\` once, or pass --data-dir`);
  return { store: await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl }), layout };
}

/** audited appends one event to the store's audit trail and waits until it is there. */
export async function audited(store: Store, event: AuditEvent, fields: Record<string, unknown>): Promise<void> {
  const audit = new AuditLog(store.audit);
  audit.write(event, fields);
  await audit.close();
}

/** redisUrlFor: the configured URL, else the one `serve` recorded for its private Redis. */
export function redisUrlFor(settings: Settings, layout: DataLayout): string {
  if (settings.redisUrl) return settings.redisUrl;
  if (fs.existsSync(layout.redisUrlFile)) return fs.readFileSync(layout.redisUrlFile, 'utf8').trim();
  throw new UserError('no Redis configured: pass --redis-url or set REDIS_URL (or start `inflow serve` first)');
}

/** readStdin reads all of standard input (for --password-stdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** intOption parses a whole-number option or fails naming it. */
export function intOption(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new UserError(`${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

/**
 * onStopSignal runs `stop` on the first SIGTERM or SIGINT, then exits 0 (1 if it fails). A second signal while
 * stopping exits at once with 130: an operator who presses Ctrl-C twice means it (SQLite commits are atomic, and
 * a file being processed is taken over by another worker once its lock expires).
 */
export function onStopSignal(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    stop(signal).then(() => process.exit(0), failWith);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
