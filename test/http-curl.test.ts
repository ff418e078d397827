/**
 * A DMS's script with curl against `inflow serve` as a user starts it: PUT a batch file over HTTPS (the service's
 * certificate trusted with --cacert, nothing insecure) and GET its receipt, CSV and JSON. The receipt is the one FTPS
 * serves for the same file.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './helpers/ftp-clients';
import { parseReceipt } from './helpers/receipt';
import { curlReceipt, demoAccess, spawnServe } from './helpers/serve-process';
import { waitFor } from './helpers/wait';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'mixed-valid-and-invalid.csv');
let dir: string;
let child: ChildProcess;
let base: string;
let cacert: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-http-curl-'));
  const serve = await spawnServe(dir);
  child = serve.child;
  base = /HTTPS: +(https:\/\/127\.0\.0\.1:\d+\/api\/v1)/.exec(serve.out())![1];
  cacert = path.join(dir, 'var', 'tls', 'cert.pem');
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** curl runs curl against the web services as the demo account, trusting the service's certificate. */
function curl(args: string[]) {
  const { user, password } = demoAccess(dir);
  const dms = ['client-software-builder: Acme', 'client-software-name: AcmeDMS', 'client-software-version: 4.2'].flatMap((h) => ['-H', h]);
  return run('curl', ['--silent', '--show-error', '--cacert', cacert, '--user', `${user}:${password}`, ...dms, ...args]);
}

test('curl PUTs a file and GETs its receipt; it is the receipt FTPS gives', async () => {
  const put = await curl(['--write-out', '\n%{http_code}', '-T', FIXTURE, '-H', 'Content-Type: text/csv', `${base}/files/night.csv`]);
  expect(put.code).toBe(0);
  const [body, status] = put.stdout.trim().split('\n');
  expect(status).toBe('202');
  const { fileId, receiptUrl } = JSON.parse(body) as { fileId: string; receiptUrl: string };
  const receiptAt = base.replace(/\/api\/v1$/, '') + receiptUrl;

  const csv = await waitFor('the receipt over HTTPS', async () => {
    const r = await curl(['--fail', '-H', 'Accept: text/csv', receiptAt]);
    return r.code === 0 ? r.stdout : null;
  });
  const receipt = parseReceipt(csv);
  expect(receipt).toMatchObject({ fileId, name: 'night.csv', status: 'PARTIAL' });

  const overFtps = await curlReceipt(demoAccess(dir), 'night.csv', path.join(dir, 'ftps-receipt.csv'));
  expect(overFtps).toBe(csv);

  const json = await curl(['--fail', '-H', 'Accept: application/json', receiptAt]);
  expect(json.code).toBe(0);
  const parsed = JSON.parse(json.stdout) as { header: { fileId: string; status: string }; issues: unknown[] };
  expect(parsed.header).toMatchObject({ fileId, status: 'PARTIAL' });
  expect(parsed.issues).toHaveLength(receipt.issues.length);
});
