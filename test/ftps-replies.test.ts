/**
 * Replies say what went wrong without internal paths or library error strings (docs/ftps.md, issue 13): ftp-srv
 * answers an error with its message, and the messages of file-system and OpenSSL errors name our paths and
 * OpenSSL's internals. The operator finds the original in the audit log.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { useTestService } from './helpers/service';
import { auditEvents } from './helpers/ops';
import { RawFtp, epsvPort } from './helpers/raw-ftp';

const GARAGE = '2123456692';
const PW = 'replies test password';

const svc = useTestService({}, [GARAGE], PW);

const internalErrors = async () => (await auditEvents(svc)).filter((e) => e.event === 'internal_error');

it('answers a file-system failure without the path or the system error', async () => {
  const c = await svc.connect(GARAGE, PW);
  // Something in the drop zone that the server cannot delete as a file (here a folder made on the server's disk).
  fs.mkdirSync(path.join(svc.layout.dropDir(GARAGE), 'stuck.part'));
  const err = await c.remove('stuck.part').then(
    () => 'ok',
    (e: Error) => e.message,
  );
  c.close();
  expect(err).toBe('550 Requested action failed');
  expect(await internalErrors()).toContainEqual(
    expect.objectContaining({ code: 550, error: expect.stringContaining(path.join(svc.layout.dropDir(GARAGE), 'stuck.part')) }),
  );
});

it('answers a broken TLS data connection without OpenSSL error strings', async () => {
  const ftp = await RawFtp.connect(svc.ftpPort);
  await ftp.reply();
  await ftp.startTls();
  expect(await ftp.cmd(`USER ${GARAGE}`)).toMatch(/^331/);
  expect(await ftp.cmd(`PASS ${PW}`)).toMatch(/^230/);
  expect(await ftp.cmd('PBSZ 0')).toMatch(/^200/);
  expect(await ftp.cmd('PROT P')).toMatch(/^200/);
  const port = epsvPort(await ftp.cmd('EPSV'));
  const data = net.connect(port, '127.0.0.1');
  data.on('error', () => {});
  await new Promise((r) => data.once('connect', r));
  expect(await ftp.cmd('STOR garbage.csv')).toMatch(/^150/);
  data.write('this is not a TLS ClientHello\r\n'); // the server's TLS layer fails on it
  const answer = await ftp.reply();
  data.destroy();
  ftp.close();
  // The data connection is refused as one that is not the control connection's (docs/ftps.md, Data connections);
  // the reply names what happened in plain words, OpenSSL's text stays in no reply.
  expect(answer).toBe('425 No data connection: its TLS handshake failed');
  expect(answer).not.toMatch(/SSL|error:0A/);
  expect(await auditEvents(svc)).toContainEqual(expect.objectContaining({ event: 'data_refused', account: GARAGE }));
});
