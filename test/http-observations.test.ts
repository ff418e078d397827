/**
 * Observations over HTTPS (SPEC §11, docs/web-services.md): real requests against a running service. A reading is
 * kept (202, PENDING) and checked by the drainer; its issues are those a receipt gives the same reading in a file;
 * a correction uses an error number once; a confirmation leaves the anomaly confirmed; others' observations are not
 * said to exist; missing DMS headers and schema violations get 400 naming the field.
 */
import { useTestService } from './helpers/service';
import { apiOf, type Api } from './helpers/https';
import { csvBatch, daysAgo } from './helpers/batch';
import { waitFor } from './helpers/wait';

const PASSWORD = 'correct horse battery';
const GARAGE = { name: '2123456692', password: PASSWORD };
const OTHER = { name: '2400000031', password: PASSWORD };

jest.setTimeout(60_000);

type Res = Awaited<ReturnType<Api['request']>>;
interface Issue {
  errorNumber: string | null;
  code: string;
  severity: string;
  field: string;
  correctable: boolean;
  message: string;
  state: string | null;
}
interface Observation {
  id: string;
  status: string;
  sender: string;
  reading: Record<string, unknown>;
  issues: Issue[];
  correctionOf: string | null;
}

const vin = (n: number) => `WVWZZZ1JZXW${String(n).padStart(6, '0')}`;
const reading = (n: number, odometer: number, date = daysAgo(3), work = 'MAINT') => ({ vin: vin(n), date, odometer, unit: 'km', work });

describe('observations over HTTPS', () => {
  const svc = useTestService({ observationPollMs: 20 }, [GARAGE.name, OTHER.name], PASSWORD);
  let api: Api;
  beforeAll(() => {
    api = apiOf(svc.httpPort!, svc.tlsCert);
  });
  afterAll(() => api.close());

  const postJson = (path: string, body: unknown, user = GARAGE, headers: Record<string, string> = {}, dms = true) =>
    api.request(
      path,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), dms },
      user,
    );

  async function accepted(res: Res): Promise<string> {
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; statusUrl: string };
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'PENDING', statusUrl: `/api/v1/observations/${body.id}` });
    expect(res.headers.get('location')).toBe(body.statusUrl);
    return body.id;
  }

  async function final(id: string, user = GARAGE): Promise<Observation> {
    const res = await api.request(`/observations/${id}?wait=30`, {}, user);
    expect(res.status).toBe(200);
    const o = (await res.json()) as Observation;
    expect(o.status).not.toBe('PENDING');
    return o;
  }

  const send = async (body: unknown) => final(await accepted(await postJson('/observations', body)));

  async function problem(res: Res, status: number) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return (await res.json()) as { detail: string; errors?: { field: string; message: string }[] };
  }

  /** receiptIssues sends `records` as a file over HTTPS and gives its JSON receipt's issues by line. */
  async function receiptIssues(name: string, records: ReturnType<typeof reading>[]) {
    const put = await api.request(
      `/files/${name}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'text/csv' },
        body: csvBatch(
          GARAGE.name,
          records.map((r) => ({ ...r, odometer: String(r.odometer), replaced: '' })),
        ),
      },
      GARAGE,
    );
    expect(put.status).toBe(202);
    const { fileId } = (await put.json()) as { fileId: string };
    const receipt = await waitFor(`${fileId} receipt`, async () => {
      const res = await api.request(`/files/${fileId}/receipt`, { headers: { accept: 'application/json' } }, GARAGE);
      return res.status === 200
        ? ((await res.json()) as { issues: (Issue & { line: number; reading: number | null; ref: string | null; vin: string | null })[] })
        : null;
    });
    return (line: number) => receipt.issues.filter((i) => i.line === line);
  }

  const sameIssue = ({ errorNumber, ...rest }: Issue) => ({ ...rest, numbered: errorNumber !== null });

  test('a reading is PENDING at once, then final with ?wait; FLAGGED and REJECTED with the issues of a receipt', async () => {
    // Vehicles 1-3 go in a file, 11-13 as observations, on the same history.
    await receiptIssues(
      'history.csv',
      [1, 2, 3, 11, 12, 13].map((n) => reading(n, 50_000, daysAgo(60))),
    );
    const cases = [
      { r: (n: number) => reading(n, 40_000), status: 'FLAGGED', codes: ['A40'] },
      { r: (n: number) => reading(n, 60_000, daysAgo(3), 'WASH'), status: 'REJECTED', codes: ['E19'] },
      { r: (n: number) => reading(n, 61_000), status: 'ACCEPTED', codes: [] },
    ];
    const inFile = await receiptIssues(
      'cases.csv',
      cases.map((c, i) => c.r(i + 1)),
    );
    for (const [i, c] of cases.entries()) {
      const id = await accepted(await postJson('/observations', c.r(i + 11)));
      const pending = await api.request(`/observations/${id}`, {}, GARAGE);
      expect(pending.status).toBe(200);
      expect(['PENDING', c.status]).toContain(((await pending.json()) as Observation).status);
      const o = await final(id);
      expect(o).toMatchObject({ id, status: c.status, sender: GARAGE.name, correctionOf: null });
      expect(o.reading).toEqual({ ...c.r(i + 11) });
      expect(o.issues.map((x) => x.code)).toEqual(c.codes);
      expect(o.issues.map(sameIssue)).toEqual(
        inFile(i + 2).map(({ line, reading: _r, ref: _ref, vin: _vin, ...rest }) => sameIssue(rest as Issue)),
      );
    }
  });

  test('a correction uses the error number once; a second one is refused with 409', async () => {
    const bad = await send(reading(21, 30_000, daysAgo(2), 'WASH'));
    expect(bad.status).toBe('REJECTED');
    const fixId = await accepted(await postJson(`/observations/${bad.id}/correction`, reading(21, 30_000, daysAgo(2), 'MAINT')));
    const fixed = await final(fixId);
    expect(fixed).toMatchObject({ status: 'ACCEPTED', issues: [], correctionOf: bad.id });
    expect(fixed.reading.corrects).toBe(bad.issues[0].errorNumber);
    const again = await problem(await postJson(`/observations/${bad.id}/correction`, reading(21, 30_001, daysAgo(2))), 409);
    expect(again.detail).toMatch(/used already/);
    // The same number named in a plain reading meets the pipeline's once-only rule, as in a file: E31.
    const e31 = await send({ ...reading(21, 30_002, daysAgo(2)), corrects: bad.issues[0].errorNumber });
    expect(e31).toMatchObject({ status: 'REJECTED', issues: [expect.objectContaining({ code: 'E31', correctable: false })] });
    const nothing = await problem(await postJson(`/observations/${fixed.id}/correction`, reading(21, 1, daysAgo(2))), 409);
    expect(nothing.detail).toMatch(/no error number/);
  });

  test('confirm leaves a flagged reading on the history, its anomaly confirmed; a second confirm is 409', async () => {
    await send(reading(31, 80_000, daysAgo(20)));
    const flagged = await send(reading(31, 70_000, daysAgo(4)));
    expect(flagged.status).toBe('FLAGGED');
    const a40 = flagged.issues.find((i) => i.code === 'A40')!;
    expect(a40.state).toBe('open');
    const res = await api.request(`/observations/${flagged.id}/confirm`, { method: 'POST' }, GARAGE);
    expect(res.status).toBe(200);
    const confirmed = (await res.json()) as Observation;
    expect(confirmed).toMatchObject({ id: flagged.id, status: 'FLAGGED' });
    expect(confirmed.issues.find((i) => i.code === 'A40')).toEqual({ ...a40, state: 'confirmed' });
    expect(((await final(flagged.id)).issues.find((i) => i.code === 'A40') ?? {}).state).toBe('confirmed');
    const twice = await problem(await api.request(`/observations/${flagged.id}/confirm`, { method: 'POST' }, GARAGE), 409);
    expect(twice.detail).toMatch(/no open anomaly/);
  });

  test("another garage's observation is not said to exist: 404 on every route", async () => {
    const mine = await send(reading(41, 10_000, daysAgo(2), 'WASH'));
    const theirs = await problem(await api.request(`/observations/${mine.id}`, {}, OTHER), 404);
    expect(theirs.detail).toContain(mine.id);
    await problem(await postJson(`/observations/${mine.id}/correction`, reading(41, 10_000, daysAgo(2)), OTHER), 404);
    await problem(await api.request(`/observations/${mine.id}/confirm`, { method: 'POST' }, OTHER), 404);
    await problem(await api.request('/observations/00000000-0000-4000-8000-000000000000', {}, GARAGE), 404);
    const sender = await problem(await postJson('/observations', { ...reading(42, 1), sender: GARAGE.name }, OTHER), 403);
    expect(sender.errors).toEqual([{ field: 'sender', message: expect.stringMatching(/may not send readings/) }]);
  });

  test('without the DMS headers, or with a body off its schema: 400 naming the field', async () => {
    const noHeaders = await problem(await postJson('/observations', reading(51, 1), GARAGE, {}, false), 400);
    expect(noHeaders.errors![0].field).toBe('client-software-builder');
    const get = await problem(await api.request('/observations/00000000-0000-4000-8000-000000000000', { dms: false }, GARAGE), 400);
    expect(get.errors![0].field).toBe('client-software-builder');
    const noDate = await problem(await postJson('/observations', { vin: vin(51), odometer: 1, unit: 'km', work: 'MAINT' }), 400);
    expect(noDate.errors).toEqual([{ field: 'date', message: expect.stringMatching(/required/) }]);
    const text = await problem(await postJson('/observations', { ...reading(51, 1), odometer: 'lots' }), 400);
    expect(text.errors).toEqual([{ field: 'odometer', message: expect.stringMatching(/integer/) }]);
    const unknown = await problem(await postJson('/observations', { ...reading(51, 1), odometre: 5 }), 400);
    expect(unknown.errors).toEqual([{ field: 'odometre', message: expect.stringMatching(/additional/) }]);
    const corrects = await problem(
      await postJson(`/observations/00000000-0000-4000-8000-000000000000/correction`, { ...reading(51, 1), corrects: '1' }),
      400,
    );
    expect(corrects.errors![0].field).toBe('corrects');
    const badId = await problem(await api.request('/observations/nope', {}, GARAGE), 400);
    expect(badId.errors![0].field).toBe('id');
    const longWait = await problem(await api.request('/observations/00000000-0000-4000-8000-000000000000?wait=61', {}, GARAGE), 400);
    expect(longWait.errors![0].field).toBe('wait');
  });
});
