/** Deciding an FTPS login: TLS first, not locked out, a known enabled garage or fleet account, right password. */
import type { Store, Account } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { LoginGuard } from './login-guard';
import { verifyPassword } from './passwords';

export class LoginRefusedError extends Error {
  readonly code = 'LOGIN_REFUSED';
}

/** authenticate returns the account, or throws LoginRefusedError with the text the client sees. */
export async function authenticate(
  deps: { store: Store; guard: LoginGuard; audit: AuditLog },
  login: { username: string; password: string; ip: string; secure: boolean },
): Promise<Account> {
  const { store, guard, audit } = deps;
  const { username, ip } = login;
  if (!login.secure) {
    audit.write('login_refused', { username, ip, reason: 'no TLS' });
    throw new LoginRefusedError('AUTH TLS required before login');
  }
  const locked = guard.lockedKey(username, ip);
  if (locked) {
    audit.write('login_refused', { username, ip, reason: 'locked', key: locked });
    throw new LoginRefusedError('Too many failed logins: try again later');
  }
  const account = await store.accounts.byEstablishment(username);
  const ok =
    account !== null && !account.disabled && account.role !== 'admin' && (await verifyPassword(login.password, account.passwordHash));
  if (!ok) {
    const newlyLocked = guard.fail(username, ip);
    audit.write('login_failed', { username, ip, reason: account?.disabled ? 'disabled' : 'bad credentials', locked: newlyLocked });
    throw new LoginRefusedError('Login incorrect');
  }
  guard.succeed(username);
  audit.write('login', { username, ip });
  return account!;
}
