/** The server's TLS certificate: the configured one, or a self-signed pair made once in the data directory. */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/layout';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** True when this call generated a new self-signed pair. */
  generated: boolean;
}

/** loadOrCreateTls reads the given PEM files, or the pair in `tlsDir`, creating it on first use. */
export async function loadOrCreateTls(
  tlsDir: string,
  certFile: string | null,
  keyFile: string | null,
  hostnames: string[] = [],
): Promise<TlsMaterial> {
  if (certFile && keyFile) {
    return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), generated: false };
  }
  const certPath = path.join(tlsDir, 'cert.pem');
  const keyPath = path.join(tlsDir, 'key.pem');
  if (fs.existsSync(certPath) && fs.existsSync(keyPath)) {
    return { cert: fs.readFileSync(certPath, 'utf8'), key: fs.readFileSync(keyPath, 'utf8'), generated: false };
  }
  const names = Array.from(new Set(['localhost', ...hostnames.filter((h) => h && !/^[\d.:]+$/.test(h))]));
  const ips = Array.from(new Set(['127.0.0.1', '::1', ...hostnames.filter((h) => /^[\d.:]+$/.test(h) && h !== '0.0.0.0')]));
  const pems = await generate([{ name: 'commonName', value: 'odo-inflow' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...names.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  fs.mkdirSync(tlsDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  fs.writeFileSync(keyPath, pems.private, { mode: PRIVATE_FILE_MODE });
  fs.writeFileSync(certPath, pems.cert, { mode: PRIVATE_FILE_MODE }); // public, but like everything in the data dir

  return { cert: pems.cert, key: pems.private, generated: true };
}
