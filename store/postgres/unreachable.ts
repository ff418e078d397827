/**
 * A database server that cannot be reached (down, restarting, failing over, out of connections) is a transient
 * condition, as SQLite's lock held by another writer is: callers get StoreBusyError, so that the FTPS front answers
 * "send it again later" (451) instead of a permanent failure, and a worker's retry is the right move.
 */
import { StoreBusyError, type Store } from '../types';

/** Node socket errors and SQLSTATEs (class 08 connection exception, 57P0x shutdown, 53300 too many connections). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const UNREACHABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/** isUnreachable: the error says the server could not be reached or dropped the connection, not that a statement failed. */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (UNREACHABLE.has(code) || UNREACHABLE_SQLSTATE.test(code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|connection timeout/i.test(e.message);
}

function asBusy(err: unknown): unknown {
  return isUnreachable(err) ? new StoreBusyError(`the database cannot be reached: ${(err as Error).message}`) : err;
}

/** wrapFacet: the facet's async methods fail with StoreBusyError where the server could not be reached. */
function wrapFacet<T extends object>(facet: T): T {
  return new Proxy(facet, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        return out instanceof Promise ? busyWhenUnreachable(out) : out;
      };
    },
  });
}

/** busyWhenUnreachable passes a call's result on, its failure as StoreBusyError where the server could not be reached. */
function busyWhenUnreachable<T>(p: Promise<T>): Promise<T> {
  return p.catch((err) => Promise.reject(asBusy(err)));
}

/** unreachableAsBusy wraps a store: every facet's async methods and the store's own. */
export function unreachableAsBusy(store: Store): Store {
  return {
    accounts: wrapFacet(store.accounts),
    files: wrapFacet(store.files),
    readings: wrapFacet(store.readings),
    issues: wrapFacet(store.issues),
    vehicles: wrapFacet(store.vehicles),
    reports: wrapFacet(store.reports),
    audit: wrapFacet(store.audit),
    observations: wrapFacet(store.observations),
    storeBatch: (req, work) => busyWhenUnreachable(store.storeBatch(req, work)),
    storeManualCorrection: (req, work) => busyWhenUnreachable(store.storeManualCorrection(req, work)),
    pending: (pks) => busyWhenUnreachable(store.pending(pks)),
    giveWay: (maxMs) => store.giveWay(maxMs),
    close: () => store.close(),
  };
}
