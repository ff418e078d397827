/**
 * The one definition of characters that must never be echoed as they were sent: C0/C1 controls and DEL, the
 * Unicode line and paragraph separators, zero-width and bidi-formatting characters (they hide or reorder text
 * in a receipt, a log line or a terminal), and the byte-order mark.
 */
const UNSAFE_CHARS = '\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff';

/** Matches one unsafe character (global: for replace). */
export const UNSAFE_TEXT = new RegExp(`[${UNSAFE_CHARS}]`, 'g');
const ANY_UNSAFE = new RegExp(`[${UNSAFE_CHARS}]`); // not global: test() keeps no position

/** hasUnsafeText tells whether `s` holds an unsafe character. */
export function hasUnsafeText(s: string): boolean {
  return ANY_UNSAFE.test(s);
}

/** cutText cuts `s` to `max` characters by code point (never half a surrogate pair), ending in "…" when cut. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const points = Array.from(s);
  return points.length <= max ? s : points.slice(0, max - 1).join('') + '…';
}

/** quoteValue returns a sent value safe to put in a message: unsafe characters as "?", cut to `max`, in double quotes. */
export function quoteValue(value: string, max = 40): string {
  return `"${cutText(value.replace(UNSAFE_TEXT, '?'), max)}"`;
}

/** cleanText returns text safe to echo (unsafe characters as spaces), cut to `max` characters; '' for none. */
export function cleanText(s: string | null | undefined, max = 200): string {
  if (s === null || s === undefined) return '';
  return cutText(s.replace(UNSAFE_TEXT, ' '), max);
}
