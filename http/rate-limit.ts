/**
 * Requests per account per minute (`httpRequestsPerMinute`): a sliding count over the last minute, kept in memory
 * like the login lockout (one front process; a restart forgets it).
 */
const WINDOW_MS = 60_000;
/** Accounts remembered at most; the least recently seen go first beyond it. */
const MAX_ACCOUNTS = 100_000;

export class RateLimit {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** take counts one request of `account`: 0 when it may go on, else the seconds until it may try again. */
  take(account: string): number {
    if (this.perMinute === 0) return 0;
    const t = this.now();
    const times = (this.recent.get(account) ?? []).filter((x) => t - x < WINDOW_MS);
    this.recent.delete(account);
    this.recent.set(account, times);
    if (this.recent.size > MAX_ACCOUNTS) this.recent.delete(this.recent.keys().next().value!);
    if (times.length >= this.perMinute) return Math.max(1, Math.ceil((times[0] + WINDOW_MS - t) / 1000));
    times.push(t);
    return 0;
  }
}
