/**
 * Held files may not pile up (docs/ftps.md, issue 13): their bytes count against a quota per account (552 beyond),
 * and they expire, as does an upload's temporary file that a crash left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents } from './helpers/ops';
import { waitFor } from './helpers/wait';

const GARAGE = '2123456692';
const PW = 'held files test password';
const KIB = 1024;

const upload = (c: Client, name: string, body: Buffer) =>
  c.uploadFrom(Readable.from([body]), name).then(
    () => 'ok',
    (err: Error) => err.message,
  );

describe('the quota of held bytes', () => {
  let svc: TestService;
  let c: Client;
  beforeAll(async () => {
    svc = await startTestService({ heldBytesPerAccount: 64 * KIB });
    await svc.addAccount(GARAGE, PW);
    c = await svc.connect(GARAGE, PW);
  });
  afterAll(async () => {
    c?.close();
    await svc?.teardown();
  });

  const held = () => fs.readdirSync(svc.layout.dropDir(GARAGE)).filter((n) => n !== '.incoming');
  const refusal = '552 Held files (.part, .tmp, dot names) of this account would exceed 65536 bytes: rename or delete them first';

  it('refuses (552) a held upload that would go over it, keeps nothing of it, and takes one that fits', async () => {
    expect(await upload(c, 'a.csv.part', Buffer.alloc(40 * KIB, 'a'))).toBe('ok');
    expect(await upload(c, 'b.csv.part', Buffer.alloc(30 * KIB, 'b'))).toBe(refusal); // 70 KiB in all
    expect(held()).toEqual(['a.csv.part']);
    expect(fs.readdirSync(path.join(svc.layout.dropDir(GARAGE), '.incoming'))).toEqual([]);
    expect(await upload(c, 'b.csv.part', Buffer.alloc(20 * KIB, 'b'))).toBe('ok');
    expect(held().sort()).toEqual(['a.csv.part', 'b.csv.part']);
    // Sending a held file again replaces it: only the difference counts.
    expect(await upload(c, 'a.csv.part', Buffer.alloc(44 * KIB, 'a'))).toBe('ok');
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({ event: 'upload_refused', name: 'b.csv.part', reason: 'held quota' }),
    );
  });

  it('refuses a held upload at once when the held files fill the quota, and frees it when they are renamed', async () => {
    // a 44 + b 20 = 64 KiB: full.
    expect(await upload(c, 'c.tmp', Buffer.from('x'))).toBe(refusal);
    await c.remove('a.csv.part');
    const body = Buffer.from(csvBatch(GARAGE, [{ vin: vin(3) }], { trailer: true }));
    expect(await upload(c, 'nightly.csv.part', body)).toBe('ok');
    await c.rename('nightly.csv.part', 'nightly.csv'); // taken in: no longer held
    await waitForReceipt(c, 'nightly.csv.receipt.csv');
    expect(held()).toEqual(['b.csv.part']);
    expect(await upload(c, 'c.tmp', Buffer.alloc(40 * KIB, 'c'))).toBe('ok');
  });

  it('does not limit files that are not held', async () => {
    const records = Array.from({ length: 2000 }, (_, i) => ({ vin: vin(1000 + i) }));
    const body = Buffer.from(csvBatch(GARAGE, records, { trailer: true }));
    expect(body.length).toBeGreaterThan(64 * KIB);
    expect(await upload(c, 'big.csv', body)).toBe('ok');
  });
});

describe('expiry', () => {
  let svc: TestService;
  let c: Client;
  beforeAll(async () => {
    svc = await startTestService({ heldFileMaxAgeMs: 1500 });
    await svc.addAccount(GARAGE, PW);
    c = await svc.connect(GARAGE, PW);
  });
  afterAll(async () => {
    c?.close();
    await svc?.teardown();
  });

  it("deletes a held file and a crashed upload's temporary file once their last write is older than the maximum age", async () => {
    expect(await upload(c, 'forgotten.csv.part', Buffer.from('half a file'))).toBe('ok');
    const leftover = path.join(svc.layout.dropDir(GARAGE), '.incoming', 'left-by-a-crash');
    fs.writeFileSync(leftover, 'partial');
    const expired = async () => (await auditEvents(svc)).filter((e) => e.event === 'held_expired');
    await waitFor('both to expire', async () => (await expired()).length === 2, 20_000, 100);
    expect(await expired()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ account: GARAGE, name: 'forgotten.csv.part', size: 11 }),
        expect.objectContaining({ account: GARAGE, upload: 'unfinished', size: 7 }),
      ]),
    );
    expect((await c.list('/')).map((f) => f.name)).toEqual(['receipts']);
    expect(fs.existsSync(leftover)).toBe(false);
  });
});
