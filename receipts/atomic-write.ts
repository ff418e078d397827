/** Writing a file so readers see either the old one or the whole new one: temp name, fsync, rename. */
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/layout';

/** writeAtomically streams `chunks` to a hidden temp file beside `target`, fsyncs it and renames it over `target`. */
export async function writeAtomically(target: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  const dir = path.dirname(target);
  await fs.promises.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // Dot-prefixed so the FTPS listing never shows a half-written receipt.
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await fs.promises.open(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    let buf = '';
    for await (const c of chunks) {
      buf += c;
      if (buf.length >= 64 * 1024) {
        await fh.write(buf);
        buf = '';
      }
    }
    if (buf) await fh.write(buf);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await fs.promises.rename(tmp, target);
}
