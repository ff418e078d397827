/**
 * `inflow upload <file...> --host H [--port P] --user U [--password-env VAR] [--ca FILE | --insecure] [--wait]`:
 * the uploader a DMS calls at night. Exit codes: 0 uploaded (with --wait: ACCEPTED or PARTIAL), 1 an upload failed,
 * 3 REJECTED (or DUPLICATE: nothing of the file was taken in), 4 no receipt within --timeout. With several files,
 * each goes in turn and the exit code is the worst (1 > 4 > 3 > 0).
 */
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { Uploader } from '../uploader/uploader';
import { intOption } from './common';
import { UserError } from './exit';

const SEVERITY = [0, 3, 4, 1]; // order of the exit codes from best to worst
const worst = (a: number, b: number) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a);

export function registerUpload(program: Command): void {
  program
    .command('upload <file...>')
    .description('upload batch files over explicit FTPS (as <name>.part, renamed when complete); --wait for the receipts')
    .requiredOption('--host <host>', 'registry FTPS host')
    .option('--port <port>', 'FTPS control port', intOption('--port'), 21)
    .requiredOption('--user <establishment>', 'login: the establishment number')
    .option('--password-env <var>', 'environment variable holding the password', 'INFLOW_PASSWORD')
    .addOption(new Option('--ca <file>', "PEM certificate to trust (the registry's certificate or its CA)").conflicts('insecure'))
    .addOption(new Option('--insecure', "do not check the server's certificate").conflicts('ca'))
    .option('--retries <n>', 'retries of a failed transfer, with back-off', intOption('--retries'), 3)
    .option('--backoff <ms>', 'first back-off delay, doubled for each retry', intOption('--backoff'), 2000)
    .option('--wait', 'wait for each receipt and print its summary; exit 3 when REJECTED, 4 when none came')
    .option('--timeout <seconds>', 'how long --wait waits for the receipts', intOption('--timeout'), 600)
    .option('--poll <ms>', 'how often --wait looks in /receipts/', intOption('--poll'), 2000)
    .action(async (files: string[], opts) => {
      const password = process.env[opts.passwordEnv];
      if (!password)
        throw new UserError(`no password: set the environment variable ${opts.passwordEnv} (or name another with --password-env)`);
      let ca: string | undefined;
      if (opts.ca) {
        try {
          ca = fs.readFileSync(opts.ca, 'utf8');
        } catch {
          throw new UserError(`cannot read --ca ${opts.ca}`);
        }
        if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UserError(`--ca ${opts.ca} is not a PEM certificate`);
      }
      // Loaded here, not at the top: every `inflow` process (a worker too) would otherwise carry basic-ftp and
      // the receipt parsers in memory.
      const { Uploader, consoleReporter, describeError } = await import('../uploader/uploader');
      const { EXIT_NO_RECEIPT, exitCodeOf, summaryText } = await import('../uploader/receipt-summary');
      const reporter = consoleReporter(process.stderr);
      const uploader = new Uploader(
        {
          host: opts.host,
          port: opts.port,
          user: opts.user,
          password,
          ca,
          insecure: !!opts.insecure,
          retries: opts.retries,
          backoffMs: opts.backoff,
          socketTimeoutMs: 30_000,
          pollMs: opts.poll,
          waitTimeoutMs: opts.timeout * 1000,
        },
        reporter,
      );
      let code = 0;
      const uploaded: Awaited<ReturnType<Uploader['upload']>>[] = [];
      for (const file of files) {
        try {
          uploaded.push(await uploader.upload(file));
        } catch (err) {
          process.stderr.write(`inflow: ${describeError(err)}\n`);
          code = worst(code, 1);
        }
      }
      if (opts.wait && uploaded.length) {
        try {
          const receipts = await uploader.waitForReceipts(uploaded);
          for (const u of uploaded) {
            const r = receipts.get(u.name);
            if (!r) {
              process.stdout.write(`${u.name}: no receipt within ${opts.timeout} s\n`);
              code = worst(code, EXIT_NO_RECEIPT);
              continue;
            }
            process.stdout.write(summaryText(r.summary, r.path));
            code = worst(code, exitCodeOf(r.summary.status));
          }
        } catch (err) {
          process.stderr.write(`inflow: ${describeError(err)}\n`);
          code = worst(code, 1);
        }
      } else {
        for (const u of uploaded) process.stdout.write(`${u.name}: uploaded\n`);
      }
      process.exitCode = code;
    });
}
