/**
 * The FTPS view of one account (docs/ftps.md): `/` is the drop zone, `/receipts/` its read-only receipts, nothing
 * else exists. Client paths are normalised against `/` (no `..` climbs out), names never contain a separator,
 * and symlinks are never followed. Completed uploads are handed to the intake at once; `.part`, `.tmp` and
 * dot names are held in the drop zone until renamed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileSystem } from 'ftp-srv';
import type { FtpConnection } from 'ftp-srv';
import type { Account } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { Intake } from '../intake/intake';
import { UploadStream } from './upload-stream';
import { INCOMING, isHeldName, type HeldFiles } from './held-files';
import { hasUnsafeText } from '../model/text';

type Place = { kind: 'root' } | { kind: 'receipts' } | { kind: 'drop'; name: string } | { kind: 'receipt'; name: string };

// ftp-srv exports its error classes as `ftpErrors` (its .d.ts says otherwise); 550 is the reply code.
const { FileSystemError } = (require('ftp-srv') as { ftpErrors: { FileSystemError: new (msg: string, code?: number) => Error } }).ftpErrors;

function refuse(message: string): never {
  throw new FileSystemError(message, 550);
}

export interface JailDeps {
  account: Account;
  dropDir: string;
  receiptsDir: string;
  maxFileBytes: number;
  intake: Intake;
  held: HeldFiles;
  audit: AuditLog;
  ip?: string;
}

export class JailFileSystem extends FileSystem {
  private cwdPath = '/';

  constructor(
    connection: FtpConnection,
    private readonly deps: JailDeps,
  ) {
    super(connection, { root: deps.dropDir, cwd: '/' });
    fs.mkdirSync(path.join(deps.dropDir, INCOMING), { recursive: true, mode: 0o700 });
    fs.mkdirSync(deps.receiptsDir, { recursive: true, mode: 0o700 });
  }

  /** place maps a client path to what it names in the jail, or refuses it. */
  private place(clientPath: string = '.'): Place {
    if (hasUnsafeText(clientPath) || clientPath.includes('\\')) refuse('Invalid path');
    const abs = path.posix.resolve('/', this.cwdPath, clientPath); // resolve() stops `..` at `/`
    const parts = abs.split('/').filter(Boolean);
    if (parts.length === 0) return { kind: 'root' };
    if (parts.length === 1) {
      if (parts[0] === 'receipts') return { kind: 'receipts' };
      if (parts[0] === INCOMING) refuse('No such file or directory');
      return { kind: 'drop', name: validName(parts[0]) };
    }
    if (parts.length === 2 && parts[0] === 'receipts') return { kind: 'receipt', name: validName(parts[1]) };
    return refuse('No such file or directory');
  }

  private fsPath(p: Place): string {
    switch (p.kind) {
      case 'root':
        return this.deps.dropDir;
      case 'receipts':
        return this.deps.receiptsDir;
      case 'drop':
        return path.join(this.deps.dropDir, p.name);
      case 'receipt':
        return path.join(this.deps.receiptsDir, p.name);
    }
  }

  override currentDirectory(): string {
    return this.cwdPath;
  }

  override async get(fileName: string): Promise<any> {
    const p = this.place(fileName);
    const st = await lstatOrRefuse(this.fsPath(p));
    return Object.assign(st, { name: p.kind === 'root' ? '/' : p.kind === 'receipts' ? 'receipts' : p.name });
  }

  override async list(dir: string = '.'): Promise<any> {
    const p = this.place(dir);
    if (p.kind !== 'root' && p.kind !== 'receipts') return [await this.get(dir)];
    const base = this.fsPath(p);
    const out: fs.Stats[] = [];
    if (p.kind === 'root') out.push(Object.assign(await fs.promises.lstat(this.deps.receiptsDir), { name: 'receipts' }));
    for (const name of await fs.promises.readdir(base)) {
      if (name === INCOMING || (p.kind === 'receipts' && name.startsWith('.'))) continue; // internals, receipts being written
      const st = await fs.promises.lstat(path.join(base, name)).catch(() => null);
      if (st && st.isFile()) out.push(Object.assign(st, { name }));
    }
    return out;
  }

  override async chdir(dir: string = '.'): Promise<string> {
    const p = this.place(dir);
    if (p.kind === 'root') this.cwdPath = '/';
    else if (p.kind === 'receipts') this.cwdPath = '/receipts';
    else refuse('Not a directory');
    return this.cwdPath;
  }

  override write(fileName: string, opts: { append?: boolean; start?: any } = {}): any {
    const p = this.place(fileName);
    if (p.kind !== 'drop') refuse(p.kind === 'receipt' || p.kind === 'receipts' ? 'Receipts are read-only' : 'Cannot write here');
    if (opts.append || opts.start) refuse('Append and restart are not supported: upload the whole file again');
    const { account, intake, audit, ip } = this.deps;
    const temp = path.join(this.deps.dropDir, INCOMING, crypto.randomUUID());
    const name = p.name;
    const stream = new UploadStream(temp, this.deps.maxFileBytes, async (u) => {
      if (isHeldName(name)) {
        await this.deps.held.hold(this.deps.dropDir, name, u.tempPath, u.size);
        audit.write('held', { account: account.establishment, ip, name, size: u.size });
      } else {
        await intake.takeIn(account, name, u.tempPath, u.size, u.sha256, ip);
      }
    });
    stream.once('error', (err) => audit.write('upload_aborted', { account: account.establishment, ip, name, error: err.message }));
    return { stream, clientPath: '/' + name };
  }

  override async read(fileName: string): Promise<any> {
    const p = this.place(fileName);
    if (p.kind !== 'receipt') refuse(p.kind === 'drop' ? 'Files in the drop zone cannot be downloaded' : 'Not a file');
    const file = this.fsPath(p);
    const st = await lstatOrRefuse(file);
    if (!st.isFile()) refuse('Not a file');
    return { stream: fs.createReadStream(file), clientPath: '/receipts/' + p.name };
  }

  override async delete(target: string): Promise<any> {
    const p = this.place(target);
    if (p.kind !== 'drop') refuse('Permission denied');
    await lstatOrRefuse(this.fsPath(p));
    await fs.promises.unlink(this.fsPath(p));
  }

  override async mkdir(): Promise<any> {
    refuse('Permission denied');
  }

  override async rename(from: string, to: string): Promise<any> {
    const a = this.place(from);
    const b = this.place(to);
    if (a.kind !== 'drop' || b.kind !== 'drop') refuse('Permission denied');
    const src = this.fsPath(a);
    await lstatOrRefuse(src);
    if (isHeldName(b.name)) {
      await fs.promises.rename(src, this.fsPath(b));
      return;
    }
    await this.deps.intake.takeInExisting(this.deps.account, b.name, src, this.deps.ip);
  }

  override async chmod(): Promise<any> {
    refuse('Permission denied');
  }

  override getUniqueName(): string {
    return refuse('Not supported');
  }
}

function validName(name: string): string {
  if (name.length > 200 || name === '.' || name === '..') refuse('Invalid file name');
  return name;
}

async function lstatOrRefuse(p: string): Promise<fs.Stats> {
  const st = await fs.promises.lstat(p).catch(() => null);
  if (!st || st.isSymbolicLink()) return refuse('No such file or directory');
  return st;
}
