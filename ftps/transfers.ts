/**
 * The transfers (uploads and downloads) of the FTPS front: counted while they run, so that a drain can wait for
 * them, and each cut when no byte has moved for `transferIdleMs` (a stalled or vanished client), however long it has
 * been running.
 */
import type { ControlConnections } from './connection-limits';
import { TransferStalledError } from '../intake/upload-stream';

/** A stream of a transfer as ftp-srv holds it. */
export type TransferStream = NodeJS.EventEmitter & { destroyed: boolean; destroy(err?: Error): void };

export class Transfers {
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly transferIdleMs: number,
    private readonly connections: ControlConnections,
  ) {}

  /** Transfers running now. */
  get count(): number {
    return this.running;
  }

  /**
   * track counts a transfer from now until its stream closes, and cuts it when its byte count has not moved for
   * transferIdleMs (polled: no listener is added to a stream ftp-srv is about to read or pipe), unless it is
   * settling (every byte is in and the file is being taken in).
   */
  track(connectionId: string, stream: TransferStream, progress: () => number, settling: () => boolean = () => false): void {
    this.connections.transferBegins(connectionId);
    this.running++;
    const poll = this.transferIdleMs > 0 ? this.stallCheck(stream, progress, settling) : null;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (poll) clearInterval(poll);
      this.connections.transferEnds(connectionId);
      this.running--;
      if (this.running === 0) this.idleWaiters.splice(0).forEach((w) => w());
    };
    // ftp-srv ends an upload stream with a synthetic 'close': the transfer is over only when the
    // stream is destroyed, after the intake took the file in and the 226 went out.
    stream.on('close', () => {
      if (stream.destroyed) end();
    });
  }

  /** idle resolves when no transfer runs, or after `ms`. */
  idle(ms: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idleWaiters.push(() => (clearTimeout(t), resolve()));
    });
  }

  private stallCheck(stream: TransferStream, progress: () => number, settling: () => boolean): NodeJS.Timeout {
    let last = -1;
    const poll = setInterval(() => {
      const now = progress();
      if (now === last && !settling()) stream.destroy(new TransferStalledError(this.transferIdleMs));
      last = now;
    }, this.transferIdleMs);
    poll.unref();
    return poll;
  }
}
