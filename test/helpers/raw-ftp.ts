/**
 * A control connection driven by hand, over a real socket: for what FTP clients will not do (stop in the middle of
 * a TLS handshake, send commands without logging in, offer chosen TLS suites, send garbage on a data connection).
 */
import net from 'node:net';
import tls from 'node:tls';

export class RawFtp {
  /** Every reply line read so far, continuation lines included. */
  readonly lines: string[] = [];
  /** Resolves when the server closes the connection (or it breaks). */
  readonly closed: Promise<void>;
  private socket: net.Socket;
  private buf = '';
  private waiters: (() => void)[] = [];
  private finals = 0;
  private consumed = 0;

  private constructor(readonly raw: net.Socket) {
    this.socket = raw;
    this.closed = new Promise((resolve) => raw.once('close', () => resolve()));
    raw.on('error', () => {}); // a reset is a close here
    this.listen(raw);
  }

  /** connect opens a control connection; the greeting (or a refusal) is the first reply. */
  static connect(port: number): Promise<RawFtp> {
    return new Promise((resolve, reject) => {
      const raw = net.connect(port, '127.0.0.1');
      raw.once('connect', () => resolve(new RawFtp(raw)));
      raw.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.raw.destroyed;
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** reply resolves with the next final reply line ("ddd text"), or rejects when the connection closes first. */
  async reply(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.consumed >= this.finals) {
      if (this.raw.destroyed && this.consumed >= this.finals) throw new Error(`connection closed; read: ${this.lines.join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; read: ${this.lines.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
    const finals = this.lines.filter((l) => /^\d{3} /.test(l));
    return finals[this.consumed++];
  }

  async cmd(line: string): Promise<string> {
    this.send(line);
    return this.reply();
  }

  /** startTls sends AUTH TLS and, after its 234, makes the TLS handshake with `options`. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const answer = await this.cmd('AUTH TLS');
    if (!answer.startsWith('234')) throw new Error(`AUTH TLS answered ${answer}`);
    this.raw.removeAllListeners('data');
    const secure = tls.connect({ socket: this.raw, rejectUnauthorized: false, servername: 'localhost', ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.on('error', () => {});
    this.socket = secure;
    this.listen(secure);
    return secure;
  }

  close(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '');
        this.buf = this.buf.slice(nl + 1);
        this.lines.push(line);
        if (/^\d{3} /.test(line)) this.finals++;
      }
      this.wake();
    });
    socket.once('close', () => this.wake());
  }

  private wake(): void {
    this.waiters.splice(0).forEach((w) => w());
  }
}

/** epsvPort reads the port of a `229 Entering Extended Passive Mode (|||port|)` reply. */
export function epsvPort(reply: string): number {
  const m = /\(\|\|\|(\d+)\|\)/.exec(reply);
  if (!m) throw new Error(`not an EPSV reply: ${reply}`);
  return Number(m[1]);
}
