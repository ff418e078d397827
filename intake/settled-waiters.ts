/**
 * Waiting for observations to be settled, for any number of waiters at the cost of one: while anyone waits, one
 * timer asks the store every `pollMs` which of all the awaited observations are settled (one query), and wakes
 * their waiters. Polling the store rather than listening to the drainer: the store is where the status is decided,
 * on any host, and a missed event cannot leave a waiter waiting.
 */
export class SettledWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | null = null;
  private looking = false;

  constructor(
    private readonly settled: (ids: readonly string[]) => Promise<string[]>,
    private readonly pollMs: number,
  ) {}

  /** wait resolves once `id` is settled or after `ms`, whichever comes first. */
  wait(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timeout: NodeJS.Timeout | undefined = undefined;
      const done = () => {
        clearTimeout(timeout);
        const set = this.waiting.get(id);
        set?.delete(done);
        if (set?.size === 0) this.waiting.delete(id);
        if (this.waiting.size === 0) this.stop();
        resolve();
      };
      timeout = setTimeout(done, ms);
      const set = this.waiting.get(id) ?? new Set();
      set.add(done);
      this.waiting.set(id, set);
      this.timer ??= setInterval(() => void this.look(), this.pollMs);
    });
  }

  /** close wakes every waiter and stops looking. */
  close(): void {
    for (const set of [...this.waiting.values()]) for (const done of [...set]) done();
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async look(): Promise<void> {
    if (this.looking || this.waiting.size === 0) return;
    this.looking = true;
    try {
      for (const id of await this.settled([...this.waiting.keys()])) for (const done of [...(this.waiting.get(id) ?? [])]) done();
    } catch {
      // the store is busy or away: the next look asks again
    } finally {
      this.looking = false;
    }
  }
}
