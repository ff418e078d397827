/** The quote-free fast path of readCsvFile gives exactly the items csv-parse gives. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCsvFile } from '../parsers/csv-file';
import type { FileItem } from '../model/file-items';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-plain-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function items(file: string): Promise<FileItem[]> {
  const out: FileItem[] = [];
  for await (const i of readCsvFile(file)) out.push(i);
  return out;
}

function messyLines(n: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 11;
    if (k === 0) lines.push('');
    else if (k === 1) lines.push(`R; WO-${i} ;WVWZZZ1JZXW${String(i).padStart(6, '0')};;2026-11-20;${i};km;MAINT;N;;  `);
    else if (k === 2) lines.push(`R;WO-${i};WVWZZZ1JZXW000001;;2026-11-20;${i};km;MAINT;N;`);
    else if (k === 3) lines.push(`X;${i}`);
    else if (k === 4) lines.push('   ');
    else if (k === 5) lines.push(`R;é-${i};WVWZZZ1JZXW000001;1-ÄBC-1;2026-11-20;${i};mi;TYRES;Y;5;;extra`);
    else if (k === 6) lines.push(`H;INFLOW;1;x`);
    else lines.push(`R;WO-${i};WVWZZZ1JZXW${String(i).padStart(6, '0')};;2026-11-2${k % 10};${i * 7};km;REPAIR;N;;`);
  }
  return lines;
}

describe.each([['\n'], ['\r\n']])('with line ending %j', (eol) => {
  it('yields the same items as csv-parse, line numbers included', async () => {
    const body = ['H;INFLOW;1;2123456692;2026-11-25T22:00:00+01:00;DMS', ...messyLines(3000), 'T;5;6'];
    const plain = path.join(dir, `plain${eol.length}.csv`);
    const quoted = path.join(dir, `quoted${eol.length}.csv`);
    fs.writeFileSync(plain, body.join(eol) + eol);
    // One quoted field at the very end sends the whole file through csv-parse.
    fs.writeFileSync(quoted, body.join(eol) + eol + 'R;"q";WVWZZZ1JZXW000001;;2026-11-20;1;km;MAINT;N;;' + eol);
    const a = await items(plain);
    const b = await items(quoted);
    expect(a.length).toBeGreaterThan(2400);
    expect(b.slice(0, -1)).toEqual(a);
    expect(b[b.length - 1]).toMatchObject({ kind: 'reading', fields: { ref: 'q' } });
  });
});

it('treats a last line without a newline, and invalid UTF-8, like csv-parse', async () => {
  const base =
    'H;INFLOW;1;2123456692;x;y\nR;a;WVWZZZ1JZXW000001;;2026-11-20;1;km;MAINT;N;;\nR;b;WVWZZZ1JZXW000002;;2026-11-20;2;km;MAINT;N;;';
  const plain = path.join(dir, 'nonl.csv');
  const quoted = path.join(dir, 'nonl-q.csv');
  fs.writeFileSync(plain, Buffer.concat([Buffer.from(base + '\nR;\xff;', 'latin1'), Buffer.from('x\n')]));
  fs.writeFileSync(quoted, Buffer.concat([Buffer.from(base.replace(';a;', ';"a";') + '\nR;\xff;', 'latin1'), Buffer.from('x\n')]));
  const a = await items(plain);
  const b = await items(quoted);
  expect(a.map((i) => i.kind)).toEqual(['header', 'reading', 'reading', 'fatal']);
  expect(a[3]).toMatchObject({ code: 'F05', line: 4 });
  expect(b.map((i) => [i.kind, i.line])).toEqual(a.map((i) => [i.kind, i.line]));
});
