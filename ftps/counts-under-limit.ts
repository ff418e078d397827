/**
 * Open things per key (connections per IP address or per account, passive ports per account) under a ceiling;
 * 0 is no ceiling. The FTPS front's caps all count this way.
 */
export class CountsUnderLimit {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** take counts one more for `key`; false, counting nothing, when `key` is at the ceiling. */
  take(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}
