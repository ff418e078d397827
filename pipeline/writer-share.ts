/**
 * How a file's batches share a store's one writer (Store.giveWay; docs/observations.md "Sharing the writer"). Before
 * each change the file gives way to those waiting for the writer. While others want it, its batches are stored in
 * parts cut to what it stores in about `turnMs` (the pace of its changes so far): an observation or an upload then
 * waits for one short change at most, not for a batch of 100,000 records. When no one else wants the writer,
 * batches go whole, as fast as they can.
 */
import type { Store } from '../store';
import { recordCount, splitBatch, type RecordBatch } from './batcher';

/**
 * Others may hold the writer this many times as long as one of the file's short changes: while observations keep
 * coming, they get four fifths of the writer and the file at least one fifth. A DMS waits for its reading's status;
 * a nightly file has the night.
 */
const OTHERS_SHARE = 4;
/** The part of a first short change, before any pace is known. */
const FIRST_PART_RECORDS = 10_000;
/** Parts never smaller than this: a change has a cost of its own (a commit, a fsync). */
const MIN_PART_RECORDS = 1_000;

export class WriterShare {
  /** Records stored per ms, smoothed over the changes so far; null before the first. */
  private pace: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly turnMs: number,
  ) {}

  /** Changes stored so far. */
  changes = 0;

  /** split gives `batches` as the changes to store them in, in order, giving way before each. */
  async *split(batches: readonly RecordBatch[]): AsyncGenerator<RecordBatch[]> {
    let todo = [...batches];
    while (todo.length > 0) {
      if (!(await this.store.giveWay(OTHERS_SHARE * this.turnMs))) {
        yield todo;
        return;
      }
      const [first, ...rest] = todo;
      const [part, ...after] = splitBatch(first, this.partRecords());
      yield [part];
      todo = [...after, ...rest];
    }
  }

  /** stored: a change took `ms`; its pace cuts the next parts. */
  stored(change: readonly RecordBatch[], ms: number): void {
    this.changes++;
    const records = change.reduce((n, b) => n + recordCount(b), 0);
    if (records === 0 || ms <= 0) return;
    const pace = records / ms;
    this.pace = this.pace === null ? pace : (this.pace + pace) / 2;
  }

  private partRecords(): number {
    if (this.pace === null) return FIRST_PART_RECORDS;
    return Math.max(MIN_PART_RECORDS, Math.round(this.pace * this.turnMs));
  }
}
