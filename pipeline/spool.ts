/**
 * The reader thread's spool: batches read ahead of their storing wait here, on disk, in order. The reader never
 * waits for the job thread, so a file's verdict always comes as soon as the file is read, whatever its storing is
 * waiting for (pipeline/process-file.ts says why that matters), and memory stays bounded whatever the file's size.
 *
 * Each batch: a 4-byte length, its JSON (everything but the packed readings), the packed readings.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RecordBatch } from './batcher';

/** spoolPathFor names a new spool of file `fileId` in `dir`: one per attempt. */
export function spoolPathFor(dir: string, fileId: string): string {
  return path.join(dir, `${fileId}.${process.pid}.${crypto.randomUUID()}`);
}

/**
 * removeSpools deletes the spools earlier attempts of file `fileId` left behind (a worker killed while reading it
 * cannot remove its own). Call it when an attempt starts or the file is abandoned: no other attempt runs then.
 */
export function removeSpools(dir: string, fileId: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // no spool directory yet
  }
  for (const name of names) if (name.startsWith(`${fileId}.`)) fs.rmSync(path.join(dir, name), { force: true });
}

export class Spool {
  private fd: number | null = null;
  private writeAt = 0;
  private readAt = 0;
  private count = 0;

  constructor(private readonly file: string) {}

  get size(): number {
    return this.count;
  }

  /** put appends a batch; its buffer is free again afterwards. */
  put(b: RecordBatch): void {
    this.fd ??= fs.openSync(this.file, 'w+', 0o600);
    const meta = Buffer.from(JSON.stringify({ others: b.others, lastLine: b.lastLine, sender: b.sender, packedBytes: b.packedBytes }));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(meta.length);
    for (const part of [head, meta, Buffer.from(b.packed.buffer, b.packed.byteOffset, b.packedBytes)]) {
      fs.writeSync(this.fd, part, 0, part.length, this.writeAt);
      this.writeAt += part.length;
    }
    this.count++;
  }

  /** take returns the oldest batch, its packed readings in a buffer from `buffers`. */
  take(buffers: (bytes: number) => Uint8Array): RecordBatch {
    if (this.fd === null || this.count === 0) throw new Error('the spool is empty');
    const head = Buffer.alloc(4);
    this.read(head, 4);
    const meta = Buffer.alloc(head.readUInt32LE());
    this.read(meta, meta.length);
    const m = JSON.parse(meta.toString()) as Omit<RecordBatch, 'packed'>;
    const packed = buffers(m.packedBytes);
    this.read(packed, m.packedBytes);
    this.count--;
    return { ...m, packed };
  }

  private read(into: Uint8Array, bytes: number): void {
    let got = 0;
    while (got < bytes) {
      const n = fs.readSync(this.fd!, into, got, bytes - got, this.readAt);
      if (n === 0) throw new Error('the spool ended early');
      got += n;
      this.readAt += n;
    }
  }

  /** remove closes and deletes the spool file. */
  remove(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.file, { force: true });
  }
}
