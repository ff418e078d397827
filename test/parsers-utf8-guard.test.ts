import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isUtf8 } from 'node:buffer';
import { Utf8Checker, Utf8Error, Utf8Guard } from '../parsers/utf8-guard';

/** run pushes the chunks through a Utf8Guard and returns what came out and the error, if any. */
async function run(chunks: Buffer[]): Promise<{ out: Buffer; err: Utf8Error | null }> {
  const out: Buffer[] = [];
  let err: Utf8Error | null = null;
  try {
    await pipeline(Readable.from(chunks, { objectMode: false }), new Utf8Guard(), async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) out.push(c);
    });
  } catch (e) {
    if (!(e instanceof Utf8Error)) throw e;
    err = e;
  }
  return { out: Buffer.concat(out), err };
}

/** check feeds the chunks to a Utf8Checker and returns the first error (or the end-of-stream one). */
function check(chunks: Buffer[]): Utf8Error | null {
  const c = new Utf8Checker();
  for (const chunk of chunks) {
    const err = c.check(chunk);
    if (err) return err;
  }
  return c.end();
}

/** splits returns buf cut at every position into two chunks, and into one-byte chunks. */
function splits(buf: Buffer): Buffer[][] {
  const out: Buffer[][] = [[buf]];
  for (let i = 1; i < buf.length; i++) out.push([buf.subarray(0, i), buf.subarray(i)]);
  out.push([...buf].map((b) => Buffer.from([b])));
  return out;
}

const b = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('Utf8Guard', () => {
  it('passes valid bytes through unchanged', async () => {
    const input = b('H;INFLOW\nR;Zürich;€;😀\n');
    const { out, err } = await run([input]);
    expect(err).toBeNull();
    expect(out.equals(input)).toBe(true);
  });

  it.each([
    ['é (2 bytes)', 'é'],
    ['€ (3 bytes)', '€'],
    ['😀 (4 bytes)', '😀'],
  ])('accepts %s split between chunks at every position', async (_name, ch) => {
    const input = b('ab\n', ch, '\ncd');
    for (const chunks of splits(input)) {
      const { out, err } = await run(chunks);
      expect(err).toBeNull();
      expect(out.equals(input)).toBe(true);
    }
  });

  it('fails with the line and offset of the bad byte', async () => {
    const input = b('line1\nline2\nR;', [0xff], 'x\nline4\n');
    const { out, err } = await run([b('line1\n'), input.subarray(6)]);
    expect(err).toBeInstanceOf(Utf8Error);
    expect(err).toMatchObject({ line: 3, offset: 14 });
    expect(out.toString()).not.toContain('x'); // nothing from the bad byte on
  });

  it('fails on an invalid sequence split between chunks, with the line of its first byte', async () => {
    // E2 82 starts a 3-byte sequence; "A" cannot continue it.
    const input = b('a\nb\nc', [0xe2, 0x82], 'A\n');
    for (const chunks of splits(input)) {
      const { err } = await run(chunks);
      expect(err).toMatchObject({ line: 3, offset: 5 });
    }
  });

  it('fails on a sequence cut off by the end of the stream', async () => {
    const { err } = await run([b('ok\n', [0xf0, 0x9f, 0x98])]);
    expect(err).toMatchObject({ line: 2, offset: 3 });
  });
});

describe('Utf8Checker', () => {
  it.each<[string, number[]]>([
    ['a lone continuation byte', [0x80]],
    ['overlong NUL', [0xc0, 0x80]],
    ['overlong 3-byte', [0xe0, 0x80, 0xaf]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xF5 lead', [0xf5, 0x80, 0x80, 0x80]],
    ['0xFF', [0xff]],
    ['Latin-1 é before ASCII', [0xe9, 0x41]],
  ])('refuses %s at its first byte, however the stream is cut', (_name, bad) => {
    const input = b('x\n\ny', bad, 'z\n');
    for (const chunks of splits(input)) {
      expect(check(chunks)).toMatchObject({ line: 3, offset: 4 });
    }
  });

  it('gives the same verdict however random data is cut into chunks', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = [b('a'), b('\n'), b('é'), b('€'), b('😀'), b([0xe2, 0x82]), b([0x80]), b([0xf0, 0x9f])];
    for (let round = 0; round < 300; round++) {
      const parts = Array.from({ length: 1 + rand(12) }, () => alphabet[rand(round % 3 === 0 ? alphabet.length : 5)]);
      const input = Buffer.concat(parts);
      const whole = check([input]);
      const cuts = [...new Set(Array.from({ length: rand(4) }, () => rand(input.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const c of cuts) {
        chunks.push(input.subarray(from, c));
        from = c;
      }
      chunks.push(input.subarray(from));
      const cut = check(chunks);
      expect({ input: input.toString('hex'), cuts, r: cut && { line: cut.line, offset: cut.offset } }).toEqual({
        input: input.toString('hex'),
        cuts,
        r: whole && { line: whole.line, offset: whole.offset },
      });
      // Valid exactly when node's own validator says so.
      expect(whole === null).toBe(isUtf8(input));
    }
  });
});
