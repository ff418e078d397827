/**
 * The FTPS clients garages actually run, each a program we did not write, against the real service: each logs
 * in, uploads, lists and downloads a receipt, 20 times in a row, its data connections resuming the control
 * connection's TLS session as the service requires (Python's ftplib through the README's subclass). (ftp-srv 4.6.3
 * as published fails these: the patch in patches/ftp-srv+4.6.3.patch fixes it.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { download, startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { curlUpload, curlList, curlDownload, lftpRound, ftplibRound, ftplibSubclass, type ClientResult } from './helpers/ftp-clients';
import { waitFor } from './helpers/wait';

const USER = '2123456692';
const PW = 'interop password 123';
const ROUNDS = 20;

let svc: TestService;
let tmp: string;
let seedReceipt: string;

beforeAll(async () => {
  svc = await startTestService();
  await svc.addAccount(USER, PW);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-interop-'));
  const c = await svc.connect(USER, PW);
  await c.uploadFrom(Readable.from([Buffer.from(csvBatch(USER, [{ vin: vin(1) }], { trailer: true }))]), 'seed.csv');
  seedReceipt = await waitForReceipt(c, 'seed.csv.receipt.csv');
  c.close();
});

afterAll(async () => {
  await svc?.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** roundFile writes a distinct valid batch (never a duplicate of another round). */
function roundFile(client: string, i: number): string {
  const file = path.join(tmp, `${client}-${i}.csv`);
  const base = { curl: 10000, lftp: 20000, ftplib: 30000, 'basic-ftp': 40000 }[client]!;
  fs.writeFileSync(file, csvBatch(USER, [{ vin: vin(base + i), odometer: 1000 + i }], { trailer: true }));
  return file;
}

const access = () => ({ host: '127.0.0.1', port: svc.ftpPort, user: USER, password: PW, timeoutMs: 30000 });

function expectOk(r: ClientResult, what: string) {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.slice(-400)}`);
}

async function expectAllProcessed(client: string) {
  const names = Array.from({ length: ROUNDS }, (_, i) => `${client}-${i}.csv`);
  const mine = async () => (await svc.store.files.list({ account: USER })).filter((f) => names.includes(f.name));
  const files = await waitFor(
    `${client}: ${ROUNDS} uploads processed`,
    async () => {
      const f = await mine();
      return f.length === ROUNDS && f.every((x) => x.status === 'done') ? f : null;
    },
    60000,
    200,
  );
  expect(files.map((f) => f.result)).toEqual(Array(ROUNDS).fill('ACCEPTED'));
}

describe('when curl --ssl-reqd is the client', () => {
  it(`logs in, uploads, lists and downloads a receipt ${ROUNDS} times in a row`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const local = roundFile('curl', i);
      expectOk(await curlUpload({ ...access(), localFile: local, remotePath: `/curl-${i}.csv` }), `curl upload round ${i}`);
      const list = await curlList({ ...access(), remoteDir: '/receipts/' });
      expectOk(list, `curl list round ${i}`);
      expect(list.stdout).toContain('seed.csv.receipt.csv');
      const out = path.join(tmp, `curl-dl-${i}`);
      expectOk(
        await curlDownload({ ...access(), remotePath: '/receipts/seed.csv.receipt.csv', localFile: out }),
        `curl download round ${i}`,
      );
      expect(fs.readFileSync(out, 'utf8')).toBe(seedReceipt);
    }
    await expectAllProcessed('curl');
  }, 180000);

  it('cannot log in without --ssl-reqd (plain FTP)', async () => {
    const r = await curlList({ ...access(), sslReqd: false, remoteDir: '/' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/530|534|denied|Access/i);
  });
});

describe("when basic-ftp (inflow upload's client) is the client", () => {
  it(`logs in, uploads, lists and downloads a receipt ${ROUNDS} times in a row`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const c = await svc.connect(USER, PW);
      try {
        await c.uploadFrom(roundFile('basic-ftp', i), `basic-ftp-${i}.csv`);
        expect((await c.list('/receipts')).map((f) => f.name)).toContain('seed.csv.receipt.csv');
        expect(await download(c, '/receipts/seed.csv.receipt.csv')).toBe(seedReceipt);
      } finally {
        c.close();
      }
    }
    await expectAllProcessed('basic-ftp');
  }, 180000);
});

it('docs/ftps.md shows the ftplib subclass of the README, the one these rounds run', () => {
  expect(fs.readFileSync(path.join(__dirname, '..', 'docs', 'ftps.md'), 'utf8')).toContain(ftplibSubclass());
});

describe.each([
  ['lftp', lftpRound],
  ['ftplib', ftplibRound],
] as const)('when %s is the client', (name, round) => {
  it(`logs in, uploads, lists and downloads a receipt ${ROUNDS} times in a row`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const out = path.join(tmp, `${name}-dl-${i}`);
      const r = await round({
        ...access(),
        localFile: roundFile(name, i),
        remoteName: `${name}-${i}.csv`,
        downloadPath: '/receipts/seed.csv.receipt.csv',
        downloadTo: out,
      });
      expectOk(r, `${name} round ${i}`);
      expect(fs.readFileSync(out, 'utf8')).toBe(seedReceipt);
    }
    await expectAllProcessed(name);
  }, 180000);
});
