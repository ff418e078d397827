/** The audit trail in PostgreSQL: one table for every host of a fleet. */
import type { Queryable } from './db';
import type { AuditRecord, AuditStore } from '../types';

interface AuditRow {
  at: Date;
  host: string;
  pid: number;
  event: string;
  fields: Record<string, unknown>;
}

/** The account an event is about: fields.account, else fields.username (login events). */
const accountOf = (fields: Record<string, unknown>): string | null => {
  const a = fields.account ?? fields.username;
  return typeof a === 'string' ? a : null;
};

export function pgAudit(db: Queryable): AuditStore {
  return {
    append: async (events) => {
      if (events.length === 0) return;
      // One statement: all or none.
      await db.query(
        `INSERT INTO audit (at, host, pid, event, account, fields)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[])`,
        [
          events.map((e) => e.at),
          events.map((e) => e.host),
          events.map((e) => e.pid),
          events.map((e) => e.event),
          events.map((e) => accountOf(e.fields)),
          events.map((e) => JSON.stringify(e.fields)),
        ],
      );
    },
    list: async (filter = {}) => {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (cond: string, v: unknown) => {
        args.push(v);
        where.push(cond.replaceAll('?', `$${args.length}`));
      };
      if (filter.since) add('at >= ?', filter.since);
      if (filter.event) add('event = ?', filter.event);
      if (filter.account) add('account = ?', filter.account);
      args.push(filter.limit ?? 1_000_000);
      const { rows } = await db.query<AuditRow>(
        `SELECT at, host, pid, event, fields FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
         ORDER BY at, id LIMIT $${args.length}`,
        args,
      );
      return rows.map((r): AuditRecord => ({ at: r.at.toISOString(), host: r.host, pid: r.pid, event: r.event, fields: r.fields }));
    },
  };
}
