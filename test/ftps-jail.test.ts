/** The FTPS front door (docs/ftps.md): TLS before login, and each account jailed in its own drop zone and receipts. */
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, download, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents } from './helpers/ops';

const A = '2123456692';
const B = '2345678942';
const PW = 'a long enough password';

let svc: TestService;
let a: Client;
let b: Client;

beforeAll(async () => {
  svc = await startTestService();
  await svc.addAccount(A, PW);
  await svc.addAccount(B, PW);
  a = await svc.connect(A, PW);
  b = await svc.connect(B, PW);
  await a.uploadFrom(Readable.from([Buffer.from(csvBatch(A, [{ vin: vin(1) }], { trailer: true }))]), 'mine.csv');
  await waitForReceipt(a, 'mine.csv.receipt.csv');
});

afterAll(async () => {
  a?.close();
  b?.close();
  await svc?.teardown();
});

const codeOf = async (p: Promise<unknown>): Promise<number | string> => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: number }).code ?? String(err);
  }
};

describe('when a client logs in without TLS', () => {
  it('is refused before it can send its password', async () => {
    const c = new Client(5000);
    const err = await c.access({ host: '127.0.0.1', port: svc.ftpPort, user: A, password: PW, secure: false }).catch((e) => e);
    c.close();
    expect(err).toBeInstanceOf(Error);
    expect([530, 534]).toContain(err.code);
    const audit = JSON.stringify(await auditEvents(svc));
    expect(audit).not.toContain(PW);
  });

  it('logs in with TLS', async () => {
    const c = await svc.connect(A, PW);
    expect(c.closed).toBe(false);
    c.close();
  });
});

describe('when an account looks around', () => {
  it('sees exactly its drop zone and its receipts', async () => {
    expect((await a.list('/')).map((f) => f.name)).toEqual(['receipts']);
    expect((await a.list('/receipts')).map((f) => f.name)).toEqual(['mine.csv.receipt.csv']);
    expect((await b.list('/receipts')).map((f) => f.name)).toEqual([]);
  });

  it('cannot climb out of its jail', async () => {
    expect((await a.list('/../../..')).map((f) => f.name)).toEqual(['receipts']);
    expect((await a.list('../receipts/../..')).map((f) => f.name)).toEqual(['receipts']);
    expect(await codeOf(a.cd('/etc'))).toBe(550);
    expect(await codeOf(a.cd('/receipts/../../store'))).toBe(550);
    await a.cd('/');
    expect(await codeOf(download(a, '/../inflow.db'))).toBe(551);
    expect(await codeOf(download(a, '/../../../../etc/passwd'))).toBe(551);
    expect(await codeOf(a.uploadFrom(Readable.from([Buffer.from('x')]), '/../escape.csv'))).toBe('ok'); // lands in its own root
    expect((await svc.store.files.list({ account: A })).map((f) => f.name)).toContain('escape.csv');
  });

  it('goes on transferring after a refused download (regression: ftp-srv connector race, patch f)', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(download(a, '/nope.csv'))).toBe(551);
      expect((await a.list('/receipts')).length).toBeGreaterThan(0);
    }
  });

  it("cannot read another account's receipts", async () => {
    expect(await codeOf(download(b, `/receipts/mine.csv.receipt.csv`))).toBe(551);
    expect(await codeOf(download(b, `/../../receipts/${A}/mine.csv.receipt.csv`))).toBe(551);
  });

  it('cannot delete, overwrite or rename a receipt, nor make directories', async () => {
    expect(await codeOf(a.remove('/receipts/mine.csv.receipt.csv'))).toBe(550);
    expect(await codeOf(a.uploadFrom(Readable.from([Buffer.from('forged')]), '/receipts/mine.csv.receipt.csv'))).toBe(550);
    expect(await codeOf(a.rename('/receipts/mine.csv.receipt.csv', '/stolen.csv'))).toBe(550);
    expect(await codeOf(a.send('MKD /newdir'))).toBe(502);
    expect(await codeOf(a.send('SITE CHMOD 777 /receipts/mine.csv.receipt.csv'))).toBe(502);
    const text = await download(a, '/receipts/mine.csv.receipt.csv');
    expect(text.startsWith('H;INFLOW-RECEIPT;1;')).toBe(true);
  });

  it('cannot download what it dropped', async () => {
    await a.uploadFrom(Readable.from([Buffer.from('held')]), 'held.tmp');
    expect(await codeOf(download(a, '/held.tmp'))).toBe(551);
    await a.remove('/held.tmp');
    expect((await a.list('/')).map((f) => f.name)).toEqual(['receipts']);
  });
});
