/** The built `inflow` CLI as an admin's script calls it: exit codes, one-line errors, JSON outputs (docs/cli.md). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, daysAgo, vin } from './helpers/batch';

const BIN = path.join(__dirname, '..', 'bin', 'inflow.js');

function inflow(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '', ...opts.env },
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('inflow accounts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-cli-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('adds a garage with a password from stdin and lists it as JSON', () => {
    const add = inflow(['accounts', 'add', '2123456692', '--name', 'Garage Dupont', '--password-stdin', '--data-dir', dir], {
      input: 'a password of some length\n',
    });
    expect(add.err).toBe('');
    expect(add.code).toBe(0);
    expect(add.out).not.toContain('password:');
    const list = inflow(['accounts', 'list', '--json', '--data-dir', dir]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([
      expect.objectContaining({ establishment: '2123456692', name: 'Garage Dupont', role: 'garage', disabled: false }),
    ]);
    const db = fs.readFileSync(path.join(dir, 'inflow.db'));
    expect(db.includes(Buffer.from('a password of some length'))).toBe(false);
  });

  it('adds a fleet account with the establishments it sends for, and prints a generated password', () => {
    const add = inflow([
      'accounts',
      'add',
      '2345678942',
      '--name',
      'Fleet',
      '--role',
      'fleet',
      '--for',
      '2200000085,2000000141',
      '--data-dir',
      dir,
    ]);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^password: \S{20}$/m);
    const list = JSON.parse(inflow(['accounts', 'list', '--json', '--data-dir', dir]).out);
    expect(list.find((a: any) => a.establishment === '2345678942').for).toEqual(['2200000085', '2000000141']);
  });

  it('refuses a bad establishment number with one line and exit 1', () => {
    const r = inflow(['accounts', 'add', '2123456693', '--name', 'X', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('not a valid establishment number');
  });

  it('refuses a second account for the same establishment with exit 1', () => {
    const r = inflow(['accounts', 'add', '2123456692', '--name', 'Again', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already exists/);
    expect(r.err).not.toMatch(/\s+at /); // no stack trace
  });

  it('disables an account', () => {
    expect(inflow(['accounts', 'disable', '2123456692', '--data-dir', dir]).code).toBe(0);
    const list = JSON.parse(inflow(['accounts', 'list', '--json', '--data-dir', dir]).out);
    expect(list.find((a: any) => a.establishment === '2123456692').disabled).toBe(true);
    expect(inflow(['accounts', 'disable', '2000000141', '--data-dir', dir]).code).toBe(1);
  });

  it('exits 2 on usage errors and 0 on --help', () => {
    expect(inflow(['accounts', 'add']).code).toBe(2);
    expect(inflow(['no-such-command']).code).toBe(2);
    expect(inflow(['files', 'list', '--bogus']).code).toBe(2);
    const help = inflow(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('serve');
  });
});

describe('inflow files and receipt', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
    await svc.addAccount('2123456692', 'a password of some length');
  });
  afterAll(async () => svc?.teardown());

  it('lists, shows and prints the receipt of a processed file', async () => {
    const c = await svc.connect('2123456692', 'a password of some length');
    await c.uploadFrom(
      Readable.from([Buffer.from(csvBatch('2123456692', [{ vin: vin(1) }, { vin: vin(2), work: 'NOPE' }], { trailer: true }))]),
      'n1.csv',
    );
    const receipt = await waitForReceipt(c, 'n1.csv.receipt.csv');
    c.close();
    const env = { INFLOW_DATA_DIR: svc.dir };

    const list = inflow(['files', 'list', '--json'], { env });
    expect(list.code).toBe(0);
    const files = JSON.parse(list.out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({
      account: '2123456692',
      name: 'n1.csv',
      status: 'done',
      records: 2,
      accepted: 1,
      rejected: 1,
      anomalies: 0,
      warnings: 0,
    });
    expect(files[0].id).toMatch(/^F\d{6}$/);
    expect(files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof files[0].receivedAt).toBe('string');

    const show = JSON.parse(inflow(['files', 'show', files[0].id, '--json'], { env }).out);
    expect(show).toMatchObject({ id: files[0].id, attempts: 1, error: null });
    expect(fs.existsSync(show.receipt)).toBe(true);

    const printed = inflow(['receipt', files[0].id], { env });
    expect(printed.code).toBe(0);
    expect(printed.out).toBe(receipt);

    expect(JSON.parse(inflow(['files', 'list', '--json', '--status', 'failed'], { env }).out)).toEqual([]);
    expect(inflow(['files', 'show', 'F999999'], { env }).code).toBe(1);
  });
});

describe('inflow vehicles import and inflow history', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
    await svc.addAccount('2123456692', 'a password of some length');
  });
  afterAll(async () => svc?.teardown());

  it('imports a register extract, all or nothing', async () => {
    const env = { INFLOW_DATA_DIR: svc.dir };
    const good = path.join(svc.dir, 'reg.csv');
    fs.writeFileSync(good, `vin;plate;first_registration;imported;digits\n${vin(1)};1-ABC-001;2020-01-15;N;\n${vin(2)};;2019-05-01;Y;5\n`);
    const r = inflow(['vehicles', 'import', good], { env });
    expect(r.err).toBe('');
    expect(r.out).toContain('imported 2 vehicles');
    expect(await svc.store.vehicles.byPlate('1ABC001')).toMatchObject({ vin: vin(1), firstRegistration: '2020-01-15', imported: false });

    const bad = path.join(svc.dir, 'bad.csv');
    fs.writeFileSync(bad, `vin;plate;first_registration;imported;digits\n${vin(3)};;2020-01-15;N;\n NOT-A-VIN;;2020-13-01;N;\n`);
    const b = inflow(['vehicles', 'import', bad], { env });
    expect(b.code).toBe(1);
    expect(b.err).toContain('line 3');
    expect(await svc.store.vehicles.byVin(vin(3))).toBeNull();
  });

  it('prints a timeline with flags, as a table and as JSON', async () => {
    const c = await svc.connect('2123456692', 'a password of some length');
    const send = async (name: string, rec: object) => {
      await c.uploadFrom(Readable.from([Buffer.from(csvBatch('2123456692', [{ vin: vin(1), ...rec }], { trailer: true }))]), name);
      await waitForReceipt(c, `${name}.receipt.csv`);
    };
    await send('h1.csv', { date: daysAgo(3), odometer: 50000 });
    await send('h2.csv', { date: daysAgo(2), odometer: 40000, ref: 'WO-77' });
    c.close();
    const env = { INFLOW_DATA_DIR: svc.dir };
    const j = inflow(['history', vin(1).toLowerCase(), '--json'], { env });
    expect(j.code).toBe(0);
    const h = JSON.parse(j.out);
    expect(h.vin).toBe(vin(1));
    expect(h.readings).toEqual([
      expect.objectContaining({
        date: daysAgo(3),
        odometer: 50000,
        unit: 'km',
        km: 50000,
        sender: '2123456692',
        line: 2,
        work: 'MAINT',
        replaced: false,
        status: 'ok',
        issues: [],
      }),
      expect.objectContaining({
        date: daysAgo(2),
        odometer: 40000,
        status: 'flagged',
        ref: 'WO-77',
        issues: [{ code: 'A40', errorNumber: expect.stringMatching(/^\d{12}$/), corrected: false, state: 'open' }],
      }),
    ]);
    expect(h.readings[0].fileId).toMatch(/^F\d{6}$/);
    const t = inflow(['history', vin(1)], { env });
    expect(t.out).toContain('flagged');
    expect(t.out).toContain('A40 ' + h.readings[1].issues[0].errorNumber + ' (open)');
    expect(inflow(['history', vin(999)], { env }).code).toBe(1);
  });
});
