/**
 * Brute-force lockout (docs/ftps.md): after `maxFailures` failed logins for a username or from an IP within
 * `windowMs`, further logins from it are refused for `lockMs` (a right password included). Kept in memory: the
 * FTPS front is one process, and a restart lifts the locks. Settings: loginMaxFailures, loginWindowMs, loginLockMs.
 */
export interface LoginGuardOptions {
  /** @defaultValue 5 */
  maxFailures: number;
  /** @defaultValue 15 minutes */
  windowMs: number;
  /** @defaultValue 15 minutes */
  lockMs: number;
}

export const LOGIN_GUARD_DEFAULTS: LoginGuardOptions = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

export class LoginGuard {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(
    private readonly opts: LoginGuardOptions = LOGIN_GUARD_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** lockedKey returns the key ('user:…' or 'ip:…') that is locked now, or null. */
  lockedKey(username: string, ip: string): string | null {
    const t = this.now();
    for (const key of keys(username, ip)) {
      const until = this.lockedUntil.get(key);
      if (until !== undefined && until > t) return key;
      if (until !== undefined) this.lockedUntil.delete(key);
    }
    return null;
  }

  /** fail records a failed login; returns the keys that became locked. */
  fail(username: string, ip: string): string[] {
    const t = this.now();
    if (this.failures.size + this.lockedUntil.size > MAX_KEYS) this.prune(t);
    const locked: string[] = [];
    for (const key of keys(username, ip)) {
      const recent = (this.failures.get(key) ?? []).filter((x) => t - x < this.opts.windowMs);
      recent.push(t);
      this.failures.set(key, recent);
      if (recent.length >= this.opts.maxFailures) {
        this.lockedUntil.set(key, t + this.opts.lockMs);
        this.failures.delete(key);
        locked.push(key);
      }
    }
    return locked;
  }

  /** prune forgets failures older than the window and locks that ran out (many usernames must not fill memory). */
  private prune(t: number): void {
    for (const [key, times] of this.failures) {
      if (!times.some((x) => t - x < this.opts.windowMs)) this.failures.delete(key);
    }
    for (const [key, until] of this.lockedUntil) {
      if (until <= t) this.lockedUntil.delete(key);
    }
  }

  /** succeed clears the username's failures (the IP's stay: one IP trying many usernames is still counted). */
  succeed(username: string): void {
    this.failures.delete('user:' + username);
  }
}

const MAX_KEYS = 10_000;

function keys(username: string, ip: string): string[] {
  return ['user:' + username, 'ip:' + ip];
}
