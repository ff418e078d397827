/**
 * The FTPS view of one account (docs/ftps.md): `/` is the drop zone, `/receipts/` its read-only receipts, nothing
 * else exists. Client paths are normalised against `/` (no `..` climbs out), names never contain a separator,
 * and symlinks are never followed. Completed uploads are handed to the intake at once; `.part`, `.tmp` and
 * dot names are held in the drop zone until renamed.
 *
 * Names are counted in bytes (UTF-8): at most MAX_NAME_BYTES for a file taken in (a held name's `.part`/`.tmp`
 * not counted), so that every file can get its receipt; a longer one is refused with 553 at STOR and RNTO.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileSystem } from 'ftp-srv';
import type { FtpConnection } from 'ftp-srv';
import { StoreBusyError, type Account } from '../store';
import type { AuditLog } from '../store/audit-log';
import { MAX_NAME_BYTES, type Intake } from '../intake/intake';
import { UploadStream } from '../intake/upload-stream';
import { INCOMING, isHeldName, type HeldFiles } from './held-files';
import { hasUnsafeText } from '../model/text';

/** The ending of a held name that does not count against the name limit (held-files.ts's isHeldName). */
const HELD_ENDING = /\.(part|tmp)$/i;

type Place = { kind: 'root' } | { kind: 'receipts' } | { kind: 'drop'; name: string } | { kind: 'receipt'; name: string };

// ftp-srv exports its error classes as `ftpErrors` (its .d.ts says otherwise); 550 is the reply code.
const { FileSystemError } = (require('ftp-srv') as { ftpErrors: { FileSystemError: new (msg: string, code?: number) => Error } }).ftpErrors;

function refuse(message: string): never {
  throw new FileSystemError(message, 550);
}

/** A refusal with its own reply code (ftp-srv answers its errors with 550: permanent). */
export class Refusal extends Error {
  constructor(
    readonly replyCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The longest name a file system allows, in bytes. */
const NAME_MAX_BYTES = 255;

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
  /** The Refusal the command running now failed with: its 550 reply goes out with the refusal's own code. */
  private refusal: Refusal | null = null;

  constructor(
    connection: FtpConnection,
    private readonly deps: JailDeps,
  ) {
    super(connection, { root: deps.dropDir, cwd: '/' });
    fs.mkdirSync(path.join(deps.dropDir, INCOMING), { recursive: true, mode: 0o700 });
    fs.mkdirSync(deps.receiptsDir, { recursive: true, mode: 0o700 });
    // ftp-srv answers a failed RNTO with 550 and the error's message; the patched STOR already uses replyCode.
    const conn = connection as unknown as { reply: (code: unknown, ...letters: unknown[]) => Promise<unknown> };
    const reply = conn.reply.bind(connection);
    conn.reply = (code, ...letters) => {
      const r = this.refusal;
      this.refusal = null;
      return r && code === 550 && letters[0] === r.message ? reply(r.replyCode, ...letters) : reply(code, ...letters);
    };
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
    const name = this.uploadName(p.name);
    const temp = path.join(this.deps.dropDir, INCOMING, crypto.randomUUID());
    const stream = new UploadStream(temp, this.deps.maxFileBytes, async (u) => {
      if (isHeldName(name)) {
        await this.deps.held.hold(this.deps.dropDir, name, u.tempPath, u.size);
        audit.write('held', { account: account.establishment, ip, name, size: u.size });
      } else {
        await intake.takeIn(account, name, u.tempPath, u.size, u.sha256, ip).catch((err) => {
          throw this.transient(err, name);
        });
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
    try {
      const a = this.place(from);
      const b = this.place(to);
      if (a.kind !== 'drop' || b.kind !== 'drop') refuse('Permission denied');
      const name = this.uploadName(b.name);
      const src = this.fsPath(a);
      await lstatOrRefuse(src);
      if (isHeldName(name)) {
        await fs.promises.rename(src, this.fsPath(b));
        return;
      }
      await this.takeInHeld(src, name);
    } catch (err) {
      if (err instanceof Refusal) this.refusal = err;
      throw err;
    }
  }

  /**
   * takeInHeld takes the held file at `src` in under `name`. It is moved out of the client's reach first: a STOR
   * to the held name meanwhile makes a new file, and what is hashed is what is stored. On failure it goes back to
   * its held name (for the client's retry), unless a new upload has taken that name.
   */
  private async takeInHeld(src: string, name: string): Promise<void> {
    const { account, intake, ip } = this.deps;
    const own = path.join(this.deps.dropDir, INCOMING, crypto.randomUUID());
    await fs.promises.rename(src, own).catch(() => refuse('No such file or directory'));
    try {
      await intake.takeInExisting(account, name, own, ip);
    } catch (err) {
      await fs.promises.link(own, src).catch(() => {});
      await fs.promises.rm(own, { force: true });
      throw this.transient(err, name);
    }
  }

  /** uploadName: `name` when a file may be uploaded or renamed to it, else a 553 refusal. */
  private uploadName(name: string): string {
    if (Buffer.byteLength(name.replace(HELD_ENDING, ''), 'utf8') <= MAX_NAME_BYTES) return name;
    const { account, audit, ip } = this.deps;
    audit.write('upload_refused', { account: account.establishment, ip, name, reason: 'name too long' });
    throw new Refusal(553, `File name too long: at most ${MAX_NAME_BYTES} bytes (UTF-8), not counting a final .part or .tmp`);
  }

  /** transient: the store was busy past its wait is a 451 (send the file again later); other errors stay as they are. */
  private transient(err: unknown, name: string): unknown {
    if (!(err instanceof StoreBusyError)) return err;
    const { account, audit, ip } = this.deps;
    audit.write('upload_refused', { account: account.establishment, ip, name, reason: 'database busy', error: err.message });
    return new Refusal(451, 'The registry is busy: the file was not taken in, send it again later');
  }

  override async chmod(): Promise<any> {
    refuse('Permission denied');
  }

  override getUniqueName(): string {
    return refuse('Not supported');
  }
}

function validName(name: string): string {
  if (name === '.' || name === '..') refuse('Invalid file name');
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX_BYTES) throw new Refusal(553, 'File name too long');
  return name;
}

async function lstatOrRefuse(p: string): Promise<fs.Stats> {
  const st = await fs.promises.lstat(p).catch(() => null);
  if (!st || st.isSymbolicLink()) return refuse('No such file or directory');
  return st;
}
