/** The audit trail in SQLite: one row per event, its details as a JSON object. */
import type { Db } from './db';
import type { AuditRecord } from '../types';

interface AuditRow {
  at: string;
  host: string;
  pid: number;
  event: string;
  fields: string;
}

/** accountOf: the account an event is about (the one `list` filters on). */
function accountOf(fields: Record<string, unknown>): string | null {
  const a = fields.account ?? fields.username;
  return a === undefined || a === null ? null : String(a);
}

export class SqliteAudit {
  constructor(private readonly db: Db) {}

  /** append inserts the events (inside the caller's write transaction). */
  append(events: readonly AuditRecord[]): void {
    const insert = this.db.prepare('INSERT INTO audit (at, host, pid, event, account, fields) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of events) insert.run(e.at, e.host, e.pid, e.event, accountOf(e.fields), JSON.stringify(e.fields));
  }

  /** list returns the matching events oldest first; with `limit`, the latest that many. */
  list(filter: { since?: string; event?: string; account?: string; limit?: number } = {}): AuditRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const when = (cond: string, v: string | undefined) => {
      if (v === undefined) return;
      where.push(cond);
      args.push(v);
    };
    when('at >= ?', filter.since);
    when('event = ?', filter.event);
    when('account = ?', filter.account);
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows =
      filter.limit !== undefined
        ? (
            this.db
              .prepare(`SELECT at, host, pid, event, fields FROM audit ${cond} ORDER BY at DESC, id DESC LIMIT ?`)
              .all(...args, filter.limit) as AuditRow[]
          ).reverse()
        : (this.db.prepare(`SELECT at, host, pid, event, fields FROM audit ${cond} ORDER BY at, id`).all(...args) as AuditRow[]);
    return rows.map((r) => ({
      at: r.at,
      host: r.host,
      pid: r.pid,
      event: r.event,
      fields: JSON.parse(r.fields) as Record<string, unknown>,
    }));
  }
}
