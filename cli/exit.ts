/**
 * The one way out of the CLI (docs/cli.md, exit codes): 0 success, 1 a user error with a one-line message (no stack trace),
 * 2 a usage error.
 */
export class UserError extends Error {
  readonly code = 'USER_ERROR';
}

/** failWith prints one line on stderr and exits 1 (2 for usage); unexpected errors print only their message too. */
export function failWith(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`inflow: ${msg.split('\n')[0]}\n`);
  if (process.env.INFLOW_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}
