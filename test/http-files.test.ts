/**
 * Batch files over HTTPS (docs/web-services.md): the same intake and the same receipt as FTPS, the receipt in three
 * formats, the label and the work types, and the limits: size (413, nothing kept), content type (415), Accept
 * (406), a stalled body (408), the request rate (429). Real HTTPS requests against running services.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTestService, useTestService, waitForReceipt, type TestService } from './helpers/service';
import { apiOf, type Api } from './helpers/https';
import { parseReceipt } from './helpers/receipt';
import { inflowSync } from './helpers/ops';
import { establishment } from './helpers/fleet-files';
import { sleep, waitFor } from './helpers/wait';
import { WORK_TYPES } from '../model/reading';

const PASSWORD = 'correct horse battery';
const GARAGE = { name: '2123456692', password: PASSWORD }; // the fixtures' sender
const PORTAL = { name: establishment('21700001'), password: PASSWORD };
const MIXED = fs.readFileSync('fixtures/mixed-valid-and-invalid.csv');

type Res = Awaited<ReturnType<Api['request']>>;
const problemOf = async (res: Res, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as { detail: string; errors?: { field: string; message: string }[] };
};

/** put sends `body` as the file `name` and returns the 202's JSON. */
async function put(api: Api, name: string, body: Buffer, type = 'text/csv') {
  const res = await api.request(`/files/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'content-type': type }, body }, GARAGE);
  expect(res.status).toBe(202);
  const json = (await res.json()) as { fileId: string; statusUrl: string; receiptUrl: string };
  expect(res.headers.get('location')).toBe(json.statusUrl);
  return json;
}

/** done waits until the file's status is `done` and returns its JSON. */
async function done(api: Api, fileId: string) {
  return waitFor(`${fileId} done`, async () => {
    const f = (await (await api.request(`/files/${fileId}`, {}, GARAGE)).json()) as { status: string };
    return f.status === 'done' ? (f as Record<string, unknown>) : null;
  });
}

describe('files and receipts', () => {
  const svc = useTestService({}, [GARAGE.name], PASSWORD);
  let api: Api;
  beforeAll(async () => {
    await svc.addAccount(PORTAL.name, PASSWORD, 'portal');
    api = apiOf(svc.httpPort!, svc.tlsCert);
  });
  afterAll(() => api.close());

  test('a file sent over HTTPS gets the receipt the same file gets over FTPS', async () => {
    const { fileId, statusUrl, receiptUrl } = await put(api, 'mixed.csv', MIXED);
    expect(statusUrl).toBe(`/api/v1/files/${fileId}`);
    expect(receiptUrl).toBe(`/api/v1/files/${fileId}/receipt`);
    const file = await done(api, fileId);
    expect(file).toMatchObject({
      id: fileId,
      account: GARAGE.name,
      name: 'mixed.csv',
      format: 'csv',
      result: 'PARTIAL',
      size: MIXED.length,
    });
    const overHttps = parseReceipt(
      await (await api.request(`/files/${fileId}/receipt`, { headers: { accept: 'text/csv' } }, GARAGE)).text(),
    );

    // The same file into a twin service (a fresh registry, as this one was) over FTPS.
    const twin: TestService = await startTestService();
    try {
      await twin.addAccount(GARAGE.name, PASSWORD);
      const client = await twin.connect(GARAGE.name, PASSWORD);
      fs.writeFileSync(path.join(twin.dir, 'mixed.csv'), MIXED);
      await client.uploadFrom(path.join(twin.dir, 'mixed.csv'), 'mixed.csv');
      const overFtps = parseReceipt(await waitForReceipt(client, 'mixed.csv.receipt.csv'));
      client.close();
      const comparable = (r: ReturnType<typeof parseReceipt>) => ({ ...r, received: undefined, processed: undefined });
      expect(overHttps.issues.length).toBeGreaterThan(5);
      expect(comparable(overHttps)).toEqual(comparable(overFtps));
    } finally {
      await twin.teardown();
    }
  });

  test('the receipt as CSV, XML and JSON says the same', async () => {
    const { fileId } = await put(api, 'mixed-formats.csv', Buffer.concat([MIXED, Buffer.from('\n')]));
    await done(api, fileId);
    const get = (accept?: string) => api.request(`/files/${fileId}/receipt`, { headers: accept ? { accept } : {} }, GARAGE);
    const csvRes = await get('text/csv');
    expect(csvRes.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const csv = parseReceipt(await csvRes.text());
    expect(await (await get()).text()).toBe(await (await get('*/*')).text()); // no preference: as written (CSV here)
    expect(parseReceipt(await (await get()).text())).toEqual(csv);

    const jsonRes = await get('application/json');
    expect(jsonRes.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await jsonRes.json()) as { header: Record<string, unknown>; issues: Record<string, unknown>[] };
    const { issues, trailerCount, ...header } = csv;
    expect(trailerCount).toBe(issues.length);
    expect(json.header).toEqual(header);
    expect(json.issues).toEqual(
      issues.map((i) => ({
        ...i,
        errorNumber: i.errorNumber || null,
        ref: i.ref || null,
        vin: i.vin || null,
        correctable: i.correctable === 'Y',
        reading: null,
        state: i.severity === 'A' ? 'open' : null,
      })),
    );

    const xmlRes = await get('application/xml');
    expect(xmlRes.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    const xml = await xmlRes.text();
    expect(xml).toContain(`<receipt format="INFLOW-RECEIPT" version="1" fileId="${fileId}"`);
    expect(xml.match(/<issue /g)).toHaveLength(issues.length);
    for (const i of issues.filter((x) => x.errorNumber)) expect(xml).toContain(`errorNumber="${i.errorNumber}"`);

    const refused = await problemOf(await get('image/png'), 406);
    expect(refused.detail).toMatch(/text\/csv, application\/xml or application\/json/);
  });

  test('an XML file gets its receipt as written in XML, and as CSV on request', async () => {
    const { fileId } = await put(api, 'valid.xml', fs.readFileSync('fixtures/valid-3-readings.xml'), 'application/xml');
    await done(api, fileId);
    const asWritten = await api.request(`/files/${fileId}/receipt`, {}, GARAGE);
    expect(asWritten.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    expect(await asWritten.text()).toMatch(/^<\?xml/);
    const csv = parseReceipt(await (await api.request(`/files/${fileId}/receipt`, { headers: { accept: 'text/csv' } }, GARAGE)).text());
    expect(csv).toMatchObject({ fileId, name: 'valid.xml', records: 3, accepted: 3 });
  });

  test('the same content sent again is a DUPLICATE, as over FTPS', async () => {
    const body = fs.readFileSync('fixtures/valid-no-trailer.csv');
    const first = await put(api, 'first.csv', body);
    await done(api, first.fileId);
    const again = await put(api, 'again.csv', body);
    expect(await done(api, again.fileId)).toMatchObject({ result: 'DUPLICATE', duplicateOf: first.fileId });
  });

  test('GET /files filters by status and date', async () => {
    const all = (await (await api.request('/files', {}, GARAGE)).json()) as { id: string; status: string; receivedAt: string }[];
    expect(all.length).toBeGreaterThanOrEqual(4);
    const doneOnes = (await (await api.request('/files?status=done', {}, GARAGE)).json()) as { status: string }[];
    expect(doneOnes.every((f) => f.status === 'done')).toBe(true);
    const since = all[all.length - 1].receivedAt;
    const recent = (await (await api.request(`/files?since=${encodeURIComponent(since)}`, {}, GARAGE)).json()) as { id: string }[];
    expect(recent.map((f) => f.id)).toEqual([all[all.length - 1].id]);
    expect(((await (await api.request('/files?limit=1', {}, GARAGE)).json()) as unknown[]).length).toBe(1);
  });

  test('refusals: a held or empty name (400), a body that is not a batch file type (415), unknown ids (404, 400)', async () => {
    const send = (name: string, type: string) =>
      api.request(`/files/${name}`, { method: 'PUT', headers: { 'content-type': type }, body: MIXED }, GARAGE);
    expect((await problemOf(await send('night.csv.part', 'text/csv'), 400)).errors![0].field).toBe('name');
    expect((await problemOf(await send('.hidden.csv', 'text/csv'), 400)).errors![0].field).toBe('name');
    await problemOf(await send('night.csv', 'application/json'), 415);
    await problemOf(await send('night.csv', 'multipart/form-data; boundary=x'), 415);
    await problemOf(await api.request('/files/F999999', {}, GARAGE), 404);
    expect((await problemOf(await api.request('/files/nope', {}, GARAGE), 400)).errors![0].field).toBe('fileId');
  });

  test('GET /activities lists every work type in nl, fr, de and en', async () => {
    const list = (await (await api.request('/activities', {}, GARAGE)).json()) as { code: string; description: Record<string, string> }[];
    expect(list.map((a) => a.code)).toEqual([...WORK_TYPES]);
    for (const a of list) expect(Object.keys(a.description).sort()).toEqual(['de', 'en', 'fr', 'nl']);
    expect(list.find((a) => a.code === 'ODOREP')!.description.en).toBe('Odometer replaced');
  });

  test('the label over HTTPS is the decision of `inflow label --json`', async () => {
    for (const [vin, mileage] of [
      ['WVWZZZ1JZXW000001', 200000],
      ['WVWZZZ1JZXW000001', 10],
      ['VF1RFB00012345678', 5000],
    ] as const) {
      const res = await api.request(`/vehicles/${vin.toLowerCase()}/label?mileage=${mileage}&date=2026-12-01`, {}, PORTAL);
      expect(res.status).toBe(200);
      const cli = inflowSync(['label', vin, '--mileage', String(mileage), '--date', '2026-12-01', '--json', '--data-dir', svc.dir]);
      expect(cli.code).toBe(0);
      expect(await res.json()).toEqual(JSON.parse(cli.out));
    }
  });
});

describe('limits', () => {
  const MAX = 4000;
  // No workers: files stay queued (their receipt is not written); a small size limit, a short idle cut, 8 requests a minute.
  const svc = useTestService({ workers: 0, maxFileBytes: MAX, transferIdleMs: 1000, httpRequestsPerMinute: 8 }, [GARAGE.name], PASSWORD);
  let api: Api;
  beforeAll(() => {
    api = apiOf(svc.httpPort!, svc.tlsCert);
  });
  afterAll(() => api.close());

  const nothingKept = async () => {
    expect(await svc.store.files.list()).toHaveLength(0);
    const incoming = path.join(svc.layout.dropDir(GARAGE.name), '.incoming');
    expect(fs.existsSync(incoming) ? fs.readdirSync(incoming) : []).toEqual([]);
    expect(fs.existsSync(svc.layout.storeDir) ? fs.readdirSync(svc.layout.storeDir) : []).toEqual([]);
  };

  test('over the size limit: 413, nothing kept on disk or in the database', async () => {
    const big = Buffer.alloc(MAX + 1, 'R;x\n');
    const res = await api.request('/files/big.csv', { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: big }, GARAGE);
    expect((await problemOf(res, 413)).detail).toMatch(`size limit of ${MAX} bytes`);
    await nothingKept();
  });

  test('over the size limit without a Content-Length (chunked): 413 once the limit is passed, nothing kept', async () => {
    async function* chunks() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 'R;x\n');
    }
    const res = await api.request('/files/big.csv', { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: chunks() }, GARAGE);
    await problemOf(res, 413);
    await nothingKept();
  });

  test('a body that stops arriving is cut after transferIdleMs: 408, nothing kept', async () => {
    async function* stalls() {
      yield Buffer.from('H;INFLOW;1;2123456692;2026-11-25T22:00:00+01:00;x\n');
      await sleep(3000); // the client goes silent for longer than transferIdleMs (1 s)
      yield Buffer.from('R;late\n');
    }
    const res = await api.request('/files/slow.csv', { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: stalls() }, GARAGE);
    expect((await problemOf(res, 408)).detail).toMatch(/No data for 1 s/);
    await nothingKept();
  });

  test('the receipt is 404 until it is written', async () => {
    const res = await api.request('/files/queued.csv', { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: MIXED }, GARAGE);
    expect(res.status).toBe(202);
    const { fileId } = (await res.json()) as { fileId: string };
    expect((await problemOf(await api.request(`/files/${fileId}/receipt`, {}, GARAGE), 404)).detail).toMatch(/not written yet/);
  });

  test("over the account's request rate: 429 with Retry-After", async () => {
    let res: Res;
    let sent = 0;
    do {
      res = await api.request('/activities', {}, GARAGE);
      sent++;
    } while (res.status === 200 && sent < 20);
    // The 9th request of the account in the minute is refused (the other tests made some of them).
    expect(sent).toBeLessThanOrEqual(9);
    expect((await problemOf(res, 429)).detail).toMatch(/More than 8 requests in a minute/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
