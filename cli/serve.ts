/** `inflow serve`: the FTPS front, the HTTPS web services, N workers and the reconciler, on the embedded defaults. */
import type { Command } from 'commander';
import { withDataDir, withFilesDir, withRedis, settingsFrom, intOption, onStopSignal } from './common';
import { UserError } from './exit';
import { DEFAULTS, type Settings } from '../config/defaults';
import { redactRedisUrl } from '../config/redis-url';
import { redactDatabaseUrl } from '../config/database-url';

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('start the FTPS server, the HTTPS web services and the workers');
  withDataDir(cmd);
  withFilesDir(cmd);
  withRedis(cmd);
  cmd
    .option('--ftp-host <host>', 'FTPS listen address (default 127.0.0.1)')
    .option('--ftp-port <port>', 'FTPS control port (default 2121)', intOption('--ftp-port'))
    .option('--pasv-range <a-b>', 'passive data port range (default 50000-50100)')
    .option('--pasv-url <host>', 'address announced in PASV replies (default: --ftp-host)')
    .option('--workers <n>', 'worker processes (default 1; 0 = FTPS front only)', intOption('--workers'))
    .option('--tls-cert <file>', 'TLS certificate (PEM); default: self-signed in <data-dir>/tls')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--http-host <host>', 'HTTPS web services listen address (default 127.0.0.1)')
    .option('--http-port <port>', 'HTTPS web services port (default 8443; 0: any free port)', intOption('--http-port'))
    .option('--no-http', 'do not start the HTTPS web services')
    .option('--no-demo', 'do not create the demo account on first start')
    .action(async (opts) => {
      let pasvMin: number | undefined;
      let pasvMax: number | undefined;
      if (opts.pasvRange) {
        const m = /^(\d+)-(\d+)$/.exec(opts.pasvRange);
        if (!m) throw new UserError(`--pasv-range must look like 50000-50100, got "${opts.pasvRange}"`);
        pasvMin = Number(m[1]);
        pasvMax = Number(m[2]);
      }
      const settings = settingsFrom(opts, {
        ftpHost: opts.ftpHost,
        ftpPort: opts.ftpPort,
        pasvMin,
        pasvMax,
        pasvUrl: opts.pasvUrl,
        workers: opts.workers,
        tlsCert: opts.tlsCert,
        tlsKey: opts.tlsKey,
        httpHost: opts.httpHost,
        httpPort: opts.httpPort,
        ...limitSettings(opts),
      });
      // Loaded here, not at the top: ftp-srv and the certificate maker stay out of `inflow worker` and the other
      // commands (issue #4: a worker's memory).
      const { startService } = await import('../app/service');
      const svc = await startService({ settings, demo: opts.demo !== false, http: opts.http !== false });
      const out = [
        'odo-inflow is serving',
        `  data dir: ${svc.layout.root}`,
        `  files:    ${svc.layout.filesRoot}`,
        `  database: ${settings.databaseUrl ? redactDatabaseUrl(settings.databaseUrl) : svc.layout.db + ' (SQLite)'}`,
        `  FTPS:     ftp://${settings.ftpHost}:${svc.ftpPort} (explicit FTPS, TLS 1.2+), passive ports ${settings.pasvMin}-${settings.pasvMax}`,
        `  HTTPS:    ${svc.httpPort === null ? 'off (--no-http)' : `https://${settings.httpHost}:${svc.httpPort}/api/v1 (web services, docs/web-services.md)`}`,
        `  Redis:    ${redactRedisUrl(svc.redisUrl)}${settings.redisUrl ? '' : ' (private redis-server, data in ' + svc.layout.redisDir + ')'}`,
        `  workers:  ${settings.workers}`,
        '  audit:    in the database (`inflow audit`)',
      ];
      if (svc.demo) out.push('', svc.demo.text.trimEnd(), `  (also written to ${svc.layout.demoAccountFile})`);
      out.push('', 'Ctrl-C stops it.');
      process.stdout.write(out.join('\n') + '\n');
      onStopSignal((sig) => {
        process.stdout.write(`${sig}: stopping (uploads and files in progress get ${Math.round(settings.shutdownGraceMs / 1000)} s)…\n`);
        return svc.stop();
      });
    });
  withLimitFlags(cmd);
}

/** The FTPS front's limits that `serve` takes as flags: each flag is its setting's name (commander camel-cases it). */
const LIMIT_FLAGS: [keyof Settings, string, string][] = [
  ['maxConnectionsPerIp', '--max-connections-per-ip <n>', 'control connections per IP address'],
  ['maxConnectionsPerAccount', '--max-connections-per-account <n>', 'logged-in connections per account'],
  ['loginTimeoutMs', '--login-timeout-ms <ms>', 'time to log in after connecting'],
  ['maxCommandsBeforeLogin', '--max-commands-before-login <n>', 'commands allowed before login'],
  ['heldFileMaxAgeMs', '--held-file-max-age-ms <ms>', 'held files are deleted this long after their last write'],
  ['heldBytesPerAccount', '--held-bytes-per-account <bytes>', 'bytes of held files per account'],
];

function withLimitFlags(cmd: Command): void {
  for (const [key, flag, what] of LIMIT_FLAGS) {
    cmd.option(flag, `${what} (default ${DEFAULTS[key]}; 0: off)`, intOption(flag.split(' ')[0]));
  }
}

function limitSettings(opts: Record<string, unknown>): Partial<Settings> {
  return Object.fromEntries(LIMIT_FLAGS.map(([key]) => [key, opts[key]]));
}
