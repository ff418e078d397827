/** Accounts in PostgreSQL: one per establishment. */
import type { Queryable } from './db';
import { AccountAlreadyExistsError, type Account, type AccountStore, type Role, type TlsReuse } from '../types';

interface AccountRow {
  id: number;
  establishment: string;
  name: string;
  role: Role;
  senders: string[];
  password_hash: string;
  disabled: boolean;
  tls_reuse: TlsReuse;
  created_at: string;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  establishment: r.establishment,
  name: r.name,
  role: r.role,
  senders: r.senders,
  passwordHash: r.password_hash,
  disabled: r.disabled,
  tlsReuse: r.tls_reuse,
  createdAt: r.created_at,
});

/** A unique constraint was violated (SQLSTATE 23505). */
export const isUniqueViolation = (err: unknown): boolean => (err as { code?: string }).code === '23505';

/** pgAccounts: the AccountStore on a pool. */
export function pgAccounts(db: Queryable): AccountStore {
  const one = async (sql: string, args: unknown[]) => {
    const r = (await db.query<AccountRow>(sql, args)).rows[0];
    return r ? toAccount(r) : null;
  };
  const changed = async (sql: string, args: unknown[]) => (await db.query(sql, args)).rowCount === 1;
  return {
    add: async (a) => {
      try {
        const r = await one(
          `INSERT INTO accounts (establishment, name, role, senders, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
          [a.establishment, a.name, a.role, JSON.stringify(a.senders ?? []), a.passwordHash, new Date().toISOString()],
        );
        return r!;
      } catch (err) {
        if (isUniqueViolation(err)) throw new AccountAlreadyExistsError(`an account for establishment ${a.establishment} already exists`);
        throw err;
      }
    },
    byEstablishment: (e) => one('SELECT * FROM accounts WHERE establishment = $1', [e]),
    byId: (id) => one('SELECT * FROM accounts WHERE id = $1', [id]),
    list: async () => (await db.query<AccountRow>('SELECT * FROM accounts ORDER BY establishment')).rows.map(toAccount),
    count: async () => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts')).rows[0].n),
    setDisabled: (e, d) => changed('UPDATE accounts SET disabled = $1 WHERE establishment = $2', [d, e]),
    setPasswordHash: (e, h) => changed('UPDATE accounts SET password_hash = $1 WHERE establishment = $2', [h, e]),
    setTlsReuse: (e, t) => changed('UPDATE accounts SET tls_reuse = $1 WHERE establishment = $2', [t, e]),
  };
}
