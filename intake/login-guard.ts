/**
 * Brute-force lockout (docs/ftps.md, "Logins and lockout"). Every login attempt reserves its place before its
 * password is checked, so parallel attempts cannot exceed a limit, and each reservation becomes a failure or is
 * released when the check ends. The limits, each counted within `windowMs` and locking for `lockMs`:
 *
 * - `user:<name>`: `maxFailures` for a username, from IPs it has not logged in from. Establishment numbers are
 *   public, so this lock must not shut the garage itself out:
 * - `user@ip:<name>@<ip>`: `maxFailures` for a username from an IP it logged in from before; the username's lock
 *   does not apply there, only this one.
 * - `ip:<ip>`: `ipMaxFailures` from one IP, for usernames that have not logged in from it. Accounts that have
 *   logged in from that IP before (a chain's branches behind one NAT) are not locked by it.
 *
 * Kept in memory: the FTPS front is one process, and a restart lifts the locks and forgets the known IPs.
 */
import type { Settings } from '../config/defaults';
import { DEFAULTS } from '../config/defaults';

export interface LoginGuardOptions {
  maxFailures: number;
  ipMaxFailures: number;
  windowMs: number;
  lockMs: number;
}

/** loginGuardOptions reads the lockout settings. */
export function loginGuardOptions(s: Settings): LoginGuardOptions {
  return { maxFailures: s.loginMaxFailures, ipMaxFailures: s.loginIpMaxFailures, windowMs: s.loginWindowMs, lockMs: s.loginLockMs };
}

/** A reserved login attempt: settle it once, with the password check's outcome (or cancel it if none ran). */
export interface LoginAttempt {
  /** The username logged in from this IP before: its own limit applies, not the username's nor the IP's. */
  readonly knownIp: boolean;
  /** fail records a failed check; returns the keys that became locked. */
  fail(): string[];
  /** succeed releases the reservation and remembers the IP for the username. */
  succeed(): void;
  /** cancel releases the reservation: no password was checked. */
  cancel(): void;
}

/** What reserve answers: an attempt that may check its password, or the key that refuses it. */
export type Reservation = { attempt: LoginAttempt; locked?: undefined } | { attempt?: undefined; locked: string };

interface KeyState {
  failures: number[];
  pending: number;
  lockedUntil: number;
}

/** Keys kept at most (failures, locks); the oldest idle ones go first beyond it. */
const MAX_KEYS = 100_000;
/** (username, IP) pairs remembered at most; the least recently used go first beyond it. */
const MAX_KNOWN = 100_000;

export class LoginGuard {
  private readonly keys = new Map<string, KeyState>();
  private readonly known = new Map<string, true>();

  constructor(
    private readonly opts: LoginGuardOptions = loginGuardOptions(DEFAULTS),
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * reserve decides, synchronously (before any password check starts), whether this attempt may check its password:
   * not when a limit it falls under is locked, nor when its failures and the attempts in flight already reach it.
   */
  reserve(username: string, ip: string): Reservation {
    const t = this.now();
    const pair = `${username}@${ip}`;
    const knownIp = this.known.has(pair);
    const limits = this.limitsFor(username, ip);
    for (const [key, max] of limits) {
      if (this.refuses(this.keys.get(key) ?? { failures: [], pending: 0, lockedUntil: 0 }, max, t)) return { locked: key };
    }
    if (this.keys.size >= MAX_KEYS) this.prune(t);
    const states = limits.map(([key, max]) => ({ key, max, st: this.state(key) }));
    for (const s of states) s.st.pending++;
    let settled = false;
    const settle = () => {
      if (settled) throw new Error('login attempt settled twice');
      settled = true;
      for (const s of states) s.st.pending--;
    };
    return {
      attempt: {
        knownIp,
        fail: () => {
          settle();
          return this.recordFailure(states, this.now());
        },
        succeed: () => {
          settle();
          if (knownIp) states[0].st.failures = []; // the pair's own mistypes; a username's lock stays
          this.known.delete(pair);
          this.known.set(pair, true);
          if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value!);
        },
        cancel: settle,
      },
    };
  }

  /**
   * lockedFor names the lock that holds for a login of `username` from `ip` now, or null: for a login taken without
   * a password check (a remembered one over HTTPS), which must be refused while a lock holds, as any other.
   */
  lockedFor(username: string, ip: string): string | null {
    const t = this.now();
    for (const [key] of this.limitsFor(username, ip)) if ((this.keys.get(key)?.lockedUntil ?? 0) > t) return key;
    return null;
  }

  /** limitsFor: the keys, with their limits, that a login of `username` from `ip` falls under (see the top). */
  private limitsFor(username: string, ip: string): [string, number][] {
    const pair = `${username}@${ip}`;
    if (this.known.has(pair)) return [['user@ip:' + pair, this.opts.maxFailures]];
    return [
      ['user:' + username, this.opts.maxFailures],
      ['ip:' + ip, this.opts.ipMaxFailures],
    ];
  }

  /** refuses: the key is locked, or its recent failures and the attempts in flight reach its limit. */
  private refuses(st: KeyState, max: number, t: number): boolean {
    if (st.lockedUntil > t) return true;
    st.failures = st.failures.filter((x) => t - x < this.opts.windowMs);
    return st.failures.length + st.pending >= max;
  }

  private recordFailure(states: { key: string; max: number; st: KeyState }[], t: number): string[] {
    const locked: string[] = [];
    for (const { key, max, st } of states) {
      st.failures = st.failures.filter((x) => t - x < this.opts.windowMs);
      st.failures.push(t);
      if (st.failures.length >= max) {
        st.lockedUntil = t + this.opts.lockMs;
        st.failures = [];
        locked.push(key);
      }
    }
    return locked;
  }

  private state(key: string): KeyState {
    let st = this.keys.get(key);
    if (!st) {
      st = { failures: [], pending: 0, lockedUntil: 0 };
      this.keys.set(key, st);
    }
    return st;
  }

  /**
   * prune forgets keys with nothing left (failures out of the window, lock run out, no attempt in flight), so that
   * many usernames cannot fill memory; if that is not enough, the oldest keys without an attempt in flight go.
   */
  private prune(t: number): void {
    for (const [key, st] of this.keys) {
      if (st.pending === 0 && st.lockedUntil <= t && !st.failures.some((x) => t - x < this.opts.windowMs)) this.keys.delete(key);
    }
    for (const [key, st] of this.keys) {
      if (this.keys.size < MAX_KEYS * 0.9) break;
      if (st.pending === 0) this.keys.delete(key);
    }
  }
}
