import { FileTally, recordLimitFinding } from '../rules/file-tally';
import type { FileItem, RecordFields } from '../model/file-items';

const LIMITS = { maxRecords: 5_000_000 };

const H: FileItem = {
  kind: 'header',
  line: 1,
  fields: { format: 'INFLOW', version: '1', sender: '2123456692', created: '', software: '' },
  fieldCount: 5,
};

function R(line: number, odometer: string, fieldCount = 10): FileItem {
  const fields: RecordFields = {
    ref: '',
    vin: 'WVWZZZ1JZXW000001',
    plate: '',
    date: '2026-11-20',
    odometer,
    unit: 'km',
    work: 'MAINT',
    replaced: '',
    digits: '',
    corrects: '',
  };
  return { kind: 'reading', line, index: line - 1, fields, fieldCount };
}

const T = (line: number, count: string, sum: string, fieldCount = 2): FileItem => ({
  kind: 'trailer',
  line,
  fields: { count, sum },
  fieldCount,
});
const M = (line: number): FileItem => ({ kind: 'malformed', line, message: 'Unknown record type "X".' });

function tally(items: FileItem[], limits = LIMITS) {
  const t = new FileTally();
  for (const item of items) t.add(item);
  return t.finish(limits);
}
const codes = (items: FileItem[], limits = LIMITS) => tally(items, limits).findings.map((f) => f.code);

describe('FileTally', () => {
  it('counts records and readings and sums the odometer values', () => {
    const r = tally([H, R(2, '100'), R(3, '250'), M(4), T(5, '2', '350')]);
    expect(r).toEqual({ findings: [], records: 3, readings: 2, odometerSum: 350n, trailer: { count: '2', sum: '350' } });
  });

  it('accepts a file without a trailer', () => {
    expect(tally([H, R(2, '100')])).toMatchObject({ findings: [], trailer: null, readings: 1 });
  });

  it('counts R records with a wrong field count, and not malformed lines, in the trailer count', () => {
    expect(codes([H, R(2, '100', 9), M(3), T(4, '1', '100')])).toEqual([]);
  });

  it('adds nothing to the sum for odometer values that are not whole numbers', () => {
    const r = tally([H, R(2, '100'), R(3, '12.5'), R(4, ''), R(5, '-3'), R(6, '7'), T(7, '5', '107')]);
    expect(r.odometerSum).toBe(107n);
    expect(r.findings).toEqual([]);
  });

  it('sums exactly beyond 2^53 and with absurd digit strings', () => {
    const huge = '9'.repeat(30);
    const items = [H, R(2, huge), ...Array.from({ length: 1000 }, (_, i) => R(3 + i, '9999999999999'))];
    const expected = BigInt(huge) + 1000n * 9999999999999n;
    const r = tally([...items, T(1003, '1001', String(expected))]);
    expect(r.odometerSum).toBe(expected);
    expect(r.findings).toEqual([]);
  });

  it.each<[string, FileItem[], string[]]>([
    ['count too high', [H, R(2, '1'), T(3, '2', '1')], ['F04']],
    ['count too low', [H, R(2, '1'), R(3, '1'), T(4, '1', '2')], ['F04']],
    ['sum off by one', [H, R(2, '1'), T(3, '1', '2')], ['F04']],
    ['count and sum', [H, R(2, '1'), T(3, '5', '9')], ['F04', 'F04']],
    ['count not a number', [H, R(2, '1'), T(3, 'one', '1')], ['F04']],
    ['sum negative', [H, R(2, '1'), T(3, '1', '-1')], ['F04']],
    ['sum empty', [H, R(2, '1'), T(3, '1', '')], ['F04']],
    ['trailer with 3 fields', [H, R(2, '1'), T(3, '1', '1', 3)], ['F04']],
    ['a record after the trailer', [H, R(2, '1'), T(3, '1', '1'), R(4, '1')], ['F04', 'F04', 'F04']],
    ['a malformed line after the trailer', [H, R(2, '1'), T(3, '1', '1'), M(4)], ['F04']],
    ['two trailers', [H, R(2, '1'), T(3, '1', '1'), T(4, '1', '1')], ['F04']],
  ])('F04: %s', (_name, items, expected) => {
    expect(codes(items)).toEqual(expected);
    for (const f of tally(items).findings) expect(f.field).toBe('trailer');
  });

  it('says "record after the trailer" once however many follow', () => {
    const msgs = tally([H, T(2, '0', '0'), M(3), M(4), M(5)]).findings.map((f) => f.message);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toContain('line 3');
  });

  it('F02 when the header item is missing', () => {
    expect(codes([R(1, '1')])).toEqual(['F02']);
    expect(codes([])).toEqual(['F02']);
  });

  it('turns a fatal item into a finding with its line, without adding F02', () => {
    const r = tally([{ kind: 'fatal', line: 3, code: 'F05', message: 'The file is not valid UTF-8 on this line.' }]);
    expect(r.findings).toEqual([{ code: 'F05', field: 'file', message: 'Line 3: The file is not valid UTF-8 on this line.' }]);
  });

  it('F06 when records (readings + malformed) exceed the limit', () => {
    expect(codes([H, R(2, '1'), M(3)], { maxRecords: 2 })).toEqual([]);
    expect(codes([H, R(2, '1'), M(3), R(4, '1')], { maxRecords: 2 })).toEqual(['F06']);
    expect(codes([H, M(2), M(3), M(4)], { maxRecords: 2 })).toEqual(['F06']);
  });

  it('exposes the running record count for an early F06 stop', () => {
    const t = new FileTally();
    [H, R(2, '1'), M(3), T(4, '1', '1')].forEach((i) => t.add(i));
    expect(t.records).toBe(2);
  });
});

describe('recordLimitFinding', () => {
  it('is null up to the limit and F06 beyond it', () => {
    expect(recordLimitFinding(5_000_000, 5_000_000)).toBeNull();
    expect(recordLimitFinding(5_000_001, 5_000_000)).toMatchObject({ code: 'F06', field: 'file' });
  });
});
