/** Where each thing lives in the data directory: the one place that knows the layout. */
import path from 'node:path';

/**
 * Modes of everything made in the data directory, from the moment it is made: it holds password hashes, readings
 * and the private Redis's password, so neither group nor others may read it.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export interface DataLayout {
  root: string;
  db: string;
  /** Files taken in, out of every jail, named by a random id until processed. */
  storeDir: string;
  /** Per-account drop zones (FTPS `/`): held `.part`/`.tmp`/dot names and uploads in progress. */
  dropDir(establishment: string): string;
  /** The folder of every account's drop zone. */
  dropRoot: string;
  /** Per-account receipts (FTPS `/receipts/`). */
  receiptsDir(establishment: string): string;
  /** Batches a file's reader has read ahead of their storing (pipeline/spool.ts), only while the file is processed. */
  spoolDir: string;
  tlsDir: string;
  redisDir: string;
  /** URL of the private Redis that `serve` started, for the other commands. */
  redisUrlFile: string;
  auditLog: string;
  demoAccountFile: string;
}

/** dataLayout maps a data directory to its parts. */
export function dataLayout(dataDir: string): DataLayout {
  const root = path.resolve(dataDir);
  const dropRoot = path.join(root, 'drop');
  return {
    root,
    db: path.join(root, 'inflow.db'),
    storeDir: path.join(root, 'store'),
    dropDir: (est) => path.join(dropRoot, est),
    dropRoot,
    receiptsDir: (est) => path.join(root, 'receipts', est),
    spoolDir: path.join(root, 'spool'),
    tlsDir: path.join(root, 'tls'),
    redisDir: path.join(root, 'redis'),
    redisUrlFile: path.join(root, 'redis.url'),
    auditLog: path.join(root, 'audit.log'),
    demoAccountFile: path.join(root, 'demo-account.txt'),
  };
}
