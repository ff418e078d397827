/**
 * Waiting in tests: for an event (a log line, a file appearing, a status in the database) and never for a fixed
 * time standing in for one. `sleep` is only for time that must pass for its own sake (a lock's duration, a slow
 * client's pace, an idle timeout): say why where it is used.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';

/** sleep lets time pass: for what the test is about (a duration), never for an event that can be awaited. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * waitFor polls `fn` until it returns a truthy value, and returns it; after `timeoutMs` it fails with
 * "timed out after N ms waiting for <what>" (and `detail()`, when given, says what was seen instead).
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 60_000,
  everyMs = 100,
  detail?: () => string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? ':\n' + detail() : ''}`);
    await sleep(everyMs);
  }
}

/**
 * waitForOutput resolves as soon as `out()` (a child's stdout and stderr as collected so far) matches `pattern`:
 * it listens to the child's output, no polling. It fails with the output when the child exits first or after
 * `timeoutMs` (the child is then killed).
 */
export function waitForOutput(
  child: ChildProcess,
  out: () => string,
  pattern: string | RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const matches = () => (typeof pattern === 'string' ? out().includes(pattern) : pattern.test(out()));
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('close', exited);
      if (err) reject(err);
      else resolve();
    };
    // setImmediate: the test's own 'data' listener (which collects `out`) may run after this one.
    const check = () => setImmediate(() => matches() && done());
    const exited = () =>
      setImmediate(() =>
        matches() ? done() : done(new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode}) first:\n${out()}`)),
      );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${out()}`));
    }, timeoutMs);
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('close', exited);
    if (matches()) done();
    else if (child.exitCode !== null || child.signalCode !== null) exited();
  });
}

/** partialUpload finds an upload in progress in a drop zone's .incoming/ with at least `minBytes` received. */
export function partialUpload(dropDir: string, minBytes = 1): string | null {
  const incoming = path.join(dropDir, '.incoming');
  if (!fs.existsSync(incoming)) return null;
  for (const name of fs.readdirSync(incoming)) {
    try {
      if (fs.statSync(path.join(incoming, name)).size >= minBytes) return name;
    } catch {
      // finished or discarded meanwhile
    }
  }
  return null;
}

/** isEmptyDir: the directory holds nothing (an upload's temporary file was discarded). */
export const isEmptyDir = (dir: string) => fs.readdirSync(dir).length === 0;
