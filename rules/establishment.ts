/** Belgian enterprise and establishment numbers (docs/ftps.md): ten digits, the last two a mod-97 check. */

/**
 * mod97Check returns the two check digits of a non-negative whole number: 97 − (base mod 97), so "01" to "97"
 * (a base divisible by 97 gets "97", never "00").
 */
export function mod97Check(base: bigint | number | string): string {
  let b: bigint;
  if (typeof base === 'bigint') b = base;
  else if (typeof base === 'number') {
    // Doubles above 2^53 have already lost digits: the check would be computed on a different number.
    if (!Number.isSafeInteger(base)) throw new RangeError(`mod97Check needs a safe integer, got ${base}`);
    b = BigInt(base);
  } else {
    if (!/^\d+$/.test(base)) throw new RangeError('mod97Check needs a string of digits');
    b = BigInt(base);
  }
  if (b < 0n) throw new RangeError('mod97Check needs a non-negative number');
  return String(97n - (b % 97n)).padStart(2, '0');
}

/** isValidEstablishment tells whether s is exactly 10 digits whose last two are the mod-97 check of the first 8. */
export function isValidEstablishment(s: string): boolean {
  return /^\d{10}$/.test(s) && mod97Check(s.slice(0, 8)) === s.slice(8);
}

/** allowedSenders: an account sends for itself; a fleet account also for the establishments it lists (F03). */
export function allowedSenders(a: { role: string; establishment: string; senders: readonly string[] }): string[] {
  return a.role === 'fleet' ? [a.establishment, ...a.senders] : [a.establishment];
}
