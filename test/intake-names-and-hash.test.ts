/**
 * Issue #13, findings 6 and 7, against the real server.
 * 6: names are limited in bytes (UTF-8), at STOR and at RNTO, with a 553, so that every name taken in gets its
 *    receipt: 80 × `€` + `.csv` (84 characters, 244 bytes) is refused; the longest name allowed, 200 bytes, gets its
 *    receipt, and so does its `.part` form on the way.
 * 7: the receipt's SHA-256 is that of the bytes processed: a STOR to a held name while the RNTO of that name is still
 *    hashing the file makes a new held file and does not change the one being taken in.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { download, startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { parseReceipt } from './helpers/receipt';
import { waitFor } from './helpers/ops';

const GARAGE = '2123456692';
const PW = 'names and hashes password';
/** A held file this large takes the server a while to hash (it is sparse: nothing to write here). */
const BIG = 256 * 1024 * 1024;

const upload = (c: Client, name: string, body: string) => c.uploadFrom(Readable.from([Buffer.from(body)]), name);

let svc: TestService;
let drop: string;
beforeAll(async () => {
  // A file over the size limit is refused (F06) without being read: the big held file costs only its hashing.
  svc = await startTestService({ workers: 1, maxFileBytes: 1024 * 1024 });
  await svc.addAccount(GARAGE, PW);
  drop = svc.layout.dropDir(GARAGE);
});
afterAll(async () => svc?.teardown());

const dropZone = () => fs.readdirSync(drop).filter((n) => n !== '.incoming');

describe('file names, in bytes', () => {
  const tooLong = '€'.repeat(80) + '.csv';
  const longest = '€'.repeat(64) + 'abcd.csv'; // 192 + 8 = 200 bytes

  it('refuses a name over 200 bytes at STOR with 553, and keeps nothing', async () => {
    expect(tooLong.length).toBeLessThan(200);
    expect(Buffer.byteLength(tooLong)).toBe(244);
    const c = await svc.connect(GARAGE, PW);
    await expect(upload(c, tooLong, csvBatch(GARAGE, [{ vin: vin(1) }]))).rejects.toMatchObject({
      code: 553,
      message: expect.stringContaining('File name too long: at most 200 bytes'),
    });
    await expect(upload(c, tooLong + '.part', csvBatch(GARAGE, [{ vin: vin(1) }]))).rejects.toMatchObject({ code: 553 });
    expect(dropZone()).toEqual([]);
    expect(await svc.store.files.list()).toEqual([]);
    c.close();
  });

  it('refuses to rename a held file to a name over 200 bytes with 553; the file stays held', async () => {
    const c = await svc.connect(GARAGE, PW);
    expect((await upload(c, 'ok.csv.part', csvBatch(GARAGE, [{ vin: vin(2) }]))).code).toBe(226);
    await expect(c.rename('ok.csv.part', tooLong)).rejects.toMatchObject({ code: 553 });
    expect(dropZone()).toEqual(['ok.csv.part']);
    expect(await svc.store.files.list()).toEqual([]);
    await c.remove('ok.csv.part');
    c.close();
  });

  it('takes the longest name in through its .part form and writes its receipt', async () => {
    expect(Buffer.byteLength(longest)).toBe(200);
    const c = await svc.connect(GARAGE, PW);
    expect((await upload(c, longest + '.part', csvBatch(GARAGE, [{ vin: vin(3) }]))).code).toBe(226);
    expect((await c.rename(longest + '.part', longest)).code).toBe(250);
    const receipt = parseReceipt(await waitForReceipt(c, `${longest}.receipt.csv`, 60_000));
    expect(receipt).toMatchObject({ name: longest, status: 'ACCEPTED', records: 1 });
    expect((await svc.store.files.list()).find((f) => f.name === longest)).toMatchObject({ status: 'done' });
    c.close();
  }, 90_000);
});

/** openUnder lists the files under `dir` this process has open (the server runs in this process). */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + path.sep)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

it('the receipt describes the bytes processed, whatever is uploaded to the held name during the rename', async () => {
  const a = await svc.connect(GARAGE, PW);
  const b = await svc.connect(GARAGE, PW);
  expect((await upload(a, 'x.csv.part', 'x')).code).toBe(226);
  fs.truncateSync(path.join(drop, 'x.csv.part'), 0);
  fs.truncateSync(path.join(drop, 'x.csv.part'), BIG);
  const zeros = crypto.createHash('sha256');
  const mib = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < BIG / mib.length; i++) zeros.update(mib);
  const bigSha = zeros.digest('hex');

  const rename = a.rename('x.csv.part', 'x.csv');
  await waitFor('the rename to be hashing the held file', () => openUnder(drop).length > 0, 30_000, 1);
  const second = csvBatch(GARAGE, [{ vin: vin(7) }]);
  expect((await upload(b, 'x.csv.part', second)).code).toBe(226);
  expect((await rename).code).toBe(250);

  const first = (await svc.store.files.list()).find((f) => f.name === 'x.csv')!;
  expect(first).toMatchObject({ size: BIG, sha256: bigSha });
  expect(fs.statSync(svc.layout.filesPath(first.storedPath)).size).toBe(BIG);
  let receipt = parseReceipt(await waitForReceipt(a, 'x.csv.receipt.csv', 60_000));
  expect(receipt).toMatchObject({ fileId: first.id, sha256: bigSha, status: 'REJECTED' }); // F06: over the size limit

  // The upload made during the rename is held, whole, and is a file of its own when renamed.
  expect(dropZone()).toEqual(['x.csv.part']);
  expect(fs.readFileSync(path.join(drop, 'x.csv.part'), 'utf8')).toBe(second);
  expect((await b.rename('x.csv.part', 'x.csv')).code).toBe(250);
  const secondSha = crypto.createHash('sha256').update(second).digest('hex');
  receipt = await waitFor('the receipt of the second file', async () => {
    const r = parseReceipt(await download(a, '/receipts/x.csv.receipt.csv'));
    return r.sha256 === secondSha ? r : null;
  });
  expect(receipt).toMatchObject({ status: 'ACCEPTED', records: 1 });
  a.close();
  b.close();
}, 120_000);
