/**
 * Where each thing lives: the one place that knows the layout. Two roots: the files directory holds what every
 * host of a fleet must see (stored uploads, drop zones, receipts; NFS in production, docs/deployment.md), the data
 * directory what belongs to one host (its SQLite database, TLS pair, private Redis, spool). Without a files
 * directory both are the data directory, as a single box has always had it.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/**
 * Modes of everything made in the data directory, from the moment it is made: it holds password hashes, readings
 * and the private Redis's password, so neither group nor others may read it.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export interface DataLayout {
  /** The host's own data directory. */
  root: string;
  /** The files directory every host shares (the data directory when none is set). */
  filesRoot: string;
  db: string;
  /** Files taken in, out of every jail, named by their front's host and a random id until processed. */
  storeDir: string;
  /** Per-account drop zones (FTPS `/`): held `.part`/`.tmp`/dot names and uploads in progress. */
  dropDir(establishment: string): string;
  /** The folder of every account's drop zone. */
  dropRoot: string;
  /** Per-account receipts (FTPS `/receipts/`). */
  receiptsDir(establishment: string): string;
  /**
   * The path the database records for a file in the files directory: relative to it, so that every host finds
   * the file wherever it mounts the directory.
   */
  recordedPath(file: string): string;
  /** The file a recorded path names on this host (a path recorded absolute, as before files directories, stays as is). */
  filesPath(recorded: string): string;
  /** Batches a file's reader has read ahead of their storing (pipeline/spool.ts), only while the file is processed. */
  spoolDir: string;
  tlsDir: string;
  redisDir: string;
  /** URL of the private Redis that `serve` started, for the other commands. */
  redisUrlFile: string;
  demoAccountFile: string;
}

/** dataLayout maps a data directory and the files directory (null: the data directory) to their parts. */
export function dataLayout(dataDir: string, filesDir: string | null = null): DataLayout {
  const root = path.resolve(dataDir);
  const filesRoot = filesDir === null ? root : path.resolve(filesDir);
  const dropRoot = path.join(filesRoot, 'drop');
  return {
    root,
    filesRoot,
    db: path.join(root, 'inflow.db'),
    storeDir: path.join(filesRoot, 'store'),
    dropDir: (est) => path.join(dropRoot, est),
    dropRoot,
    receiptsDir: (est) => path.join(filesRoot, 'receipts', est),
    recordedPath: (file) => path.relative(filesRoot, path.resolve(file)),
    filesPath: (recorded) => path.resolve(filesRoot, recorded),
    spoolDir: path.join(root, 'spool'),
    tlsDir: path.join(root, 'tls'),
    redisDir: path.join(root, 'redis'),
    redisUrlFile: path.join(root, 'redis.url'),
    demoAccountFile: path.join(root, 'demo-account.txt'),
  };
}

/**
 * This host's mark in the names of the files it puts in the shared store (its hostname, reduced to characters
 * every file system takes): a sweep tells its own files from other hosts' by it (intake/stored-orphans.ts).
 */
export const HOST_MARK =
  os
    .hostname()
    .replace(/[^A-Za-z0-9.-]/g, '_')
    .slice(0, 64) || 'host';

/** storedName: a new name in the store, `<host mark>~<random id>`. */
export function storedName(): string {
  return `${HOST_MARK}~${crypto.randomUUID()}`;
}

/** storedByHost: the host mark in a stored file's name; null for a name from before host marks. */
export function storedByHost(name: string): string | null {
  const i = name.lastIndexOf('~');
  return i > 0 ? name.slice(0, i) : null;
}

/** layoutOf: the layout of resolved settings. */
export function layoutOf(settings: { dataDir: string; filesDir: string | null }): DataLayout {
  return dataLayout(settings.dataDir, settings.filesDir);
}
