/**
 * A raw FTP control connection (node net, then tls after AUTH TLS), bound to a chosen local address: 127.0.0.0/8 is
 * all loopback on Linux, so each test client can come from its own IP (an attacker's, a branch behind a NAT).
 * Many of them in parallel are what a scripted login burst looks like.
 */
import net from 'node:net';
import tls from 'node:tls';

export class RawFtp {
  private text = '';
  private readonly replies: string[] = [];
  private readonly waiters: { resolve: (r: string) => void; reject: (e: Error) => void }[] = [];
  private closed: Error | null = null;

  private constructor(private socket: net.Socket) {
    this.listen(socket);
  }

  /** connect opens a control connection from `localAddress` and reads the greeting; `tls` sends AUTH TLS first. */
  static async connect(port: number, opts: { localAddress?: string; tls?: boolean } = {}): Promise<RawFtp> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    const ftp = new RawFtp(socket);
    const greeting = await ftp.next();
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    if (opts.tls !== false) await ftp.startTls();
    return ftp;
  }

  /** send writes one command line and resolves with its reply (the last line of it). */
  send(line: string): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.next();
  }

  /** login sends USER and PASS and returns PASS's reply (or USER's, when USER is refused). */
  async login(user: string, password: string): Promise<string> {
    const u = await this.send(`USER ${user}`);
    return u.startsWith('331') ? this.send(`PASS ${password}`) : u;
  }

  close(): void {
    this.socket.destroy();
  }

  /** next resolves with the next complete reply, or rejects when the connection closes first or after 60 s. */
  next(): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within 60 s')), 60_000);
      this.waiters.push({
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  private async startTls(): Promise<void> {
    const reply = await this.send('AUTH TLS');
    if (!reply.startsWith('234')) throw new Error(`AUTH TLS: ${reply}`);
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  private listen(socket: net.Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      let nl: number;
      while ((nl = this.text.indexOf('\n')) !== -1) {
        const line = this.text.slice(0, nl).replace(/\r$/, '');
        this.text = this.text.slice(nl + 1);
        if (/^\d{3} /.test(line)) this.deliver(line); // the last line of a reply ("220-..." lines come before it)
      }
    });
    socket.on('error', () => {}); // seen as 'close'
    socket.on('close', () => {
      this.closed = new Error('connection closed');
      this.waiters.splice(0).forEach((w) => w.reject(this.closed!));
    });
  }

  private deliver(reply: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(reply);
    else this.replies.push(reply);
  }
}

/** localAddress gives the n-th test client its own loopback address (127.<tag>.x.y). */
export function localAddress(tag: number, n: number): string {
  return `127.${tag}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}
