/** `inflow audit`: the audit trail of every host of the fleet, from the store, oldest first (docs/ftps.md, "Audit trail"). */
import type { Command } from 'commander';
import type { AuditRecord } from '../store';
import { AUDIT_EVENTS, type AuditEvent } from '../store/audit-log';
import { withDataDir, settingsFrom, openStoreFor, intOption } from './common';
import { UserError } from './exit';

/** auditLine: one event on one line, its details as JSON. */
export function auditLine(e: AuditRecord): string {
  return `${e.at}  ${e.host}[${e.pid}]  ${e.event.padEnd(14)}  ${JSON.stringify(e.fields)}`;
}

/** sinceOf checks --since and gives it as the store compares it (UTC, as every event's time is written). */
function sinceOf(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t))
    throw new UserError(`--since must be an ISO date or time (2026-12-02, 2026-12-02T04:30:00Z), got "${v}"`);
  return new Date(t).toISOString();
}

export function registerAudit(program: Command): void {
  withDataDir(
    program.command('audit').description('the audit trail of every host (logins, uploads, receipts, admin actions), oldest first'),
  )
    .option('--since <time>', 'events at or after this ISO date or time')
    .option('--event <event>', `only this kind of event: ${AUDIT_EVENTS.join(', ')}`)
    .option('--account <establishment>', 'only events about this account (or username)')
    .option('--limit <n>', 'only the latest N events', intOption('--limit'))
    .option('--json', 'JSON output')
    .action(async (opts) => {
      if (opts.event !== undefined && !AUDIT_EVENTS.includes(opts.event as AuditEvent))
        throw new UserError(`--event must be one of ${AUDIT_EVENTS.join(', ')}, got "${opts.event}"`);
      const since = sinceOf(opts.since as string | undefined);
      const { store } = await openStoreFor(settingsFrom(opts));
      let events: AuditRecord[];
      try {
        events = await store.audit.list({ since, event: opts.event, account: opts.account, limit: opts.limit });
      } finally {
        await store.close();
      }
      if (opts.json) return void process.stdout.write(JSON.stringify(events, null, 2) + '\n');
      process.stdout.write(events.map((e) => auditLine(e) + '\n').join(''));
    });
}
