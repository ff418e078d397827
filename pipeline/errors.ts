/**
 * How a processing failure is classified. A bad batch file is never an error here: it gets a REJECTED receipt.
 * What reaches the job as an exception is an infrastructure fault (disk, SQLite busy, Redis), retried with
 * back-off; FileGoneError cannot get better by retrying.
 */
export class FileGoneError extends Error {
  readonly code = 'FILE_GONE';
}
