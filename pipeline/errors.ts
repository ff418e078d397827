/**
 * How a processing failure is classified. A bad batch file is never an error here: it gets a REJECTED receipt.
 * What reaches the job as an exception is an infrastructure fault (disk, SQLite busy, Redis), retried with
 * back-off; FileGoneError cannot get better by retrying.
 */
export class FileGoneError extends Error {
  readonly code = 'FILE_GONE';
}

/**
 * The file waits for other files in flight that hold records of its vehicles: a worker gives its slot back and the
 * file comes back from the queue a moment later (no attempt is used), so a file never holds a slot that the file
 * it waits for needs (with one slot, a dead worker's file could otherwise never be taken over).
 */
export class WaitForFilesError extends Error {
  readonly code = 'WAIT_FOR_FILES';
  constructor(readonly blockedBy: readonly number[]) {
    super(`waiting for files ${blockedBy.join(', ')} to close`);
  }
}
