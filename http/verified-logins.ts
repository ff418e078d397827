/**
 * HTTP Basic sends the password with every request, and checking it (scrypt) takes a thread of libuv's pool for tens
 * of milliseconds: a DMS sending readings one by one would spend more on logins than on readings. So a login that
 * succeeded is remembered for a while, by a keyed hash of its credentials (never the password itself), and the same
 * credentials are then taken without a new scrypt check, as long as the account still has the password hash,
 * role and enabled state they were checked against: a password change or `accounts disable` takes effect at once.
 * Wrong credentials are never remembered: every failure goes through the lockout.
 */
import crypto from 'node:crypto';
import type { Account } from '../store';

/** How long a verified login is taken without a new check. */
const VERIFIED_MS = 5 * 60_000;
/** Verified logins remembered at most; the oldest go first beyond it. */
const MAX_VERIFIED = 10_000;

export class VerifiedLogins {
  /** A fresh key per process: the remembered hashes are worthless anywhere else. */
  private readonly key = crypto.randomBytes(32);
  private readonly verified = new Map<string, { passwordHash: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  private id(username: string, password: string): string {
    return crypto.createHmac('sha256', this.key).update(username).update('\0').update(password).digest('base64');
  }

  /** remember records that these credentials were checked and belong to `account`. */
  remember(username: string, password: string, account: Account): void {
    const id = this.id(username, password);
    this.verified.delete(id);
    this.verified.set(id, { passwordHash: account.passwordHash, until: this.now() + VERIFIED_MS });
    if (this.verified.size > MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
  }

  /** verifies: these credentials were checked against `account` as it is now (same hash, enabled) and lately. */
  verifies(username: string, password: string, account: Account | null): boolean {
    const id = this.id(username, password);
    const v = this.verified.get(id);
    if (!v) return false;
    if (v.until <= this.now() || !account || account.disabled || account.passwordHash !== v.passwordHash) {
      this.verified.delete(id);
      return false;
    }
    return true;
  }
}
