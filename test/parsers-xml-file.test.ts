import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readXmlFile } from '../parsers/xml-file';
import { XmlItems } from '../parsers/xml-items';
import { readCsvFile } from '../parsers/csv-file';
import { detectFormat } from '../parsers/detect-format';
import type { FileItem } from '../model/file-items';
import { checkRecord } from '../rules/record-checks';
import { checkHeader } from '../rules/header-checks';
import { FileTally } from '../rules/file-tally';

const FIXTURES = join(__dirname, '..', 'fixtures');
const TODAY = '2026-11-26';
const GARAGE = '2123456692';

async function collect(source: AsyncIterable<FileItem>): Promise<FileItem[]> {
  const out: FileItem[] = [];
  for await (const item of source) out.push(item);
  return out;
}
const items = (path: string) => collect(readXmlFile(path));

/** brief renders items as "kind@line" (+ index and ref for readings, code for fatal items). */
function brief(list: FileItem[]): string[] {
  return list.map((i) => {
    if (i.kind === 'reading') return `R@${i.line}#${i.index}:${i.fields.ref}`;
    if (i.kind === 'fatal') return `fatal@${i.line}:${i.code}`;
    return `${i.kind}@${i.line}`;
  });
}

/** codes runs the checks the pipeline runs without a database: file-level codes and each record's codes. */
function codes(list: FileItem[]) {
  const tally = new FileTally();
  list.forEach((i) => tally.add(i));
  const header = list.find((i): i is Extract<FileItem, { kind: 'header' }> => i.kind === 'header') ?? null;
  const file = [...checkHeader(header, [GARAGE]), ...tally.finish({ maxRecords: 1000 }).findings].map((f) => f.code);
  const records = list.flatMap((i) =>
    i.kind === 'reading'
      ? [checkRecord(i.fields, i.fieldCount, { today: TODAY }).findings.map((f) => `${f.code}:${f.field}`)]
      : i.kind === 'malformed'
        ? [['E10:record']]
        : [],
  );
  return { file: [...new Set(file)], records };
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'odo-xml-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const ROOT = `<inflow version="1" sender="${GARAGE}" created="2026-11-25T22:00:00+01:00" software="TestDMS 1.0">`;
const rd = (ref: string, odometer = 1000, more = '') =>
  `<reading ref="${ref}"><vin>WVWZZZ1JZXW000001</vin><date>2026-11-20</date><odometer unit="km">${odometer}</odometer><work>MAINT</work>${more}</reading>`;
const doc = (...body: string[]) => [ROOT, ...body, '</inflow>'].join('\n') + '\n';
const fieldCountOf = async (reading: string) => {
  const r = (await items(file('one.xml', doc(reading)))).find((i) => i.kind === 'reading');
  return r && r.kind === 'reading' ? r.fieldCount : null;
};

describe('readXmlFile on the fixtures', () => {
  // Every CSV fixture that gets past detectFormat has an XML twin laid out line for line: same items.
  it.each([
    'valid-3-readings',
    'valid-no-trailer',
    'bom-crlf',
    'mixed-valid-and-invalid',
    'f02-bad-header',
    'f03-wrong-sender',
    'f04-trailer-count-mismatch',
    'f04-trailer-sum-mismatch',
    'f05-invalid-utf8',
  ])('%s.xml gives the items of %s.csv', async (name) => {
    const xml = await items(join(FIXTURES, `${name}.xml`));
    const csv = await collect(readCsvFile(join(FIXTURES, `${name}.csv`)));
    // The E10 twins differ only in how they are malformed: a CSV field too few, an XML element too many.
    const same = (i: FileItem) =>
      i.kind === 'reading' ? { ...i, fieldCount: i.fieldCount === 10 } : i.kind === 'malformed' ? { kind: i.kind, line: i.line } : i;
    expect(xml.map(same)).toEqual(csv.map(same));
    expect(codes(xml)).toEqual(codes(csv));
  });

  it('mixed-valid-and-invalid.xml: one code per line as fixtures/README.md says', async () => {
    const list = await items(join(FIXTURES, 'mixed-valid-and-invalid.xml'));
    expect(codes(list).records).toEqual([
      [],
      [],
      ['E10:record'],
      ['E10:record'],
      ['E11:vin'],
      ['E12:vin'],
      ['E14:odometer'],
      ['E15:unit'],
      ['E16:date'],
      ['E17:date'],
      ['E18:date'],
      ['E19:work'],
      ['E20:replaced'],
      [],
      [],
      [], // E21 (line 16) needs the pipeline
    ]);
    expect(list.find((i) => i.kind === 'malformed')).toMatchObject({ line: 5, message: expect.stringContaining('<service>') });
  });

  it.each([
    ['f05-not-well-formed.xml', ['header@1', 'R@2#1:WO-1001', 'fatal@3:F05'], /not well-formed at column 80: unexpected close tag/],
    ['f05-truncated.xml', ['header@1', 'R@2#1:WO-1001', 'R@3#2:WO-1002', 'fatal@4:F05'], /ends before the XML document does .*truncated/],
    ['f05-billion-laughs.xml', ['fatal@2:F05'], /DTD/],
    ['f05-xxe.xml', ['fatal@2:F05'], /DTD/],
    ['f01-wrong-root.xml', ['fatal@2:F01'], /root element is <invoice>/],
  ])('%s ends with one fatal item', async (name, expected, message) => {
    const t0 = performance.now();
    const list = await items(join(FIXTURES, name));
    expect(brief(list)).toEqual(expected);
    expect((list.at(-1) as { message: string }).message).toMatch(message);
    expect(JSON.stringify(list)).not.toMatch(/root:|lollol/); // nothing expanded, nothing fetched
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it.each([
    ['f05-billion-laughs.xml', 'F05', 2],
    ['f05-xxe.xml', 'F05', 2],
    ['f01-wrong-root.xml', 'F01', 2],
    ['f02-no-header.xml', 'F02', 1],
    ['f01-binary.xml', 'F01', 1],
    ['f01-empty.xml', 'F01', 1],
  ])('detectFormat refuses %s with %s on line %d', async (name, code, line) => {
    expect(await detectFormat(join(FIXTURES, name))).toMatchObject({ fatal: { code, line } });
  });

  it.each(['valid-3-readings.xml', 'mixed-valid-and-invalid.xml', 'f05-not-well-formed.xml', 'f05-truncated.xml'])(
    'detectFormat says %s is xml',
    async (name) => {
      expect(await detectFormat(join(FIXTURES, name))).toEqual({ format: 'xml' });
    },
  );
});

describe('readXmlFile', () => {
  describe('the header', () => {
    it('comes from the <inflow> attributes, with 5 fields', async () => {
      expect((await items(file('h.xml', doc())))[0]).toEqual({
        kind: 'header',
        line: 1,
        fieldCount: 5,
        fields: { format: 'INFLOW', version: '1', sender: GARAGE, created: '2026-11-25T22:00:00+01:00', software: 'TestDMS 1.0' },
      });
    });

    it('ignores schema-location and other unknown attributes, and reads a start tag over several lines', async () => {
      const text = `<?xml version="1.0"?>\n<!-- from the DMS -->\n<inflow\n  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n  xsi:noNamespaceSchemaLocation="inflow-1.xsd"\n  version="1" sender="${GARAGE}">\n</inflow>\n`;
      const [h] = await items(file('h2.xml', text));
      expect(h).toMatchObject({
        kind: 'header',
        line: 3,
        fields: { format: 'INFLOW', version: '1', sender: GARAGE, created: '', software: '' },
      });
      expect(checkHeader(h as Extract<FileItem, { kind: 'header' }>, [GARAGE])).toEqual([]);
    });

    it('names a namespaced root as its format, so the header check says F02', async () => {
      const [h] = await items(file('ns.xml', `<inflow xmlns="urn:other" version="1" sender="${GARAGE}"/>`));
      expect(h).toMatchObject({ kind: 'header', fields: { format: '{urn:other}inflow' } });
      expect(checkHeader(h as Extract<FileItem, { kind: 'header' }>, [GARAGE]).map((f) => f.code)).toEqual(['F02']);
    });
  });

  describe('readings', () => {
    it('read the documented layout (docs/formats.md): the line is where <reading> starts, values trimmed, empty elements empty', async () => {
      const text = [
        `<inflow version="1" sender="${GARAGE}" created="2026-11-25T22:00:00+01:00" software="DMS 7.3">`,
        '  <reading ref="WO-1001">',
        '    <vin>WVWZZZ1JZXW000001</vin><plate>1ABC123</plate><date>2026-11-25</date>',
        '    <odometer unit="km">123456</odometer><work>MAINT</work>',
        '    <replaced>N</replaced><digits></digits><corrects></corrects>',
        '  </reading>',
        '  <reading',
        '     ref=" WO-1002 ">',
        '    <corrects>  </corrects><work> TYRES </work><odometer unit=" mi ">',
        '      54321</odometer><date>2026-11-21</date><vin><![CDATA[WVWZZZ1JZXW000002]]></vin>',
        '  </reading>',
        '  <trailer count="2" sum="177777"/>',
        '</inflow>',
      ].join('\n');
      const list = await items(file('spec.xml', text));
      expect(brief(list)).toEqual(['header@1', 'R@2#1:WO-1001', 'R@7#2:WO-1002', 'trailer@12']);
      expect(list[1]).toEqual({
        kind: 'reading',
        line: 2,
        index: 1,
        fieldCount: 10,
        fields: {
          ref: 'WO-1001',
          vin: 'WVWZZZ1JZXW000001',
          plate: '1ABC123',
          date: '2026-11-25',
          odometer: '123456',
          unit: 'km',
          work: 'MAINT',
          replaced: 'N',
          digits: '',
          corrects: '',
        },
      });
      expect(list[2]).toMatchObject({
        fieldCount: 10,
        fields: {
          ref: 'WO-1002',
          vin: 'WVWZZZ1JZXW000002',
          plate: '',
          date: '2026-11-21',
          odometer: '54321',
          unit: 'mi',
          work: 'TYRES',
          replaced: '',
          corrects: '',
        },
      });
      expect(list[3]).toEqual({ kind: 'trailer', line: 12, fields: { count: '2', sum: '177777' }, fieldCount: 2 });
      expect(codes(list)).toEqual({ file: [], records: [[], []] });
    });

    it('decode entities and character references, and ignore comments and processing instructions', async () => {
      const list = await items(
        file(
          'ent.xml',
          doc('<reading ref="A&amp;B"><!-- c --><?pi x?><vin>WVWZZZ1JZXW00000&#49;</vin><plate>1&#x2D;ABC&lt;</plate></reading>'),
        ),
      );
      expect(list[1]).toMatchObject({ fieldCount: 10, fields: { ref: 'A&B', vin: 'WVWZZZ1JZXW000001', plate: '1-ABC<' } });
    });

    it.each([
      ['an unknown child element', rd('x', 1, '<colour>red</colour>'), 11],
      ['a repeated element', rd('x', 1, '<vin>WVWZZZ1JZXW000002</vin>'), 11],
      ['an unknown attribute on <reading>', rd('x').replace('<reading ', '<reading id="7" '), 11],
      ['an unknown attribute on a field', rd('x').replace('<vin>', '<vin type="x">'), 11],
      ['an element nested in a field', rd('x').replace('<work>MAINT', '<work><b>MAINT</b>'), 11],
      ['text between the elements', rd('x').replace('<date>', 'oops<date>'), 11],
      ['two unknown elements', rd('x', 1, '<a/><b/>'), 12],
      ['elements named like object properties', rd('x', 1, '<toString/><constructor/><__proto__/>'), 13],
      ['nothing wrong', rd('x'), 10],
    ])('count %s: fieldCount %d (anything but 10 is E10)', async (_name, reading, count) => {
      expect(await fieldCountOf(reading)).toBe(count);
      if (count !== 10) {
        expect(
          checkRecord(
            { ref: '', vin: '', plate: '', date: '', odometer: '', unit: '', work: '', replaced: '', digits: '', corrects: '' },
            count,
            { today: TODAY },
          ).findings.map((f) => f.code),
        ).toEqual(['E10']);
      }
    });

    it('make an unknown element or text in the root a malformed record, and go on', async () => {
      const list = await items(file('unk.xml', doc(rd('a'), '<service ref="b"><vin>X</vin><reading/></service>', 'stray', rd('c'))));
      expect(brief(list)).toEqual(['header@1', 'R@2#1:a', 'malformed@3', 'malformed@4', 'R@5#2:c']);
    });

    it('count a trailer with extra attributes or content as malformed (F04)', async () => {
      const list = await items(file('tr.xml', doc(rd('a', 5), '<trailer count="1" sum="5" x="1"/>')));
      expect(list.at(-1)).toMatchObject({ kind: 'trailer', fieldCount: 3 });
      expect(codes(list).file).toEqual(['F04']);
    });

    it('a reading after the trailer is F04, as in CSV', async () => {
      const list = await items(file('after.xml', doc('<trailer count="1" sum="5"/>', rd('a', 5))));
      expect(codes(list).file).toEqual(['F04']);
    });

    it('read a whole document on one line (each reading gets its index; they share the line)', async () => {
      const list = await items(file('oneline.xml', ROOT + rd('a') + rd('b') + rd('c') + '<trailer count="3" sum="3000"/></inflow>'));
      expect(brief(list)).toEqual(['header@1', 'R@1#1:a', 'R@1#2:b', 'R@1#3:c', 'trailer@1']);
    });
  });

  describe('fatal F05', () => {
    it('for a DTD after a prolog longer than detectFormat looks at, without expanding it', async () => {
      const text = `<?xml version="1.0"?>\n<!-- ${'x'.repeat(20_000)} -->\n<!DOCTYPE inflow [\n<!ENTITY a "${'a'.repeat(100)}">\n]>\n${ROOT}<reading ref="&a;"/></inflow>`;
      expect(brief(await items(file('late-dtd.xml', text)))).toEqual(['fatal@3:F05']);
    });

    it('for an encoding other than UTF-8', async () => {
      const list = await items(file('latin.xml', `<?xml version="1.0" encoding="ISO-8859-1"?>\n${doc(rd('a'))}`));
      expect(brief(list)).toEqual(['fatal@1:F05']);
      expect((list[0] as { message: string }).message).toMatch(/ISO-8859-1.*UTF-8/);
    });

    it('for an undefined entity, with line and column', async () => {
      const list = await items(file('undef.xml', doc(rd('a'), '<reading ref="&nbsp;"/>')));
      expect(brief(list)).toEqual(['header@1', 'R@2#1:a', 'fatal@3:F05']);
      expect((list.at(-1) as { message: string }).message).toMatch(/column \d+: undefined entity/);
    });

    it('for a second root, or text after the root', async () => {
      expect(brief(await items(file('two.xml', doc(rd('a')) + '<inflow/>')))).toEqual(['header@1', 'R@2#1:a', 'fatal@4:F05']);
    });

    it('for a token longer than 1 MiB, before saxes holds more', async () => {
      const list = await items(file('long.xml', doc(`<reading ref="a"><vin>${'A'.repeat(3 << 20)}</vin></reading>`)));
      expect(brief(list)).toEqual(['header@1', 'fatal@2:F05']);
    });

    it('for a value longer than 64 KiB, even split by comments', async () => {
      const list = await items(
        file('split.xml', doc(rd('a'), `<reading ref="b"><vin>${'<!---->AAAAAAAAAA'.repeat(10_000)}</vin></reading>`)),
      );
      expect(brief(list)).toEqual(['header@1', 'R@2#1:a', 'fatal@3:F05']);
      expect((list.at(-1) as { message: string }).message).toMatch(/<vin> .* longer than 65536/);
    });

    it('for elements nested too deep', async () => {
      expect(brief(await items(file('deep.xml', doc('<a>'.repeat(100)))))).toEqual(['header@1', 'malformed@2', 'fatal@2:F05']);
    });

    it('for invalid UTF-8: the readings before it, then F05 on its line', async () => {
      const bad = Buffer.concat([
        Buffer.from(doc(rd('a'), rd('b')).replace('<reading ref="b">', '<reading ref="b">\u00e9')),
        Buffer.from([0xc3, 0x28, 0x0a]),
      ]);
      expect(brief(await items(file('bad.xml', bad)))).toEqual(['header@1', 'R@2#1:a', 'R@3#2:b', 'fatal@5:F05']);
    });

    it('for a multi-byte character cut off at the end of the file', async () => {
      expect(brief(await items(file('cut.xml', Buffer.concat([Buffer.from(doc(rd('a'))), Buffer.from([0xe2, 0x82])]))))).toEqual([
        'header@1',
        'R@2#1:a',
        'fatal@4:F05',
      ]);
    });
  });

  describe('a large file', () => {
    it('streams 100,000 readings across chunk boundaries with multi-byte text, in order', async () => {
      const p = join(dir, 'large.xml');
      const out = createWriteStream(p);
      out.write(`\ufeff<?xml version="1.0" encoding="UTF-8"?>\n${ROOT}\n`);
      let sum = 0;
      for (let i = 1; i <= 100_000; i++) {
        sum += i;
        if (
          !out.write(
            `  <reading ref="WO-${i}"><plate>€${i % 10}</plate><vin>WVWZZZ1JZXW${String(i).padStart(6, '0')}</vin><date>2026-11-20</date><odometer unit="km">${i}</odometer><work>MAINT</work></reading>\n`,
          )
        ) {
          await once(out, 'drain');
        }
      }
      out.end(`  <trailer count="100000" sum="${sum}"/>\n</inflow>\n`);
      await once(out, 'finish');

      const tally = new FileTally();
      let n = 0;
      let last: FileItem | null = null;
      for await (const item of readXmlFile(p)) {
        tally.add(item);
        if (item.kind === 'reading') {
          n++;
          if (item.index !== n || item.line !== n + 2 || item.fieldCount !== 10 || item.fields.plate !== `€${n % 10}`)
            throw new Error(`out of step at ${item.line}`);
        }
        last = item;
      }
      expect(n).toBe(100_000);
      expect(last).toMatchObject({ kind: 'trailer', line: 100_003 });
      expect(tally.finish({ maxRecords: 5_000_000 }).findings).toEqual([]);
    });

    it('lets a consumer stop early without reading the rest', async () => {
      const p = file('stop.xml', doc(...Array.from({ length: 50_000 }, (_, i) => rd(`s${i}`))));
      let seen = 0;
      for await (const item of readXmlFile(p)) if (item.kind === 'reading' && ++seen === 10) break;
      expect(seen).toBe(10);
      rmSync(p);
    });
  });

  it('sets at most 7 saxes handlers (with more, saxes drops to dictionary mode and reads ~5x slower)', () => {
    const parser = (new XmlItems() as unknown as { parser: Record<string, unknown> }).parser;
    expect(Object.keys(parser).filter((k) => k.endsWith('Handler') && typeof parser[k] === 'function').length).toBeLessThanOrEqual(7);
  });

  it('the billion-laughs fixture stays small in memory', async () => {
    const before = process.memoryUsage().rss;
    await items(join(FIXTURES, 'f05-billion-laughs.xml'));
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * 2 ** 20);
    expect(readFileSync(join(FIXTURES, 'f05-billion-laughs.xml'), 'utf8')).toContain('<!ENTITY lol9');
  });
});
