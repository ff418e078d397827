/**
 * A request body that stops arriving is cut, as a stalled FTPS transfer is: no byte for `transferIdleMs` fails the
 * body with TransferStalledError (answered 408). Long bodies that keep moving are never cut.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { TransferStalledError } from '../intake/upload-stream';

/** installIdleCut wraps every request body (a request that has one) in idleCut. */
export function installIdleCut(app: FastifyInstance, idleMs: number): void {
  if (idleMs === 0) return;
  app.addHook('preParsing', async (req, reply, payload) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return payload;
    const cut = idleCut(idleMs);
    // Whoever reads the body sees the error; a body nobody reads (a request refused first) must not throw it.
    cut.on('error', () => {});
    reply.raw.once('close', () => cut.destroy());
    payload.on('error', (err) => cut.destroy(err));
    return payload.pipe(cut);
  });
}

/** idleCut passes bytes through and fails with TransferStalledError when none arrives for `idleMs`. */
export function idleCut(idleMs: number): Transform {
  let timer: NodeJS.Timeout | null = null;
  const stream = new Transform({
    transform(chunk, _enc, cb) {
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      if (timer) clearTimeout(timer);
      cb();
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => stream.destroy(new TransferStalledError(idleMs)), idleMs);
    timer.unref();
  };
  arm();
  return stream;
}
