/** Password hashing (docs/ftps.md): salted scrypt from node:crypto, never stored in clear. */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, keylen: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** hashPassword returns `scrypt$N$r$p$salt$hash` (base64 parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** verifyPassword compares in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, saltB64, hashB64] = stored.split('$');
  if (kind !== 'scrypt' || !saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64');
  let got: Buffer;
  try {
    got = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  } catch {
    return false; // parameters scrypt refuses
  }
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}

/**
 * What a login for a username without a usable account is checked against: the same scrypt work as a real hash
 * (same parameters and sizes), so that an unknown user is answered after the same work as a known one.
 */
export const STAND_IN_HASH = ['scrypt', N, R, P, Buffer.alloc(16).toString('base64'), Buffer.alloc(KEYLEN).toString('base64')].join('$');

/** A password check's outcome, and how long it waited for a free slot. */
export interface CheckResult {
  match: boolean;
  waitedMs: number;
}

/**
 * PasswordChecks runs password checks (scrypt, on libuv's thread pool, which file I/O shares) at most
 * `concurrency` at once, with at most `queue` waiting; an attempt beyond that is refused at once, so a burst of
 * logins can neither stall uploads nor pile up. Logins from an IP the account used before wait in their own
 * queue, served first: a flood of strangers does not keep the garages out. Settings: loginCheckConcurrency,
 * loginCheckQueue.
 */
export class PasswordChecks {
  private running = 0;
  private readonly queues: Record<'known' | 'other', (() => void)[]> = { known: [], other: [] };

  constructor(private readonly limits: { concurrency: number; queue: number }) {}

  /** check verifies within the limits; null when no slot and no place in the queue is free (refuse at once). */
  check(password: string, stored: string, knownIp: boolean): Promise<CheckResult> | null {
    const queue = this.queues[knownIp ? 'known' : 'other'];
    if (this.running >= this.limits.concurrency && queue.length >= this.limits.queue) return null;
    const queuedAt = Date.now();
    return new Promise<CheckResult>((resolve) => {
      queue.push(() => {
        const waitedMs = Date.now() - queuedAt;
        void verifyPassword(password, stored)
          .then((match) => resolve({ match, waitedMs }))
          .finally(() => {
            this.running--;
            this.next();
          });
      });
      this.next();
    });
  }

  /** load: checks running and waiting now (for the audit log of a refusal). */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.queues.known.length + this.queues.other.length };
  }

  private next(): void {
    while (this.running < this.limits.concurrency) {
      const start = this.queues.known.shift() ?? this.queues.other.shift();
      if (!start) return;
      this.running++;
      start();
    }
  }
}

/** randomPassword makes a password for generated accounts: 20 characters, no look-alikes. */
export function randomPassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.randomBytes(20);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}
