import { correctionFinding, correctionNumberOf, correctionSeq, type CorrectionTarget } from '../rules/corrections';
import { formatErrorNumber } from '../rules/error-number';

const target = (t: Partial<CorrectionTarget> = {}): CorrectionTarget => ({
  severity: 'E',
  correctable: true,
  corrected: false,
  state: null,
  sender: '2123456692',
  ...t,
});
const code = (t: CorrectionTarget | null, sender = '2123456692') => correctionFinding('123', t, sender)?.code ?? null;

describe('corrections', () => {
  it('parses a well-formed number and refuses a mistyped one with E30', () => {
    const n = formatErrorNumber(42);
    expect(correctionSeq(n)).toEqual({ seq: 42 });
    const typo = n.slice(0, 5) + ((Number(n[5]) + 1) % 10) + n.slice(6);
    expect(correctionSeq(typo)).toEqual({ finding: expect.objectContaining({ code: 'E30', field: 'corrects' }) });
  });

  it('takes anything in corrects as a correction, and whatever is not an error number is E30 (quoted)', () => {
    expect(correctionNumberOf(null, 'ABC-123')).toBe('ABC-123');
    expect(correctionNumberOf(null, ' 12345678901X ')).toBe('12345678901X');
    expect(correctionNumberOf('100000004221', '100000004221')).toBe('100000004221');
    expect(correctionNumberOf(null, '')).toBeNull();
    expect(correctionNumberOf(null, undefined)).toBeNull();
    for (const v of ['ABC-123', '12345678901X', '123', '1000000042210', '=1+1\u0007']) {
      const c = correctionSeq(v);
      expect(c).toEqual({ finding: expect.objectContaining({ code: 'E30', field: 'corrects' }) });
      if ('finding' in c) expect(c.finding.message).toMatch(/^"[^\u0000-\u001f]*" is not a valid error number: /);
    }
  });

  it.each([
    ['an uncorrected E issue of the same sender', target(), null],
    ['an uncorrected A issue of the same sender', target({ severity: 'A' }), null],
    ['an unknown number', null, 'E30'],
    ["another sender's number", target({ sender: '2200000085' }), 'E30'],
    ['a number already corrected', target({ corrected: true }), 'E31'],
    ['a warning', target({ severity: 'W' }), 'E32'],
    ['a file-level issue', target({ severity: 'F' }), 'E32'],
    ['an issue raised on a correction', target({ correctable: false }), 'E32'],
    ['an anomaly left open by a rejected correction (spent)', target({ severity: 'A', state: 'open', corrected: true }), 'E31'],
    ['an anomaly replaced by the correction form (not spent)', target({ severity: 'A', state: 'manual' }), 'E31'],
    ['a withdrawn anomaly', target({ severity: 'A', state: 'withdrawn' }), 'E32'],
  ] as [string, CorrectionTarget | null, string | null][])('%s → %s', (_t, t, expected) => {
    expect(code(t)).toBe(expected);
  });
});
