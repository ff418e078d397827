/** Accounts in SQLite: one per establishment. */
import type { Db } from './db';
import { AccountAlreadyExistsError, type Account, type Role, type TlsReuse } from '../types';

interface AccountRow {
  id: number;
  establishment: string;
  name: string;
  role: Role;
  senders: string;
  password_hash: string;
  disabled: number;
  tls_reuse: TlsReuse;
  created_at: string;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  establishment: r.establishment,
  name: r.name,
  role: r.role,
  senders: JSON.parse(r.senders) as string[],
  passwordHash: r.password_hash,
  disabled: r.disabled === 1,
  tlsReuse: r.tls_reuse,
  createdAt: r.created_at,
});

/** Account statements. */
export class SqliteAccounts {
  constructor(private readonly db: Db) {}

  /** add creates an account; throws AccountAlreadyExistsError when the establishment has one. */
  add(a: { establishment: string; name: string; role: Role; senders?: string[]; passwordHash: string }): Account {
    try {
      this.db
        .prepare(
          `INSERT INTO accounts (establishment, name, role, senders, password_hash, created_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(a.establishment, a.name, a.role, JSON.stringify(a.senders ?? []), a.passwordHash, new Date().toISOString());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new AccountAlreadyExistsError(`an account for establishment ${a.establishment} already exists`);
      throw err;
    }
    return this.byEstablishment(a.establishment)!;
  }

  byEstablishment(establishment: string): Account | null {
    const r = this.db.prepare('SELECT * FROM accounts WHERE establishment = ?').get(establishment) as AccountRow | undefined;
    return r ? toAccount(r) : null;
  }

  byId(id: number): Account | null {
    const r = this.db.prepare('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return r ? toAccount(r) : null;
  }

  list(): Account[] {
    return (this.db.prepare('SELECT * FROM accounts ORDER BY establishment').all() as AccountRow[]).map(toAccount);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;
  }

  /** setDisabled returns false when there is no such account. */
  setDisabled(establishment: string, disabled: boolean): boolean {
    return this.db.prepare('UPDATE accounts SET disabled = ? WHERE establishment = ?').run(disabled ? 1 : 0, establishment).changes === 1;
  }

  /** setPasswordHash returns false when there is no such account. */
  setPasswordHash(establishment: string, hash: string): boolean {
    return this.db.prepare('UPDATE accounts SET password_hash = ? WHERE establishment = ?').run(hash, establishment).changes === 1;
  }

  /** setTlsReuse returns false when there is no such account. */
  setTlsReuse(establishment: string, tlsReuse: TlsReuse): boolean {
    return this.db.prepare('UPDATE accounts SET tls_reuse = ? WHERE establishment = ?').run(tlsReuse, establishment).changes === 1;
  }
}
