import { ERROR_NUMBER_BASE, MAX_ERROR_SEQ, formatErrorNumber, parseErrorNumber } from '../rules/error-number';
import { mod97Check } from '../rules/establishment';

const SAMPLE = [0, 1, 2, 96, 97, 98, 1234, 99_999, 1_000_000, 31_415_926, 123_456_789, MAX_ERROR_SEQ];

describe('formatErrorNumber', () => {
  it('gives 12 digits: the offset sequence number and its mod-97 check', () => {
    const n = formatErrorNumber(1);
    expect(n).toMatch(/^\d{12}$/);
    expect(n.slice(0, 10)).toBe(String(ERROR_NUMBER_BASE + 1));
    expect(n.slice(10)).toBe(mod97Check(n.slice(0, 10)));
  });

  it('gives every sequence number a different number of the same length', () => {
    const seen = new Set(SAMPLE.map(formatErrorNumber));
    expect(seen.size).toBe(SAMPLE.length);
    for (const n of seen) expect(n).toHaveLength(12);
  });

  it.each([[-1], [1.5], [MAX_ERROR_SEQ + 1], [Number.NaN]])('refuses sequence %p', (seq) => {
    expect(() => formatErrorNumber(seq)).toThrow(RangeError);
  });
});

describe('parseErrorNumber', () => {
  it.each(SAMPLE)('round-trips %d', (seq) => {
    expect(parseErrorNumber(formatErrorNumber(seq))).toEqual({ ok: true, seq });
  });

  it.each([
    ['12345678901a', 'digits only'],
    [' 100000000196', 'digits only'],
    ['', 'digits only'],
    ['10000000019', '12 digits'],
    ['1000000001961', '12 digits'],
    ['000000000097', 'not an error number'],
  ])('refuses %p (%s)', (s, reason) => {
    const r = parseErrorNumber(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  describe('typo detection', () => {
    const typoSample = [0, 1, 42, 97, 4_711, 123_456, 8_999_999, 123_456_789, 987_654_321, MAX_ERROR_SEQ];

    it('catches every single-digit substitution', () => {
      let tried = 0;
      for (const seq of typoSample) {
        const n = formatErrorNumber(seq);
        for (let i = 0; i < n.length; i++) {
          for (const d of '0123456789') {
            if (d === n[i]) continue;
            const typo = n.slice(0, i) + d + n.slice(i + 1);
            tried++;
            expect({ typo, r: parseErrorNumber(typo).ok }).toEqual({ typo, r: false });
          }
        }
      }
      expect(tried).toBe(typoSample.length * 12 * 9);
    });

    it('catches every transposition of two different adjacent digits', () => {
      let tried = 0;
      for (const seq of typoSample) {
        const n = formatErrorNumber(seq);
        for (let i = 0; i + 1 < n.length; i++) {
          if (n[i] === n[i + 1]) continue;
          const typo = n.slice(0, i) + n[i + 1] + n[i] + n.slice(i + 2);
          tried++;
          expect({ typo, r: parseErrorNumber(typo).ok }).toEqual({ typo, r: false });
        }
      }
      expect(tried).toBeGreaterThan(50);
    });
  });
});
