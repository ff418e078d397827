import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectFormat, formatOfSample } from '../parsers/detect-format';

const FIXTURES = join(__dirname, '..', 'fixtures');

describe('detectFormat on the fixtures', () => {
  it.each([
    ['valid-3-readings.csv', { format: 'csv' }],
    ['bom-crlf.csv', { format: 'csv' }],
    ['mixed-valid-and-invalid.csv', { format: 'csv' }],
    ['f02-bad-header.csv', { format: 'csv' }], // a malformed H line is still CSV: the header checks say F02
    ['f03-wrong-sender.csv', { format: 'csv' }],
    ['f05-invalid-utf8.csv', { format: 'csv' }], // invalid UTF-8 is the reader's F05, with its line
    ['f01-binary.csv', { fatal: { kind: 'fatal', line: 1, code: 'F01' } }],
    ['f01-empty.csv', { fatal: { kind: 'fatal', line: 1, code: 'F01' } }],
    ['f02-no-header.csv', { fatal: { kind: 'fatal', line: 1, code: 'F02' } }],
  ])('%s', async (name, expected) => {
    expect(await detectFormat(join(FIXTURES, name))).toMatchObject(expected);
  });
});

describe('detectFormat', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'odo-detect-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads only the start of a large file', async () => {
    const p = join(dir, 'big.csv');
    writeFileSync(p, 'H;INFLOW;1;2123456692;x;y\n' + 'R;;WVWZZZ1JZXW000001;;2026-11-20;1;km;MAINT;N;;\n'.repeat(100_000) + '\u0000');
    expect(await detectFormat(p)).toEqual({ format: 'csv' });
  });
});

describe('formatOfSample', () => {
  const s = (x: string | number[]) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from(x));

  it.each<[string, Buffer, string]>([
    ['XML', s('<?xml version="1.0"?>\n<inflow version="1"/>'), 'xml'],
    ['XML after blank lines', s('\n  \n<inflow sender="2123456692"/>'), 'xml'],
    ['XML with a BOM', Buffer.concat([s([0xef, 0xbb, 0xbf]), s('<inflow version="1"/>')]), 'xml'],
    ['XML after comments and PIs', s('<?xml version="1.0"?>\n<!-- nightly -->\n<?dms x?>\n<inflow\n  version="1">'), 'xml'],
    ['XML whose root start tag goes past the sample', s('<inflow ' + ' '.repeat(100)), 'xml'],
    ['XML whose prolog goes past the sample', s('<!-- ' + 'x'.repeat(100)), 'xml'],
    ['XML that is not well-formed (the reader says where)', s('<<inflow version="1">'), 'xml'],
    ['CSV', s('H;INFLOW;1;2123456692;x;y\n'), 'csv'],
    ['CSV with a BOM and CRLF', Buffer.concat([s([0xef, 0xbb, 0xbf]), s('H;INFLOW;1\r\nR;x\r\n')]), 'csv'],
    ['a bare H line', s('H\nR;1\n'), 'csv'],
    ['a malformed H line', s('H;CSV;9\n'), 'csv'],
    ['Latin-1 text (the reader reports F05)', s([0x48, 0x3b, 0xe9, 0x0a]), 'csv'],
  ])('%s → %s', (_name, sample, format) => {
    expect(formatOfSample(sample)).toEqual({ format });
  });

  it.each<[string, Buffer, string, RegExp]>([
    ['empty', s(''), 'F01', /empty/],
    ['only a BOM', s([0xef, 0xbb, 0xbf]), 'F01', /no data/],
    ['blank lines', s('\n \r\n\t\n'), 'F01', /no data/],
    ['NUL bytes', s([0x48, 0x3b, 0x0a, 0x00, 0x01]), 'F01', /binary/],
    ['UTF-16', s([0xff, 0xfe, 0x48, 0x00, 0x3b, 0x00]), 'F01', /binary/],
    ['control bytes', s('H;INFLOW\x01\x02\x03\x04;1\n'), 'F01', /binary/],
    ['prose', s('Dear registry,\nplease find attached...\n'), 'F01', /neither/],
    ['JSON', s('{"readings": []}'), 'F01', /neither/],
    ['R record on line 1', s('R;WO-1;WVWZZZ1JZXW000001;;2026-11-20;1;km;MAINT;N;;\n'), 'F02', /line 1 is already an R record/],
    ['T record on line 1', s('T;0;0\n'), 'F02', /T record/],
    ['a blank line before the H line', s('\nH;INFLOW;1;2123456692;x;y\n'), 'F02', /line 1 is blank/],
    ['another semicolon CSV', s('name;city\nBob;Gent\n'), 'F02', /line 1 is not an H line/],
    ['H with a leading space', s(' H;INFLOW;1\n'), 'F02', /not an H line/],
    ['XML with a DTD', s('<?xml version="1.0"?>\n<!DOCTYPE inflow [<!ENTITY a "b">]>\n<inflow version="1"/>'), 'F05', /DTD/],
    ['XML of another kind', s('<?xml version="1.0"?>\n<invoice id="1"/>'), 'F01', /root element is <invoice>/],
    ['XML with a prefixed inflow root', s('<x:inflow xmlns:x="urn:x" version="1"/>'), 'F01', /root element is <x:inflow>/],
    ['an <inflow> root without its header attributes', s('<inflow>\n  <reading/>'), 'F02', /header is missing/],
  ])('%s → %s', (_name, sample, code, message) => {
    const r = formatOfSample(sample);
    expect(r).toMatchObject({ fatal: { kind: 'fatal', code } });
    if ('fatal' in r) expect(r.fatal.message).toMatch(message);
  });

  it('gives the line of a DTD', () => {
    expect(formatOfSample(s('<?xml version="1.0"?>\n<!-- x -->\n<!DOCTYPE inflow>\n<inflow/>'))).toMatchObject({
      fatal: { code: 'F05', line: 3 },
    });
  });

  it('gives the line of the first NUL byte', () => {
    expect(formatOfSample(s('H;INFLOW\nR;1\nR;\u0000\n'))).toMatchObject({ fatal: { code: 'F01', line: 3 } });
  });
});
