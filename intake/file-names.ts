/**
 * The rules for the name a file is sent under, for every front end: which names are held (FTPS waits for a rename),
 * where uploads in progress are written, and which names a file can be taken in under at all.
 */
import { hasUnsafeText } from '../model/text';
import { MAX_NAME_BYTES } from './intake';

/** A name held in the drop zone until renamed: the client is still writing it. */
export function isHeldName(name: string): boolean {
  return name.startsWith('.') || /\.(part|tmp)$/i.test(name);
}

/** The folder of each drop zone where uploads in progress are written; never listed, never held. */
export const INCOMING = '.incoming';

/**
 * uploadNameRefusal: why a file cannot be taken in under `name` by a front end that has no rename (HTTPS), or null
 * when it can. A held name is refused: nothing would ever rename it.
 */
export function uploadNameRefusal(name: string): string | null {
  if (name === '' || name === '.' || name === '..') return 'the file name is empty';
  if (hasUnsafeText(name) || /[/\\]/.test(name)) return 'the file name holds a control character or a path separator';
  if (isHeldName(name)) return 'a name starting with "." or ending in .part or .tmp is held by FTPS until renamed: send the final name';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `the file name is longer than ${MAX_NAME_BYTES} bytes (UTF-8)`;
  return null;
}
