/**
 * Accounts as a front looks them up on every request (HTTP Basic sends the credentials each time), kept in memory
 * while PostgreSQL tells this process of every change to them: a trigger NOTIFYs `inflow_accounts` with the
 * establishment of each row updated or deleted (migration 5), at commit, and a connection of this process LISTENs.
 * Two lookups per observation (its POST and its status request) were a third of a front's trips to the server.
 *
 * A change made through this store is forgotten at once (`forget`); one made by another process (`inflow accounts
 * disable` on any host) as soon as its notification arrives: milliseconds. Without a listening connection (not yet,
 * or lost) every lookup goes to the database, as with no cache; a new connection starts with an empty cache. A
 * lookup that was on its way when any change was told is not kept.
 */
import pg from 'pg';
import type { Account, AccountStore } from '../types';

/** The channel migration 5's trigger notifies. */
const ACCOUNTS_CHANNEL = 'inflow_accounts';
/** How long after a failed or lost listening connection the next lookup tries again. */
const RETRY_MS = 5_000;

export class AccountWatch {
  private readonly cached = new Map<string, Account>();
  private listener: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryAt = 0;
  /** Changes told so far: a lookup that saw this number move is not kept. */
  private changes = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly load: (establishment: string) => Promise<Account | null>,
  ) {}

  async byEstablishment(establishment: string): Promise<Account | null> {
    if (!this.listener) {
      this.listen();
      return this.load(establishment);
    }
    const hit = this.cached.get(establishment);
    if (hit) return copyOf(hit);
    const before = this.changes;
    const found = await this.load(establishment);
    if (found && this.listener && this.changes === before) this.cached.set(establishment, copyOf(found));
    return found;
  }

  /** forget drops what is kept of an account this process has just changed. */
  forget(establishment: string): void {
    this.changes++;
    this.cached.delete(establishment);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const c = this.listener;
    this.drop();
    await c?.end().catch(() => {});
  }

  private listen(): void {
    if (this.closed || this.connecting || Date.now() < this.retryAt) return;
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      this.changes++;
      if (n.payload) this.cached.delete(n.payload);
    });
    this.connecting = (async () => {
      try {
        await c.connect();
        await c.query(`LISTEN ${ACCOUNTS_CHANNEL}`);
        if (this.closed) throw new Error('closed');
        this.cached.clear();
        this.listener = c;
      } catch {
        this.retryAt = Date.now() + RETRY_MS;
        await c.end().catch(() => {});
      }
    })().finally(() => (this.connecting = null));
  }

  private lost(c: pg.Client): void {
    if (this.listener !== c) return;
    this.drop();
    this.retryAt = Date.now() + RETRY_MS;
  }

  private drop(): void {
    this.listener = null;
    this.changes++;
    this.cached.clear();
  }
}

const copyOf = (a: Account): Account => ({ ...a, senders: [...a.senders] });

/** watchedAccounts: `plain` with its lookups by establishment kept by `watch`, which forgets each account changed. */
export function watchedAccounts(plain: AccountStore, watch: AccountWatch): AccountStore {
  const thenForget =
    <A extends unknown[]>(change: (e: string, ...rest: A) => Promise<boolean>) =>
    async (e: string, ...rest: A) => {
      try {
        return await change(e, ...rest);
      } finally {
        watch.forget(e);
      }
    };
  return {
    ...plain,
    byEstablishment: (e) => watch.byEstablishment(e),
    setDisabled: thenForget(plain.setDisabled),
    setPasswordHash: thenForget(plain.setPasswordHash),
    setTlsReuse: thenForget(plain.setTlsReuse),
  };
}
