/**
 * What a client reads when something fails (docs/ftps.md). Our own refusals say what went wrong and what to do.
 * ftp-srv answers any other error with its bare message (`550 <err.message>`), and the message of an error from
 * below us names internal paths, system calls, SQLite or OpenSSL internals: such a reply is replaced by a plain one
 * for its code, and the original text goes to the audit log (`internal_error`) for the operator.
 */
import os from 'node:os';

/** The plain reply for each code whose text came from below us. */
const PLAIN: Record<number, string> = {
  421: 'Service not available: closing control connection',
  425: 'Data connection failed: open a new one and try again',
  426: 'Data connection closed: transfer aborted',
  450: 'File unavailable: try again later',
  451: 'Transfer failed: send the file again',
  530: 'Login failed: try again later',
  550: 'Requested action failed',
  551: 'Download failed: try again later',
};
const PLAIN_OTHER = 'Requested action failed';

const ERRNO_NAMES = new Set(Object.keys(os.constants.errno));

/**
 * fromBelow tells a text that came from below us: a system error name (ENOENT, EPIPE…), a Node error code, an
 * OpenSSL error, SQLite, or an absolute path (ours never hold one: a client sees only its jail's names).
 */
export function fromBelow(text: string): boolean {
  if (/(^|[\s'"(=,])\/[^\s/'"]+\/\S*/.test(text)) return true;
  if (/\bERR_[A-Z0-9_]+\b|\berror:[0-9A-F]{8}:|SSL routines|SQLITE_/i.test(text)) return true;
  return (text.match(/\bE[A-Z0-9]{2,}\b/g) ?? []).some((word) => ERRNO_NAMES.has(word));
}

/**
 * writtenForClient: an error whose message was written for the sender: the jail's refusals (ftp-srv's
 * FileSystemError) and our errors that carry their reply code (size limit, stalled transfer, held-file quota).
 * The patched STOR's DataConnectionError wraps a socket's own error after "Data connection error:".
 */
function writtenForClient(err: { name?: string; message?: string; replyCode?: unknown }): boolean {
  if (err.name === 'DataConnectionError') return !String(err.message).startsWith('Data connection error:');
  return err.name === 'FileSystemError' || typeof err.replyCode === 'number';
}

/** The parts of ftp-srv's connection used here. */
interface RepliesOf {
  reply(options: unknown, ...letters: unknown[]): Promise<unknown>;
  on(event: string, listener: (err: unknown) => void): unknown;
}

/**
 * guardReplies makes every error reply of `connection` say nothing of our internals: its text is replaced when it
 * is the message of an error not written for the client (STOR, RETR and RNTO report theirs before replying), or
 * when it reads as one from below us (`fromBelow`); `replaced` hears the code and the original text.
 */
export function guardReplies(connection: RepliesOf, replaced: (code: number, text: string) => void): void {
  const internal = new Set<string>();
  for (const event of ['STOR', 'RETR', 'RNTO']) {
    connection.on(event, (err) => {
      const e = err as { name?: string; message?: string; replyCode?: unknown } | null;
      if (e && !writtenForClient(e)) internal.add(String(e.message));
    });
  }
  const reply = connection.reply.bind(connection);
  connection.reply = (options: unknown, ...letters: unknown[]) => {
    const code = typeof options === 'number' ? options : (options as { code?: number } | null)?.code;
    if (typeof code !== 'number' || code < 400) return reply(options, ...letters);
    const safe = letters.map((letter) => {
      if (typeof letter !== 'string') return letter;
      const mine = internal.delete(letter);
      if (!mine && !fromBelow(letter)) return letter;
      replaced(code, letter);
      return PLAIN[code] ?? PLAIN_OTHER;
    });
    return reply(options, ...safe);
  };
}
