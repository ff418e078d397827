import { checkRecord } from '../rules/record-checks';
import { quoteValue } from '../model/text';
import type { RecordFields } from '../model/file-items';

const TODAY = '2026-11-26';
const ctx = { today: TODAY };

function fields(over: Partial<RecordFields> = {}): RecordFields {
  return {
    ref: 'WO-1001',
    vin: 'WVWZZZ1JZXW000001',
    plate: '',
    date: '2026-11-20',
    odometer: '123456',
    unit: 'km',
    work: 'MAINT',
    replaced: 'N',
    digits: '',
    corrects: '',
    ...over,
  };
}

/** codes returns "code:field" of each finding, in order. */
function codes(over: Partial<RecordFields>, fieldCount = 10): string[] {
  return checkRecord(fields(over), fieldCount, ctx).findings.map((f) => `${f.code}:${f.field}`);
}

describe('checkRecord', () => {
  it('turns a valid record into a reading', () => {
    expect(checkRecord(fields({ plate: '1-abc 123' }), 10, ctx)).toEqual({
      findings: [],
      reading: {
        ref: 'WO-1001',
        vin: 'WVWZZZ1JZXW000001',
        plate: '1ABC123',
        date: '2026-11-20',
        odometer: 123456,
        unit: 'km',
        km: 123456,
        work: 'MAINT',
        replaced: false,
        digits: null,
        corrects: null,
      },
    });
  });

  it('converts miles to whole km and keeps the value as sent', () => {
    const { reading } = checkRecord(fields({ odometer: '54321', unit: 'mi' }), 10, ctx);
    expect(reading).toMatchObject({ odometer: 54321, unit: 'mi', km: 87421 }); // 54321 × 1.609344 = 87421.18
    expect(checkRecord(fields({ odometer: '100', unit: 'mi' }), 10, ctx).reading?.km).toBe(161); // 160.93
  });

  it('reads the flags, upper-cases the VIN and takes codes in any case', () => {
    const { reading } = checkRecord(
      fields({ vin: 'wvwzzz1jzxw000001', unit: 'KM', work: 'odorep', replaced: 'y', digits: '5', corrects: '100000000196', ref: '' }),
      10,
      ctx,
    );
    expect(reading).toMatchObject({
      vin: 'WVWZZZ1JZXW000001',
      unit: 'km',
      work: 'ODOREP',
      replaced: true,
      digits: 5,
      corrects: '100000000196',
      ref: null,
    });
  });

  it('leaves a corrects value that is not an error number to the correction checks (E30, rules/corrections.ts)', () => {
    const { reading, findings } = checkRecord(fields({ corrects: 'E-1234' }), 10, ctx);
    expect(findings).toEqual([]);
    expect(reading).toMatchObject({ corrects: 'E-1234' });
  });

  it('accepts a plate without a VIN and leaves the VIN to the register lookup', () => {
    const { reading, findings } = checkRecord(fields({ vin: '', plate: '1-XYZ-789' }), 10, ctx);
    expect(findings).toEqual([]);
    expect(reading).toMatchObject({ vin: null, plate: '1XYZ789' });
  });

  it.each([
    ['today', TODAY],
    ['1990-01-01', '1990-01-01'],
  ])('accepts the date boundary %s', (_name, date) => {
    expect(codes({ date })).toEqual([]);
  });

  it.each([
    ['0', '0'],
    ['9999999', '9999999'],
    ['leading zeros', '0012345'],
  ])('accepts odometer %s', (_name, odometer) => {
    expect(codes({ odometer })).toEqual([]);
  });

  it.each<[string, Partial<RecordFields>, string[]]>([
    ['E11 vin: neither VIN nor plate', { vin: '', plate: '' }, ['E11:vin']],
    ['E11 vin: a plate of only dashes', { vin: '', plate: ' - ' }, ['E11:vin']],
    ['E11 date', { date: '' }, ['E11:date']],
    ['E11 odometer', { odometer: '' }, ['E11:odometer']],
    ['E11 unit', { unit: '' }, ['E11:unit']],
    ['E11 work', { work: '' }, ['E11:work']],
    ['E12 VIN too short', { vin: 'WVWZZZ1JZXW00001' }, ['E12:vin']],
    ['E12 VIN with I', { vin: 'WVWZZZ1JZXW00000I' }, ['E12:vin']],
    ['E12 VIN with O', { vin: 'WVWZZZ1JZXWO00001' }, ['E12:vin']],
    ['E12 VIN with Q', { vin: 'WVWZZZ1JZXWQ00001' }, ['E12:vin']],
    ['E12 VIN with a dash', { vin: 'WVWZZZ1JZXW-00001' }, ['E12:vin']],
    ['E14 decimal', { odometer: '12.5' }, ['E14:odometer']],
    ['E14 negative', { odometer: '-5' }, ['E14:odometer']],
    ['E14 too large', { odometer: '10000000' }, ['E14:odometer']],
    ['E14 thousands separator', { odometer: '12,345' }, ['E14:odometer']],
    ['E14 exponent', { odometer: '1e5' }, ['E14:odometer']],
    ['E14 huge digit string', { odometer: '99999999999999999999' }, ['E14:odometer']],
    ['E15', { unit: 'miles' }, ['E15:unit']],
    ['E16 Feb 30', { date: '2026-02-30' }, ['E16:date']],
    ['E16 format', { date: '25/11/2026' }, ['E16:date']],
    ['E17', { date: '2999-01-01' }, ['E17:date']],
    ['E17 tomorrow', { date: '2026-11-27' }, ['E17:date']],
    ['E18', { date: '1989-12-31' }, ['E18:date']],
    ['E19', { work: 'WASH' }, ['E19:work']],
    ['E20 replaced', { replaced: 'X' }, ['E20:replaced']],
    ['E20 replaced yes', { replaced: 'yes' }, ['E20:replaced']],
    ['E20 digits 6', { digits: '6' }, ['E20:digits']],
    ['E20 ref too long', { ref: 'A'.repeat(36) }, ['E20:ref']],
    ['E20 ref with a space', { ref: 'WO 1' }, ['E20:ref']],
    ['E20 ref with a quote', { ref: 'WO"1' }, ['E20:ref']],
    [
      'several at once',
      { vin: 'SHORT', date: '2026-13-01', odometer: 'x', unit: 'm', work: 'x', replaced: '?', digits: '4', ref: '#', corrects: 'x' },
      ['E12:vin', 'E16:date', 'E14:odometer', 'E15:unit', 'E19:work', 'E20:replaced', 'E20:digits', 'E20:ref'],
    ],
    [
      'all mandatory fields missing',
      { vin: '', date: '', odometer: '', unit: '', work: '' },
      ['E11:vin', 'E11:date', 'E11:odometer', 'E11:unit', 'E11:work'],
    ],
  ])('%s', (_name, over, expected) => {
    const r = checkRecord(fields(over), 10, ctx);
    expect(r.findings.map((f) => `${f.code}:${f.field}`)).toEqual(expected);
    expect(r.reading).toBeNull();
  });

  it.each([9, 11, 0])('gives only E10 (field record) with %d fields', (n) => {
    expect(codes({ vin: 'bad', date: 'bad' }, n)).toEqual(['E10:record']);
  });

  it("words E10 for the sender's format: fields after R in CSV, unexpected items of <reading> in XML", () => {
    expect(checkRecord(fields(), 11, ctx).findings[0].message).toBe('The record has 11 fields after R where 10 are expected.');
    const xml = checkRecord(fields(), 12, { ...ctx, format: 'xml' }).findings;
    expect(xml.map((f) => f.code)).toEqual(['E10']);
    expect(xml[0].message).toMatch(/^The <reading> element holds 2 unexpected item\(s\)/);
    expect(xml[0].message).not.toMatch(/after R/);
  });

  it('writes plain messages: one sentence, no control characters, long values cut', () => {
    const nasty = 'X\u0000\u001b[31m\r\n' + 'Y'.repeat(200);
    const { findings } = checkRecord(fields({ vin: nasty, ref: nasty, work: nasty }), 10, ctx);
    expect(findings).toHaveLength(3);
    for (const f of findings) {
      expect(f.message).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(f.message.length).toBeLessThan(160);
      expect(f.message).toMatch(/^[A-Z].*\.$/);
    }
  });
});

describe('quoteValue', () => {
  it('quotes, replaces control and bidi characters and cuts at 40 characters', () => {
    expect(quoteValue('abc')).toBe('"abc"');
    expect(quoteValue('a\tb\u202ec')).toBe('"a?b?c"');
    expect(quoteValue('x'.repeat(50))).toBe(`"${'x'.repeat(39)}…"`);
  });

  it('does not cut a character in half', () => {
    const q = quoteValue('😀'.repeat(50));
    expect(q).toBe(`"${'😀'.repeat(39)}…"`);
  });
});
