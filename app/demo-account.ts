/** The demo account made on a first start, so a new operator can upload a fixture within a minute. */
import fs from 'node:fs';
import type { Store } from '../store';
import { hashPassword, randomPassword } from '../intake/passwords';

/** The fixtures in fixtures/ are sent by this establishment, so they can be uploaded with the demo login as they are. */
export const DEMO_ESTABLISHMENT = '2123456692';

export interface DemoLogin {
  user: string;
  password: string;
  text: string;
}

/** createDemoAccount makes the demo garage with a random password and writes the login to `file` (mode 600). */
export async function createDemoAccount(store: Store, file: string, ftp: { host: string; port: number }): Promise<DemoLogin> {
  const password = randomPassword();
  await store.accounts.add({
    establishment: DEMO_ESTABLISHMENT,
    name: 'Demo Garage',
    role: 'garage',
    passwordHash: await hashPassword(password),
  });
  const host = ftp.host === '0.0.0.0' ? '127.0.0.1' : ftp.host;
  const url = `ftp://${host}:${ftp.port}`;
  const text = [
    'odo-inflow demo account (made on first start; remove with `inflow accounts disable ' + DEMO_ESTABLISHMENT + '`)',
    `  FTPS:     ${url}  (explicit FTPS, AUTH TLS; self-signed certificate)`,
    `  user:     ${DEMO_ESTABLISHMENT}`,
    `  password: ${password}`,
    '  upload:   curl --ssl-reqd -k --user ' + `${DEMO_ESTABLISHMENT}:${password} -T fixtures/valid-3-readings.csv ${url}/`,
    '  receipt:  curl --ssl-reqd -k --user ' + `${DEMO_ESTABLISHMENT}:${password} ${url}/receipts/valid-3-readings.csv.receipt.csv`,
    '',
  ].join('\n');
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { user: DEMO_ESTABLISHMENT, password, text };
}
