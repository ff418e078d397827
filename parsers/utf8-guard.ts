/**
 * UTF-8 validation of a byte stream (docs/formats.md: batch files are UTF-8; invalid UTF-8 is F05), cheap on the common
 * path: node's native `isUtf8` checks whole chunks, and only a failing chunk is walked byte by byte to find where.
 */
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';

/** The error a Utf8Guard fails with: where the first invalid byte sequence starts. */
export class Utf8Error extends Error {
  constructor(
    /** 1-based line of the first byte of the invalid sequence. */
    readonly line: number,
    /** 0-based byte offset of that byte in the stream. */
    readonly offset: number,
  ) {
    super(`invalid UTF-8 at line ${line} (byte ${offset})`);
    this.name = 'Utf8Error';
  }
}

/**
 * Utf8Checker is the guard's state machine: feed it the stream's chunks in order (`check`), then `end`. A multi-byte
 * sequence split between chunks is held back (at most 3 bytes) and checked together with the next chunk.
 */
export class Utf8Checker {
  private carry: Buffer = Buffer.alloc(0);
  private carryOffset = 0; // stream offset of carry[0]
  private offset = 0; // stream offset just after the bytes checked so far (carry included)
  private lines = 1; // line of the next byte after the completely checked bytes

  /** check returns null when the chunk keeps the stream valid so far, else the error at its first invalid byte. */
  check(chunk: Buffer): Utf8Error | null {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const dataOffset = this.carry.length === 0 ? this.offset : this.carryOffset;
    this.offset += chunk.length;
    const cut = completeLength(data);
    if (!isUtf8(data.subarray(0, cut))) {
      const bad = firstInvalid(data, cut);
      return new Utf8Error(this.lines + countNewlines(data, 0, bad), dataOffset + bad);
    }
    this.lines += countNewlines(data, 0, cut); // the held-back tail holds no newline (only bytes ≥ 0x80)
    this.carry = Buffer.from(data.subarray(cut)); // copied: the caller may reuse its chunk buffer
    this.carryOffset = dataOffset + cut;
    return null;
  }

  /** end returns the error of a multi-byte sequence left unfinished at the end of the stream, or null. */
  end(): Utf8Error | null {
    return this.carry.length === 0 ? null : new Utf8Error(this.lines, this.carryOffset);
  }
}

/** Utf8Guard is a Transform that passes bytes through unchanged and fails with a Utf8Error on invalid UTF-8. */
export class Utf8Guard extends Transform {
  private readonly checker = new Utf8Checker();
  private passed = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    const err = this.checker.check(chunk);
    if (err) {
      // Push the valid bytes before the bad one; a consumer may still lose them when the error destroys the
      // stream first (node drops buffered data on destroy). Readers that need every byte before the error, like
      // the CSV reader, use Utf8Checker directly.
      const keep = err.offset - this.passed;
      if (keep > 0) this.push(chunk.subarray(0, keep));
      callback(err);
      return;
    }
    this.passed += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.checker.end());
  }
}

/** completeLength returns the length of buf without a trailing multi-byte sequence that the next chunk may finish. */
function completeLength(buf: Buffer): number {
  const len = buf.length;
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  let i = len - 1;
  while (i >= 0 && i >= len - 4 && (buf[i] & 0xc0) === 0x80) i--;
  if (i < 0 || i < len - 4) return len; // no lead byte near the end: invalid or complete, isUtf8 decides
  const need = sequenceLength(buf[i]);
  return need > len - i ? i : len;
}

/** sequenceLength returns how many bytes a sequence with this lead byte has (0 if it cannot lead one). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** firstInvalid returns the offset of the first byte of the first invalid sequence in buf[0, end). */
function firstInvalid(buf: Buffer, end: number): number {
  let i = 0;
  while (i < end) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(b);
    if (n === 0 || i + n > end) return i;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF (RFC 3629).
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (buf[i + 1] < lo || buf[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if ((buf[i + k] & 0xc0) !== 0x80) return i;
    i += n;
  }
  return end; // not reached when isUtf8 failed; kept total for safety
}

/** countNewlines returns the number of \n bytes in buf[from, to). */
function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(10, from); i !== -1 && i < to; i = buf.indexOf(10, i + 1)) n++;
  return n;
}
