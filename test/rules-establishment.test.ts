import { isValidEstablishment, mod97Check } from '../rules/establishment';

describe('mod97Check', () => {
  it.each([
    ['21234566', '92'],
    ['22000000', '85'],
    ['23456789', '42'],
    ['20000001', '41'],
    ['0', '97'], // 97 − 0: never "00"
    ['97', '97'],
    ['96', '01'],
    ['1', '96'],
  ])('of %s is %s', (base, check) => {
    expect(mod97Check(base)).toBe(check);
  });

  it('gives the same digits for a number, a bigint and a string', () => {
    expect(mod97Check(21234566)).toBe('92');
    expect(mod97Check(21234566n)).toBe('92');
    expect(mod97Check(12345678901234567890n)).toBe(mod97Check('12345678901234567890'));
  });

  it.each([[-1], [1.5], [2 ** 53], ['12a'], [''], [-5n]])('refuses %p', (bad) => {
    expect(() => mod97Check(bad as never)).toThrow(RangeError);
  });
});

describe('isValidEstablishment', () => {
  it.each(['2123456692', '2200000085', '2345678942', '2000000141'])('accepts %s', (s) => {
    expect(isValidEstablishment(s)).toBe(true);
  });

  it.each([
    ['2123456693', 'wrong check digits'],
    ['2123456629', 'check digits swapped'],
    ['212345669', '9 digits'],
    ['21234566920', '11 digits'],
    ['21234566 2', 'a space'],
    ['２123456692', 'a full-width digit'],
    ['', 'empty'],
    ['2123456600', 'check "00" never occurs'],
  ])('refuses %s (%s)', (s) => {
    expect(isValidEstablishment(s)).toBe(false);
  });
});
