import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCsvFile } from '../parsers/csv-file';
import type { FileItem } from '../model/file-items';
import { checkRecord } from '../rules/record-checks';
import { checkHeader } from '../rules/header-checks';
import { FileTally } from '../rules/file-tally';

const FIXTURES = join(__dirname, '..', 'fixtures');
const TODAY = '2026-11-26';
const GARAGE = '2123456692';

async function items(path: string): Promise<FileItem[]> {
  const out: FileItem[] = [];
  for await (const item of readCsvFile(path)) out.push(item);
  return out;
}

/** brief renders items as "kind@line" (+ ref for readings, code for fatal items) for compact assertions. */
function brief(list: FileItem[]): string[] {
  return list.map((i) => {
    if (i.kind === 'reading') return `R@${i.line}#${i.index}:${i.fields.ref}`;
    if (i.kind === 'fatal') return `fatal@${i.line}:${i.code}`;
    return `${i.kind}@${i.line}`;
  });
}

/** verdict runs the file-level checks and the record checks over a file's items, like the pipeline does. */
async function verdict(name: string) {
  const list = await items(join(FIXTURES, name));
  const tally = new FileTally();
  list.forEach((i) => tally.add(i));
  const header = list.find((i): i is Extract<FileItem, { kind: 'header' }> => i.kind === 'header') ?? null;
  const fileCodes = [...checkHeader(header, [GARAGE]), ...tally.finish({ maxRecords: 1000 }).findings].map((f) => f.code);
  const lineCodes: Record<number, string[]> = {};
  for (const i of list) {
    if (i.kind === 'reading') lineCodes[i.line] = checkRecord(i.fields, i.fieldCount, { today: TODAY }).findings.map((f) => f.code);
    if (i.kind === 'malformed') lineCodes[i.line] = ['E10'];
  }
  return { list, fileCodes: [...new Set(fileCodes)], lineCodes };
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'odo-csv-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const H = 'H;INFLOW;1;2123456692;2026-11-25T22:00:00+01:00;TestDMS 1.0';
const r = (ref: string, odometer = 1000) => `R;${ref};WVWZZZ1JZXW000001;;2026-11-20;${odometer};km;MAINT;N;;`;

describe('readCsvFile on the fixtures', () => {
  it('valid-3-readings.csv: header, 3 readings, trailer, no finding', async () => {
    const v = await verdict('valid-3-readings.csv');
    expect(brief(v.list)).toEqual(['header@1', 'R@2#1:WO-1001', 'R@3#2:WO-1002', 'R@4#3:WO-1003', 'trailer@5']);
    expect(v.list[0]).toEqual({
      kind: 'header',
      line: 1,
      fields: { format: 'INFLOW', version: '1', sender: GARAGE, created: '2026-11-25T22:00:00+01:00', software: 'FixtureDMS 1.0' },
      fieldCount: 5,
    });
    expect(v.list[1]).toEqual({
      kind: 'reading',
      line: 2,
      index: 1,
      fieldCount: 10,
      fields: {
        ref: 'WO-1001',
        vin: 'WVWZZZ1JZXW000001',
        plate: '1-ABC-123',
        date: '2026-11-20',
        odometer: '123456',
        unit: 'km',
        work: 'MAINT',
        replaced: 'N',
        digits: '',
        corrects: '',
      },
    });
    expect(v.list[4]).toEqual({ kind: 'trailer', line: 5, fields: { count: '3', sum: '185777' }, fieldCount: 2 });
    expect(v.fileCodes).toEqual([]);
    expect(Object.values(v.lineCodes).flat()).toEqual([]);
  });

  it('valid-no-trailer.csv: no finding', async () => {
    const v = await verdict('valid-no-trailer.csv');
    expect(brief(v.list)).toEqual(['header@1', 'R@2#1:WO-1001', 'R@3#2:WO-1002']);
    expect(v.fileCodes).toEqual([]);
  });

  it('bom-crlf.csv: same items as without BOM and CR', async () => {
    const plain = await items(join(FIXTURES, 'valid-3-readings.csv'));
    expect(await items(join(FIXTURES, 'bom-crlf.csv'))).toEqual(plain);
  });

  it('mixed-valid-and-invalid.csv: one code per line as the fixture README says', async () => {
    const v = await verdict('mixed-valid-and-invalid.csv');
    expect(v.fileCodes).toEqual([]);
    expect(v.lineCodes).toEqual({
      2: [],
      3: [],
      4: ['E10'],
      5: ['E10'],
      6: ['E11'],
      7: ['E12'],
      8: ['E14'],
      9: ['E15'],
      10: ['E16'],
      11: ['E17'],
      12: ['E18'],
      13: ['E19'],
      14: ['E20'],
      15: [],
      16: [],
      17: [],
    });
    expect(v.list.find((i) => i.line === 5)).toMatchObject({ kind: 'malformed', message: expect.stringContaining('"X"') });
    // The E21 pair: the pipeline flags line 16 as a repeat of line 15.
    const [a, b] = v.list.filter((i) => i.line === 15 || i.line === 16) as Extract<FileItem, { kind: 'reading' }>[];
    expect([a.fields.vin, a.fields.date, a.fields.odometer]).toEqual([b.fields.vin, b.fields.date, b.fields.odometer]);
  });

  it.each([
    ['f02-bad-header.csv', ['F02']],
    ['f02-no-header.csv', ['F02']],
    ['f03-wrong-sender.csv', ['F03']],
    ['f04-trailer-count-mismatch.csv', ['F04']],
    ['f04-trailer-sum-mismatch.csv', ['F04']],
    ['f05-invalid-utf8.csv', ['F05']],
    ['f01-empty.csv', ['F02']], // detectFormat refuses it first (F01); read anyway, it has no header
  ])('%s gives %j', async (name, expected) => {
    expect((await verdict(name)).fileCodes).toEqual(expected);
  });

  it('f05-invalid-utf8.csv: the lines before, then a fatal F05 at line 3', async () => {
    expect(brief(await items(join(FIXTURES, 'f05-invalid-utf8.csv')))).toEqual(['header@1', 'R@2#1:WO-1001', 'fatal@3:F05']);
  });

  it('f02-no-header.csv: the R record on line 1 is read as a record', async () => {
    expect(brief(await items(join(FIXTURES, 'f02-no-header.csv')))).toEqual(['R@1#1:WO-1001', 'R@2#2:WO-1002', 'R@3#3:WO-1003']);
  });

  it('f01-binary.csv: no header, one malformed line (detectFormat refuses it before)', async () => {
    expect(brief(await items(join(FIXTURES, 'f01-binary.csv')))).toEqual(['malformed@1']);
  });
});

describe('readCsvFile', () => {
  describe('line numbers', () => {
    it('count blank lines, CRLF and a BOM', async () => {
      const p = file('blank.csv', '\ufeff' + [H, '', r('a'), '  ', '', r('b'), 'T;2;2000', ''].join('\r\n'));
      expect(brief(await items(p))).toEqual(['header@1', 'R@3#1:a', 'R@6#2:b', 'trailer@7']);
    });

    it('give a record with quoted line breaks the line it starts on', async () => {
      const p = file(
        'multiline.csv',
        [H, 'R;"x\ny";WVWZZZ1JZXW000001;"1\r\nAB\r\nC";2026-11-20;1;km;MAINT;N;;', r('after'), 'R;"\n\n";V;;;;;;;;', r('last')].join(
          '\r\n',
        ),
      );
      const list = await items(p);
      expect(brief(list)).toEqual(['header@1', 'R@2#1:x\ny', 'R@6#2:after', 'R@7#3:', 'R@10#4:last']);
      expect(list[1]).toMatchObject({ fields: { plate: '1\r\nAB\r\nC' }, fieldCount: 10 });
    });

    it('hold when csv-parse is fed in many chunks (a 2 MB file)', async () => {
      const lines = [H];
      for (let i = 0; i < 30_000; i++) lines.push(i % 1000 === 7 ? 'R;"multi\nline";V;;;;;;;;' : r(`n${i}`));
      const list = await items(file('chunks.csv', lines.join('\n') + '\n'));
      const expectedLines: number[] = [];
      let line = 2;
      for (let i = 0; i < 30_000; i++) {
        expectedLines.push(line);
        line += i % 1000 === 7 ? 2 : 1;
      }
      expect(list.slice(1).map((i) => i.line)).toEqual(expectedLines);
    });
  });

  describe('records', () => {
    it('map fields by position, trim them and count fields after the type', async () => {
      const p = file('fields.csv', [H, 'R; a ;vin', 'R;1;2;3;4;5;6;7;8;9;10;11;12', ' T ; 5 ; 7 ;x'].join('\n'));
      expect((await items(p)).slice(1)).toEqual([
        {
          kind: 'reading',
          line: 2,
          index: 1,
          fieldCount: 2,
          fields: { ref: 'a', vin: 'vin', plate: '', date: '', odometer: '', unit: '', work: '', replaced: '', digits: '', corrects: '' },
        },
        {
          kind: 'reading',
          line: 3,
          index: 2,
          fieldCount: 12,
          fields: {
            ref: '1',
            vin: '2',
            plate: '3',
            date: '4',
            odometer: '5',
            unit: '6',
            work: '7',
            replaced: '8',
            digits: '9',
            corrects: '10',
          },
        },
        { kind: 'trailer', line: 4, fields: { count: '5', sum: '7' }, fieldCount: 3 },
      ]);
    });

    it('make unknown types, a second H and a missing type malformed', async () => {
      const p = file('types.csv', [H, 'X;1', 'H;INFLOW;1;2123456692;x;y', ';;;', 'r;lower', r('ok')].join('\n'));
      const list = await items(p);
      expect(brief(list)).toEqual(['header@1', 'malformed@2', 'malformed@3', 'malformed@4', 'malformed@5', 'R@6#1:ok']);
      for (const i of list.filter((x) => x.kind === 'malformed')) expect((i as { message: string }).message).toMatch(/^[A-Z].*\.$/);
    });

    it('read the header even when it is the only line and has no newline', async () => {
      expect(await items(file('only-h.csv', 'H;INFLOW;1;2123456692'))).toEqual([
        {
          kind: 'header',
          line: 1,
          fields: { format: 'INFLOW', version: '1', sender: '2123456692', created: '', software: '' },
          fieldCount: 3,
        },
      ]);
    });

    it('read a quoted header field', async () => {
      const [h] = await items(file('quoted-h.csv', 'H;INFLOW;1;2123456692;2026-11-25T22:00:00+01:00;"DMS; ""pro"""\n'));
      expect(h).toMatchObject({ kind: 'header', fields: { software: 'DMS; "pro"' }, fieldCount: 5 });
    });

    it('give an empty file no item at all', async () => {
      expect(await items(file('empty.csv', ''))).toEqual([]);
    });
  });

  describe('quoting', () => {
    it('keeps a stray quote in the value and goes on (the field checks reject it)', async () => {
      const p = file('stray.csv', [H, 'R;WO"1;WVWZZZ1JZXW000001;;2026-11-20;1;km;MAINT;N;;', 'R;"WO2"x;V;;;;;;;;', r('next')].join('\n'));
      const list = await items(p);
      expect(brief(list)).toEqual(['header@1', 'R@2#1:WO"1', 'R@3#2:"WO2"x', 'R@4#3:next']);
      const reading = list[1] as Extract<FileItem, { kind: 'reading' }>;
      expect(checkRecord(reading.fields, reading.fieldCount, { today: TODAY }).findings.map((f) => f.code)).toEqual(['E20']);
    });

    it('ends with a fatal F05 on the line where a never-closed quote starts', async () => {
      const p = file('unclosed.csv', [H, r('a'), 'R;"b;V;;;;;;;;', r('c'), r('d')].join('\n') + '\n');
      expect(brief(await items(p))).toEqual(['header@1', 'R@2#1:a', 'fatal@3:F05']);
    });

    it('stops at a runaway quote once the record passes 64 KiB', async () => {
      const p = file('runaway.csv', [H, r('a'), 'R;"b', ...Array(5000).fill(r('swallowed'))].join('\n'));
      const list = await items(p);
      expect(brief(list)).toEqual(['header@1', 'R@2#1:a', 'fatal@3:F05']);
      expect(list[2]).toMatchObject({ message: expect.stringContaining('longer than') });
    });

    it('refuses a header with an unclosed quote (F02)', async () => {
      expect(brief(await items(file('h-quote.csv', 'H;"INFLOW;1;2123456692\nR;x\n')))).toEqual(['fatal@1:F02']);
    });
  });

  describe('invalid UTF-8', () => {
    it('drops the bad line and what follows, and ends with F05 at that line', async () => {
      const p = file(
        'bad.csv',
        Buffer.concat([Buffer.from([H, r('a'), r('b'), 'R;c'].join('\n')), Buffer.from([0xc3, 0x28]), Buffer.from(';x\n' + r('d'))]),
      );
      expect(brief(await items(p))).toEqual(['header@1', 'R@2#1:a', 'R@3#2:b', 'fatal@4:F05']);
    });

    it('in the header: only the fatal item', async () => {
      const p = file('bad-h.csv', Buffer.concat([Buffer.from('H;INFLOW;1;'), Buffer.from([0xff]), Buffer.from('\n' + r('a'))]));
      expect(brief(await items(p))).toEqual(['fatal@1:F05']);
    });

    it('inside a quoted multi-line value: the record that reaches the bad line is dropped', async () => {
      const p = file(
        'bad-ml.csv',
        Buffer.concat([Buffer.from([H, r('a'), 'R;"x\ny'].join('\n')), Buffer.from([0xff]), Buffer.from('";V;;;;;;;;\n')]),
      );
      expect(brief(await items(p))).toEqual(['header@1', 'R@2#1:a', 'fatal@4:F05']);
    });

    it('at the very end (a cut-off sequence)', async () => {
      const p = file('bad-end.csv', Buffer.concat([Buffer.from([H, r('a'), 'R;'].join('\n')), Buffer.from([0xe2, 0x82])]));
      expect(brief(await items(p))).toEqual(['header@1', 'R@2#1:a', 'fatal@3:F05']);
    });

    /** atChunkBoundary builds a file whose `bytes` start 1 byte before the reader's 256 KiB chunk boundary. */
    function atChunkBoundary(bytes: number[]): { content: Buffer; line: number } {
      const head = [H];
      while (head.join('\n').length < 200_000) head.push(r(`p${head.length}`));
      const prefix = head.join('\n') + '\nR;long;WVWZZZ1JZXW000001;';
      const pad = 256 * 1024 - 1 - Buffer.byteLength(prefix);
      const content = Buffer.concat([
        Buffer.from(prefix + 'A'.repeat(pad)),
        Buffer.from(bytes),
        Buffer.from(';2026-11-20;1;km;MAINT;N;;\n' + r('tail') + '\n'),
      ]);
      expect(content.indexOf(Buffer.from(bytes))).toBe(256 * 1024 - 1);
      return { content, line: head.length + 1 };
    }

    it('accepts a 2-byte character split by the chunk boundary', async () => {
      const { content, line } = atChunkBoundary([0xc3, 0xa9]); // é
      const list = await items(file('split-ok.csv', content));
      const long = list.find((i) => i.line === line) as Extract<FileItem, { kind: 'reading' }>;
      expect(long.fields.plate.endsWith('Aé')).toBe(true);
      expect(brief(list.slice(-1))).toEqual([`R@${line + 1}#${line}:tail`]);
    });

    it('refuses an invalid sequence split by the chunk boundary', async () => {
      const { content, line } = atChunkBoundary([0xe2, 0x28]);
      const list = await items(file('split-bad.csv', content));
      expect(brief(list.slice(-2))).toEqual([`R@${line - 1}#${line - 2}:p${line - 2}`, `fatal@${line}:F05`]);
    });
  });

  describe('a large file', () => {
    it('streams 200,000 records with the right count and last line', async () => {
      const p = join(dir, 'large.csv');
      const out = createWriteStream(p);
      out.write(H + '\n');
      let sum = 0;
      for (let i = 1; i <= 200_000; i++) {
        const odo = (i * 7919) % 300_000;
        sum += odo;
        if (!out.write(`R;WO-${i};WVWZZZ1JZXW${String(i).padStart(6, '0')};;2026-11-20;${odo};km;MAINT;N;;\n`)) await once(out, 'drain');
      }
      out.end(`T;200000;${sum}\n`);
      await once(out, 'finish');

      const tally = new FileTally();
      let last: FileItem | null = null;
      let readings = 0;
      for await (const item of readCsvFile(p)) {
        tally.add(item);
        if (item.kind === 'reading') {
          readings++;
          if (item.index !== readings || item.line !== readings + 1) throw new Error(`out of step at ${item.line}`);
        }
        last = item;
      }
      expect(readings).toBe(200_000);
      expect(last).toEqual({ kind: 'trailer', line: 200_002, fields: { count: '200000', sum: String(sum) }, fieldCount: 2 });
      expect(tally.finish({ maxRecords: 5_000_000 }).findings).toEqual([]);
    });

    it('lets a consumer stop early (an F06 stop) without reading the rest', async () => {
      const p = file('stop.csv', [H, ...Array.from({ length: 50_000 }, (_, i) => r(`s${i}`))].join('\n'));
      let seen = 0;
      for await (const item of readCsvFile(p)) {
        if (item.kind === 'reading' && ++seen === 10) break;
      }
      expect(seen).toBe(10);
      rmSync(p); // the file handle is closed: nothing holds it
    });
  });
});
