/**
 * Who may call the web services (docs/web-services.md): HTTP Basic with the FTPS accounts and the same lockout
 * counters, the roles (portal only the label; a garage only its own files), the DMS headers, problem+json answers
 * (never a stack trace), and one audit event per request. Real HTTPS requests against a running service.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startTestService, type TestService } from './helpers/service';
import { apiOf, DMS_HEADERS, type Api } from './helpers/https';
import { establishment } from './helpers/fleet-files';
import { waitFor } from './helpers/wait';
import { hashPassword } from '../intake/passwords';

const PASSWORD = 'correct horse battery';
const FIXTURE_SENDER = '2123456692';
const GARAGE = { name: FIXTURE_SENDER, password: PASSWORD };
const OTHER_GARAGE = { name: establishment('21600002'), password: PASSWORD };
const FLEET = { name: establishment('21600003'), password: PASSWORD };
const ADMIN = { name: establishment('21600004'), password: PASSWORD };
const PORTAL = { name: establishment('21600005'), password: PASSWORD };
const LOCKED_OVER_HTTPS = establishment('21600006');
const LOCKED_OVER_FTPS = establishment('21600007');

let svc: TestService;
let api: Api;
let garageFile: string;

beforeAll(async () => {
  svc = await startTestService({ loginMaxFailures: 3 });
  await svc.addAccount(GARAGE.name, PASSWORD);
  await svc.addAccount(OTHER_GARAGE.name, PASSWORD);
  await svc.addAccount(FLEET.name, PASSWORD, 'fleet', [GARAGE.name]);
  await svc.addAccount(ADMIN.name, PASSWORD, 'admin');
  await svc.addAccount(PORTAL.name, PASSWORD, 'portal');
  await svc.addAccount(LOCKED_OVER_HTTPS, PASSWORD);
  await svc.addAccount(LOCKED_OVER_FTPS, PASSWORD);
  api = apiOf(svc.httpPort!, svc.tlsCert);
  const put = await api.request(
    '/files/valid-3-readings.csv',
    { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: fs.readFileSync('fixtures/valid-3-readings.csv') },
    GARAGE,
  );
  expect(put.status).toBe(202);
  garageFile = ((await put.json()) as { fileId: string }).fileId;
});
afterAll(async () => {
  await api?.close();
  await svc?.teardown();
});

async function problem(res: Awaited<ReturnType<Api['request']>>, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: { field: string; message: string }[];
  };
  expect(body).toMatchObject({ status, type: `urn:odo-inflow:problem:${status}` });
  expect(typeof body.title).toBe('string');
  expect(body.detail.length).toBeGreaterThan(0);
  return body;
}

describe('logging in', () => {
  test('without credentials, or with a wrong password: 401 with a Basic challenge', async () => {
    const none = await api.request('/files');
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="odo-inflow", charset="UTF-8"');
    await problem(none, 401);
    const wrong = await api.request('/files', {}, { name: OTHER_GARAGE.name, password: 'not the password' });
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await problem(wrong, 401)).detail).toBe('Login incorrect');
  });

  test('failures over HTTPS lock the account for FTPS too', async () => {
    for (let i = 0; i < 3; i++) await problem(await api.request('/files', {}, { name: LOCKED_OVER_HTTPS, password: 'wrong' + i }), 401);
    const right = await api.request('/files', {}, { name: LOCKED_OVER_HTTPS, password: PASSWORD });
    expect((await problem(right, 401)).detail).toMatch(/Too many failed logins/);
    await expect(svc.connect(LOCKED_OVER_HTTPS, PASSWORD)).rejects.toThrow(/530/);
  });

  test('failures over FTPS lock the account for HTTPS too', async () => {
    for (let i = 0; i < 3; i++) await expect(svc.connect(LOCKED_OVER_FTPS, 'wrong' + i)).rejects.toThrow(/530/);
    const right = await api.request('/files', {}, { name: LOCKED_OVER_FTPS, password: PASSWORD });
    expect((await problem(right, 401)).detail).toMatch(/Too many failed logins/);
  });

  test('a lock holds for a login remembered from before it, as for any other', async () => {
    const user = { name: establishment('21600009'), password: PASSWORD };
    await svc.addAccount(user.name, PASSWORD);
    expect((await api.request('/activities', {}, user)).status).toBe(200); // checked, then remembered
    for (let i = 0; i < 3; i++) await problem(await api.request('/activities', {}, { name: user.name, password: 'wrong' + i }), 401);
    expect((await problem(await api.request('/activities', {}, user), 401)).detail).toMatch(/Too many failed logins/);
  });

  test('a changed password or a disabled account takes effect at once, however recent the last login', async () => {
    const user = { name: establishment('21600008'), password: PASSWORD };
    await svc.addAccount(user.name, PASSWORD);
    expect((await api.request('/activities', {}, user)).status).toBe(200);
    expect((await api.request('/activities', {}, user)).status).toBe(200);
    await svc.store.accounts.setPasswordHash(user.name, await hashPassword('a new password 123'));
    expect((await problem(await api.request('/activities', {}, user), 401)).detail).toBe('Login incorrect');
    const renewed = { name: user.name, password: 'a new password 123' };
    expect((await api.request('/activities', {}, renewed)).status).toBe(200);
    await svc.store.accounts.setDisabled(user.name, true);
    await problem(await api.request('/activities', {}, renewed), 401);
  });

  test('admin and portal accounts may use HTTPS but not FTPS', async () => {
    expect((await api.request('/files', {}, ADMIN)).status).toBe(200);
    await expect(svc.connect(PORTAL.name, PASSWORD)).rejects.toThrow(/530/);
    await expect(svc.connect(ADMIN.name, PASSWORD)).rejects.toThrow(/530/);
  });
});

describe('roles', () => {
  const label = '/vehicles/WVWZZZ1JZXW000001/label?mileage=200000&date=2026-12-01';

  test('a portal account may only ask for labels', async () => {
    expect((await api.request(label, {}, PORTAL)).status).toBe(200);
    const files = await problem(await api.request('/files', {}, PORTAL), 403);
    expect(files.detail).toMatch(/portal account may not call GET \/api\/v1\/files/);
    await problem(await api.request('/activities', {}, PORTAL), 403);
    await problem(await api.request(`/files/${garageFile}/receipt`, {}, PORTAL), 403);
  });

  test('garage and fleet accounts may not ask for labels; admin may', async () => {
    await problem(await api.request(label, {}, GARAGE), 403);
    await problem(await api.request(label, {}, FLEET), 403);
    expect((await api.request(label, {}, ADMIN)).status).toBe(200);
  });

  test('a garage sees its own files only; its fleet and the admin see them too', async () => {
    const ids = async (user: typeof GARAGE) =>
      ((await (await api.request('/files', {}, user)).json()) as { id: string }[]).map((f) => f.id);
    expect(await ids(GARAGE)).toEqual([garageFile]);
    expect(await ids(OTHER_GARAGE)).toEqual([]);
    expect(await ids(FLEET)).toEqual([garageFile]);
    expect(await ids(ADMIN)).toContain(garageFile);
    await problem(await api.request(`/files/${garageFile}`, {}, OTHER_GARAGE), 404);
    await problem(await api.request(`/files/${garageFile}/receipt`, {}, OTHER_GARAGE), 404);
    expect((await api.request(`/files/${garageFile}`, {}, FLEET)).status).toBe(200);
  });
});

describe('the DMS headers', () => {
  test.each(Object.keys(DMS_HEADERS))('a file route without %s: 400 naming it', async (missing) => {
    const headers = Object.fromEntries(Object.entries(DMS_HEADERS).filter(([k]) => k !== missing));
    const res = await api.request('/files', { dms: false, headers }, GARAGE);
    const body = await problem(res, 400);
    expect(body.errors).toEqual([{ field: missing, message: expect.stringContaining(missing) }]);
  });

  test('an empty one is refused too; the label route does not need them', async () => {
    const res = await api.request('/files', { headers: { 'client-software-version': '' } }, GARAGE);
    expect((await problem(res, 400)).errors![0].field).toBe('client-software-version');
    expect((await api.request('/vehicles/WVWZZZ1JZXW000001/label?mileage=1', { dms: false }, PORTAL)).status).toBe(200);
  });
});

describe('answers', () => {
  test('schema violations name the field at fault', async () => {
    const body = await problem(await api.request('/vehicles/WVWZZZ1JZXW000001/label?mileage=lots', {}, PORTAL), 400);
    expect(body.errors).toEqual([{ field: 'mileage', message: expect.stringMatching(/query parameter must be integer/) }]);
    const vin = await problem(await api.request('/vehicles/NOTAVIN/label?mileage=1', {}, PORTAL), 400);
    expect(vin.errors![0].field).toBe('vin');
    const date = await problem(await api.request('/vehicles/WVWZZZ1JZXW000001/label?mileage=1&date=2026-02-30', {}, PORTAL), 400);
    expect(date.errors).toEqual([{ field: 'date', message: 'not a calendar date' }]);
    const status = await problem(await api.request('/files?status=lost', {}, GARAGE), 400);
    expect(status.errors![0]).toEqual({ field: 'status', message: expect.stringContaining('received, queued, processing, done, failed') });
  });

  test('unknown routes: 404 problem', async () => {
    await problem(await api.request('/nothing-here', {}, GARAGE), 404);
  });

  test('every request is audited with the account, route, status and DMS headers', async () => {
    await api.request(`/files/${garageFile}`, { headers: { 'client-software-version': '9.9-audit' } }, GARAGE);
    await api.request('/files', {}, PORTAL);
    await svc.audit.flush();
    const rows = await svc.store.audit.list({ event: 'http_request' });
    const fields = rows.map((r) => r.fields);
    expect(fields).toContainEqual(
      expect.objectContaining({
        account: GARAGE.name,
        method: 'GET',
        route: '/api/v1/files/:fileId',
        path: `/api/v1/files/${garageFile}`,
        status: 200,
        client: { builder: DMS_HEADERS['client-software-builder'], name: DMS_HEADERS['client-software-name'], version: '9.9-audit' },
      }),
    );
    expect(fields).toContainEqual(expect.objectContaining({ account: PORTAL.name, route: '/api/v1/files', status: 403 }));
    expect(fields).toContainEqual(expect.objectContaining({ account: null, route: '/api/v1/files', status: 401 }));
    expect(fields).toContainEqual(
      expect.objectContaining({ method: 'PUT', route: '/api/v1/files/:name', status: 202, account: GARAGE.name }),
    );
  });

  test('an internal error is a 500 problem without a stack trace or the error text, and is audited', async () => {
    // A real failure of the database under a running service: its files table is gone for a moment.
    const db = new Database(path.join(svc.dir, 'inflow.db'));
    db.exec('ALTER TABLE files RENAME TO files_away');
    try {
      const res = await api.request('/files', {}, ADMIN);
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(JSON.parse(text)).toEqual({
        type: 'urn:odo-inflow:problem:500',
        title: 'Internal Server Error',
        status: 500,
        detail: 'Internal error: the request was not carried out; it has been logged',
      });
      expect(text).not.toMatch(/files|Sqlite|at .*\.ts|no such table/i);
    } finally {
      db.exec('ALTER TABLE files_away RENAME TO files');
      db.close();
    }
    await waitFor('the internal error in the audit trail', async () => {
      await svc.audit.flush();
      const rows = await svc.store.audit.list({ event: 'internal_error' });
      return rows.find((r) => r.fields.via === 'https' && /no such table/.test(String(r.fields.error)));
    });
    expect((await api.request('/files', {}, ADMIN)).status).toBe(200);
  });
});
