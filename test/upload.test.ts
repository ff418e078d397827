/**
 * `inflow upload` (the DMS's nightly uploader) against the real service, spawned from the build: explicit FTPS with
 * a trusted certificate only, `.part` then rename, retry of a dropped transfer with the file processed once,
 * `--wait` for the receipt and its exit codes (0 ACCEPTED/PARTIAL, 3 REJECTED/DUPLICATE, 4 no receipt), progress.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestService, type TestService } from './helpers/service';
import { csvBatch, daysAgo, vin, type R } from './helpers/batch';
import { run } from './helpers/ftp-clients';
import { startDropProxy, type DropProxy } from './helpers/drop-proxy';
import { consoleReporter, progressLine } from '../uploader/uploader';
import { loadOrCreateTls } from '../app/tls-cert';
import { parseReceiptText, exitCodeOf } from '../uploader/receipt-summary';
import { auditEvents } from './helpers/ops';

const BIN = path.join(__dirname, '..', 'bin', 'inflow.js');
const GARAGE = '2123456692';
const PW = 'nightly dms password 42';

describe('inflow upload', () => {
  let svc: TestService;
  let proxy: DropProxy;
  let work: string;
  let ca: string;

  beforeAll(async () => {
    // PASV replies announce the proxy's address; the certificate then names it too (EPSV reuses the control host).
    svc = await startTestService({ pasvUrl: '127.0.0.2' });
    await svc.addAccount(GARAGE, PW);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-upload-'));
    ca = path.join(work, 'registry.pem');
    fs.writeFileSync(ca, svc.tlsCert);
    proxy = await startDropProxy({
      serverHost: '127.0.0.1',
      controlPort: svc.ftpPort,
      pasvMin: svc.settings.pasvMin,
      pasvMax: svc.settings.pasvMax,
      drop: { afterBytes: 65_536, count: 1 },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await svc?.teardown();
    fs.rmSync(work, { recursive: true, force: true });
  });

  function file(name: string, body: string): string {
    const p = path.join(work, name);
    fs.writeFileSync(p, body);
    return p;
  }

  async function upload(args: string[], o: { host?: string; port?: number; env?: NodeJS.ProcessEnv } = {}) {
    const r = await run(
      process.execPath,
      [
        BIN,
        'upload',
        ...args,
        '--host',
        o.host ?? '127.0.0.1',
        '--port',
        String(o.port ?? svc.ftpPort),
        '--user',
        GARAGE,
        '--poll',
        '200',
        '--backoff',
        '200',
      ],
      { env: { INFLOW_PASSWORD: PW, ...o.env }, timeoutMs: 60_000 },
    );
    expect(r.stdout + r.stderr).not.toContain(PW); // the password never appears in the output
    return r;
  }

  const filesNamed = async (name: string) => (await svc.store.files.list()).filter((f) => f.name === name);
  const dropZone = () => fs.readdirSync(svc.layout.dropDir(GARAGE)).filter((n) => !n.startsWith('.'));

  it('uploads as .part, renames, waits for the receipt and prints its summary (exit 0)', async () => {
    const f = file(
      'nightly.csv',
      csvBatch(GARAGE, [
        { ref: 'WO-1', vin: vin(8001), date: daysAgo(2), odometer: 12_000 },
        { ref: 'WO-2', vin: vin(8002), date: daysAgo(2), odometer: '12.5' },
      ]),
    );
    const r = await upload([f, '--ca', ca, '--wait']);
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toMatch(/^nightly\.csv: PARTIAL \(file F\d{6}\) records 2, accepted 1, rejected 1, anomalies 0, warnings 0$/);
    expect(out[1]).toMatch(
      /^ {2}line 3 {2}E14 E {2}\d{12} {2}TSTVNZZZ000008002 {2}odometer {2}The odometer value "12\.5" is not a whole number/,
    );
    expect(out).toHaveLength(2);
    expect(r.stderr).toMatch(/nightly\.csv: sent \d+ bytes .* renamed from nightly\.csv\.part/);
    expect(await filesNamed('nightly.csv')).toHaveLength(1);
    expect(dropZone()).toEqual([]); // nothing held: the .part was renamed and taken in
    const audit = await auditEvents(svc);
    expect(audit).toContainEqual(expect.objectContaining({ event: 'held', name: 'nightly.csv.part' }));
    expect(JSON.stringify(audit)).not.toContain(PW);
  });

  it("tells a new receipt from last night's of the same name: the same content again is DUPLICATE (exit 3)", async () => {
    const r = await upload([path.join(work, 'nightly.csv'), '--ca', ca, '--wait']);
    expect(r.stdout).toMatch(/^nightly\.csv: DUPLICATE \(file F\d{6}\)/);
    expect(r.code).toBe(3);
  });

  it('exits 3 for a REJECTED file, with the file-level issue', async () => {
    const f = file('wrong-sender.csv', csvBatch('2000000141', [{ vin: vin(8003), date: daysAgo(2) }]));
    const r = await upload([f, '--ca', ca, '--wait']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^wrong-sender\.csv: REJECTED \(file F\d{6}\) records/);
    expect(r.stdout).toMatch(/^ {2}line 1 {2}F03 F {2}- /m);
  });

  it('retries a transfer cut mid-way; the file is taken in and processed exactly once', async () => {
    const records: R[] = Array.from({ length: 4000 }, (_, i) => ({
      ref: `WO-${i}`,
      vin: vin(100_000 + i),
      date: daysAgo(2),
      odometer: 5_000 + i,
    }));
    const f = file('big-night.csv', csvBatch(GARAGE, records, { trailer: true }));
    expect(fs.statSync(f).size).toBeGreaterThan(3 * 65_536);
    const r = await upload([f, '--ca', ca, '--wait'], { host: proxy.host });
    expect(proxy.stats.dropped).toBe(1);
    expect(r.stderr).toMatch(/big-night\.csv: attempt 1 failed \(.+\); retrying in 0\.2 s/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(
      /^big-night\.csv: ACCEPTED \(file F\d{6}\) records 4000, accepted 4000, rejected 0, anomalies 0, warnings 0$/,
    );
    const files = await filesNamed('big-night.csv');
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ status: 'done', result: 'ACCEPTED', records: 4000 });
    expect(await svc.store.readings.forFile(files[0].pk)).toHaveLength(4000);
    expect(fs.readdirSync(svc.layout.receiptsDir(GARAGE)).filter((n) => n.startsWith('big-night'))).toEqual(['big-night.csv.receipt.csv']);
    expect(dropZone()).toEqual([]);
  });

  it('refuses a server whose certificate is not trusted, unless --ca or --insecure is given', async () => {
    const f = file('cert-check.csv', csvBatch(GARAGE, [{ vin: vin(8004), date: daysAgo(2) }]));
    const refused = await upload([f, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the server's certificate is not trusted (self-signed certificate)");
    expect(refused.stderr).not.toContain('retrying'); // not a transient failure
    expect(await filesNamed('cert-check.csv')).toHaveLength(0);

    const other = await loadOrCreateTls(path.join(work, 'other-tls'), null, null, ['127.0.0.1']);
    const otherCa = file('other.pem', other.cert);
    const wrongCa = await upload([f, '--ca', otherCa]);
    expect(wrongCa.code).toBe(1); // a certificate, but not the server's
    expect(wrongCa.stderr).toContain("the server's certificate is not trusted");
    expect((await upload([f, '--ca', file('junk.pem', 'not a certificate\n')])).code).toBe(1);

    const insecure = await upload([f, '--insecure', '--wait']);
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toMatch(/^cert-check\.csv: ACCEPTED/);
    expect(await filesNamed('cert-check.csv')).toHaveLength(1);
    expect((await upload([f, '--ca', ca, '--insecure'])).code).toBe(2); // one or the other
  });

  it('needs the password in the environment variable it names', async () => {
    const f = file('no-password.csv', csvBatch(GARAGE, [{ vin: vin(8005), date: daysAgo(2) }]));
    const r = await upload([f, '--ca', ca, '--password-env', 'DMS_FTPS_SECRET']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('inflow: no password: set the environment variable DMS_FTPS_SECRET (or name another with --password-env)');
    const ok = await upload([f, '--ca', ca, '--password-env', 'DMS_FTPS_SECRET'], { env: { DMS_FTPS_SECRET: PW, INFLOW_PASSWORD: '' } });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe('no-password.csv: uploaded');
    const wrong = await upload([f, '--ca', ca], { env: { INFLOW_PASSWORD: 'not the password at all' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/login refused by the server/);
    expect(wrong.stderr).not.toContain('not the password at all');
  });

  it('uploads several files in turn and exits with the worst code', async () => {
    const good = file('multi-a.csv', csvBatch(GARAGE, [{ vin: vin(8006), date: daysAgo(2) }]));
    const bad = file('multi-b.csv', 'this is not an INFLOW file\n');
    const r = await upload([good, bad, '--ca', ca, '--wait']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^multi-a\.csv: ACCEPTED/m);
    expect(r.stdout).toMatch(/^multi-b\.csv: REJECTED/m);
  });

  it('shows a progress bar on a terminal', async () => {
    const f = file('tty.csv', csvBatch(GARAGE, [{ vin: vin(8007), date: daysAgo(2) }]));
    // `script` gives the uploader a pseudo-terminal; the password stays in the environment.
    const cmd = [process.execPath, BIN, 'upload', f, '--host', '127.0.0.1', '--port', String(svc.ftpPort), '--user', GARAGE, '--ca', ca]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    const r = await run('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env: { INFLOW_PASSWORD: PW } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Ktty\.csv \[#{24}\] 100% /);
    expect(r.stdout).not.toContain(PW);
  });
});

describe('inflow upload --wait when no receipt comes', () => {
  let svc: TestService;
  let work: string;
  beforeAll(async () => {
    svc = await startTestService({ workers: 0 }); // the FTPS front only: files are queued, never processed
    await svc.addAccount(GARAGE, PW);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-upload-'));
  });
  afterAll(async () => {
    await svc.teardown();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('exits 4 after --timeout', async () => {
    const f = path.join(work, 'late.csv');
    fs.writeFileSync(f, csvBatch(GARAGE, [{ vin: vin(8101), date: daysAgo(2) }]));
    const r = await run(
      process.execPath,
      [
        BIN,
        'upload',
        f,
        '--host',
        '127.0.0.1',
        '--port',
        String(svc.ftpPort),
        '--user',
        GARAGE,
        '--insecure',
        '--wait',
        '--timeout',
        '2',
        '--poll',
        '200',
      ],
      { env: { INFLOW_PASSWORD: PW } },
    );
    expect(r.stdout.trim()).toBe('late.csv: no receipt within 2 s');
    expect(r.code).toBe(4);
    expect((await svc.store.files.list()).filter((x) => x.name === 'late.csv')).toHaveLength(1);
  });
});

describe('uploader progress and receipt reading', () => {
  it('redraws the bar on a terminal at most 10 times a second, and always at 100%', () => {
    let t = 0;
    const writes: string[] = [];
    const rep = consoleReporter({ isTTY: true, write: (s: string) => writes.push(s) }, () => t);
    for (t = 1000; t < 2000; t += 10) rep.progress({ name: 'x.csv', bytes: (t - 1000) * 1000, total: 1_000_000, startedAt: 1000 });
    const draws = writes.filter((w) => w.startsWith('\r'));
    expect(draws.length).toBeGreaterThanOrEqual(9);
    expect(draws.length).toBeLessThanOrEqual(10);
    rep.progress({ name: 'x.csv', bytes: 1_000_000, total: 1_000_000, startedAt: 1000 });
    expect(writes[writes.length - 1]).toContain('100%');
    rep.endProgress();
    expect(writes[writes.length - 1]).toBe('\n');
  });

  it('writes plain timestamped lines, progress at most every 5 s, when not on a terminal', () => {
    let t = Date.parse('2026-11-25T22:00:00Z');
    const start = t;
    const writes: string[] = [];
    const rep = consoleReporter({ isTTY: false, write: (s: string) => writes.push(s) }, () => t);
    rep.log('x.csv: 1000 bytes');
    for (; t < start + 12_000; t += 500) rep.progress({ name: 'x.csv', bytes: t - start, total: 20_000, startedAt: start });
    expect(writes).toEqual([
      '2026-11-25T22:00:00.000Z x.csv: 1000 bytes\n',
      '2026-11-25T22:00:05.000Z x.csv  25% 4.9 KiB/19.5 KiB 1000 B/s ETA 0:15\n',
      '2026-11-25T22:00:10.000Z x.csv  50% 9.8 KiB/19.5 KiB 1000 B/s ETA 0:10\n',
    ]);
    expect(writes.join('')).not.toContain('\r');
  });

  it('renders bytes, rate and ETA', () => {
    expect(progressLine({ name: 'n.csv', bytes: 512 * 1024, total: 1024 * 1024, startedAt: 0 }, 2000, 10)).toBe(
      'n.csv [#####-----]  50% 512.0 KiB/1.0 MiB 256.0 KiB/s ETA 0:02',
    );
  });

  it('reads CSV and XML receipts alike, and maps their status to the exit code', () => {
    const csv =
      'H;INFLOW-RECEIPT;1;F000007;a.csv;abc;r;p;PARTIAL;2;1;1;0;0\nI;100000000756;3;WO-2;TSTVNZZZ000008002;E14;E;odometer;Y;"bad; value"\nT;1\n';
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<receipt format="INFLOW-RECEIPT" version="1" fileId="F000007" name="a.xml" sha256="abc" received="r" processed="p" status="REJECTED" records="0" accepted="0" rejected="0" anomalies="0" warnings="0">\n  <issue line="1" code="F05" severity="F" field="file" correctable="N">Not well-formed &amp; refused</issue>\n  <trailer count="1"/>\n</receipt>\n';
    expect(parseReceiptText(csv)).toMatchObject({
      fileId: 'F000007',
      status: 'PARTIAL',
      rejected: 1,
      issues: [{ line: 3, code: 'E14', message: 'bad; value' }],
    });
    expect(parseReceiptText(xml)).toMatchObject({
      status: 'REJECTED',
      issues: [{ line: 1, code: 'F05', errorNumber: '', message: 'Not well-formed & refused' }],
    });
    expect(() => parseReceiptText('H;INFLOW-RECEIPT;1;F000007')).toThrow();
    expect(['ACCEPTED', 'PARTIAL', 'REJECTED', 'DUPLICATE'].map(exitCodeOf)).toEqual([0, 0, 3, 3]);
  });
});
