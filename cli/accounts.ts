/** `inflow accounts add|list|disable|passwd|set`. */
import type { Command } from 'commander';
import { ROLES, TLS_REUSE, type Role, type TlsReuse } from '../store';
import { isValidEstablishment } from '../rules/establishment';
import { hashPassword, randomPassword } from '../intake/passwords';
import { withDataDir, settingsFrom, openStoreFor, readStdin, audited } from './common';
import { UserError } from './exit';
import { layoutOf } from '../config/layout';
import { openStore } from '../store';

function checkEstablishment(s: string): string {
  if (!isValidEstablishment(s)) throw new UserError(`"${s}" is not a valid establishment number (10 digits, mod-97 check digits)`);
  return s;
}

async function passwordFrom(opts: { passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (!opts.passwordStdin) return { password: randomPassword(), generated: true };
  const password = await readStdin();
  if (password.length < 12) throw new UserError('password must be at least 12 characters');
  return { password, generated: false };
}

export function registerAccounts(program: Command): void {
  const accounts = program.command('accounts').description('manage establishment accounts');

  withDataDir(accounts.command('add <establishment>').description('add an account (prints a generated password unless --password-stdin)'))
    .requiredOption('--name <name>', 'establishment name')
    .option('--role <role>', ROLES.join(' | ') + ' (portal: an ad site, the label web service only)', 'garage')
    .option('--for <establishments>', 'fleet: comma-separated establishments it may send files for')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (establishment: string, opts) => {
      checkEstablishment(establishment);
      if (!ROLES.includes(opts.role as Role)) throw new UserError(`--role must be one of ${ROLES.join(', ')}`);
      const senders: string[] = opts.for
        ? String(opts.for)
            .split(',')
            .map((s: string) => checkEstablishment(s.trim()))
        : [];
      if (senders.length && opts.role !== 'fleet') throw new UserError('--for is only for fleet accounts');
      const settings = settingsFrom(opts);
      const layout = layoutOf(settings);
      const store = await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl }); // the first account may create the database
      try {
        const { password, generated } = await passwordFrom(opts);
        const a = await store.accounts.add({
          establishment,
          name: opts.name,
          role: opts.role,
          senders,
          passwordHash: await hashPassword(password),
        });
        await audited(store, 'admin', { action: 'accounts add', establishment, role: a.role });
        process.stdout.write(`added ${a.role} account ${a.establishment} (${a.name})\n`);
        if (generated) process.stdout.write(`password: ${password}\n`);
      } finally {
        await store.close();
      }
    });

  withDataDir(accounts.command('list').description('list accounts'))
    .option('--json', 'JSON output')
    .action(async (opts) => {
      const { store } = await openStoreFor(settingsFrom(opts));
      const rows = (await store.accounts.list()).map((a) => ({
        establishment: a.establishment,
        name: a.name,
        role: a.role,
        for: a.senders,
        disabled: a.disabled,
        tlsReuse: a.tlsReuse,
        createdAt: a.createdAt,
      }));
      await store.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(
        [
          'ESTABLISHMENT  ROLE    STATE     NAME',
          ...rows.map(
            (r) =>
              `${r.establishment.padEnd(13)}  ${r.role.padEnd(6)}  ${(r.disabled ? 'disabled' : 'active').padEnd(8)}  ${r.name}${r.for.length ? ' (for ' + r.for.join(',') + ')' : ''}${r.tlsReuse === 'optional' ? ' (TLS session reuse optional)' : ''}`,
          ),
        ].join('\n') + '\n',
      );
    });

  withDataDir(accounts.command('disable <id>').description('disable an account (its logins are refused)')).action(
    async (id: string, opts) => {
      const settings = settingsFrom(opts);
      const { store } = await openStoreFor(settings);
      const ok = await store.accounts.setDisabled(id, true);
      if (ok) await audited(store, 'admin', { action: 'accounts disable', establishment: id });
      await store.close();
      if (!ok) throw new UserError(`no account ${id}`);
      process.stdout.write(`disabled ${id}\n`);
    },
  );

  registerSet(accounts);

  withDataDir(accounts.command('passwd <id>').description('set a new password (generated unless --password-stdin)'))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (id: string, opts) => {
      const settings = settingsFrom(opts);
      const { store } = await openStoreFor(settings);
      try {
        if (!(await store.accounts.byEstablishment(id))) throw new UserError(`no account ${id}`);
        const { password, generated } = await passwordFrom(opts);
        await store.accounts.setPasswordHash(id, await hashPassword(password));
        await audited(store, 'admin', { action: 'accounts passwd', establishment: id });
        process.stdout.write(`password changed for ${id}\n`);
        if (generated) process.stdout.write(`password: ${password}\n`);
      } finally {
        await store.close();
      }
    });
}

/** `accounts set <id> --tls-reuse required|optional` (docs/ftps.md, "Data connections"). */
function registerSet(accounts: Command): void {
  withDataDir(accounts.command('set <id>').description("change an account's settings"))
    .requiredOption('--tls-reuse <mode>', "required | optional: must its data connections resume the control connection's TLS session")
    .action(async (id: string, opts) => {
      const tlsReuse = opts.tlsReuse as TlsReuse;
      if (!TLS_REUSE.includes(tlsReuse)) throw new UserError(`--tls-reuse must be one of ${TLS_REUSE.join(', ')}, got "${opts.tlsReuse}"`);
      const settings = settingsFrom(opts);
      const { store } = await openStoreFor(settings);
      const ok = await store.accounts.setTlsReuse(id, tlsReuse);
      if (ok) await audited(store, 'admin', { action: 'accounts set', establishment: id, tlsReuse });
      await store.close();
      if (!ok) throw new UserError(`no account ${id}`);
      process.stdout.write(`TLS session reuse ${tlsReuse} for ${id}\n`);
    });
}
