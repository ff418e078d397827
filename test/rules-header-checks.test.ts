import { checkHeader } from '../rules/header-checks';
import type { HeaderFields } from '../model/file-items';

const ALLOWED = ['2123456692'];

function header(over: Partial<HeaderFields> = {}, fieldCount = 5) {
  return {
    fields: { format: 'INFLOW', version: '1', sender: '2123456692', created: '2026-11-25T22:00:00+01:00', software: 'DMS 7.3', ...over },
    fieldCount,
  };
}

describe('checkHeader', () => {
  it('finds nothing in a good header from an allowed sender', () => {
    expect(checkHeader(header(), ALLOWED)).toEqual([]);
  });

  it('lets a fleet account send for each establishment it lists', () => {
    expect(checkHeader(header({ sender: '2200000085' }), ['2123456692', '2200000085'])).toEqual([]);
  });

  it.each<[string, ReturnType<typeof header> | null, string[]]>([
    ['missing', null, ['F02']],
    ['4 fields', header({}, 4), ['F02']],
    ['6 fields', header({}, 6), ['F02']],
    ['format', header({ format: 'OUTFLOW' }), ['F02']],
    ['format case', header({ format: 'inflow' }), ['F02']],
    ['version 2', header({ version: '2' }), ['F02']],
    ['version empty', header({ version: '' }), ['F02']],
    ['sender check digits', header({ sender: '2123456693' }), ['F02']],
    ['sender not digits', header({ sender: 'GARAGE' }), ['F02']],
    ['sender valid but not allowed', header({ sender: '2200000085' }), ['F03']],
    ['format and version', header({ format: 'X', version: '9' }), ['F02', 'F02']],
    ['bad version, sender not allowed', header({ version: '2', sender: '2200000085' }), ['F02', 'F03']],
  ])('%s', (_name, item, expected) => {
    const findings = checkHeader(item, ALLOWED);
    expect(findings.map((f) => f.code)).toEqual(expected);
    for (const f of findings) expect(f.field).toBe('header');
  });

  it('does not echo control characters from the header', () => {
    const [f] = checkHeader(header({ format: 'IN\u0007FLOW\r\n' }), ALLOWED);
    expect(f.message).not.toMatch(/[\u0000-\u001f]/);
  });
});
