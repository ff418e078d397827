/**
 * Group commit: items handed in while a commit is under way wait for it to end and are then committed together,
 * in one call. Nothing waits on a timer: an item alone is committed at once. Twenty DMS sending at the same moment
 * cost one transaction (one fsync on SQLite, one round trip on PostgreSQL) instead of twenty.
 */
export class GroupCommit<T> {
  private queued: { item: T; settle: (err?: unknown) => void }[] = [];
  private committing = false;

  /**
   * @param commit commits a group, all or none.
   * @param itemMayBeAtFault says whether a group's failure may be one item's fault (a constraint, say) rather than
   *   the store's (busy, away): then each of its items is committed alone, so that the fault is that item's answer.
   */
  constructor(
    private readonly commit: (items: readonly T[]) => Promise<void>,
    private readonly itemMayBeAtFault: (err: unknown) => boolean,
  ) {}

  /** add resolves once `item` is committed (rejects with its commit's error). */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ item, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.committing) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.committing = true;
    try {
      while (this.queued.length > 0) {
        const group = this.queued;
        this.queued = [];
        await this.commitGroup(group);
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitGroup(group: { item: T; settle: (err?: unknown) => void }[]): Promise<void> {
    try {
      await this.commit(group.map((g) => g.item));
      for (const g of group) g.settle();
    } catch (err) {
      if (group.length === 1 || !this.itemMayBeAtFault(err)) {
        for (const g of group) g.settle(err ?? new Error('commit failed'));
        return;
      }
      for (const g of group) await this.commitGroup([g]);
    }
  }
}
