/**
 * Deciding a login, FTPS or HTTPS (docs/ftps.md, "Logins and lockout"): TLS first, the attempt reserved against the lockout
 * before any password is checked, then one bounded password check, the same for every username (an unknown one is
 * checked against a stand-in hash), and only then: a known, enabled account of an allowed role with the right password.
 * Every refusal is audited, with the username cut to USERNAME_AUDIT_CHARS.
 */
import type { Store, Account, Role } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { LoginGuard } from './login-guard';
import { STAND_IN_HASH, type PasswordChecks } from './passwords';

export class LoginRefusedError extends Error {
  readonly code = 'LOGIN_REFUSED';
}

/** Longest username written to the audit log: an establishment number has 10 digits; 8 KB names must not flood it. */
export const USERNAME_AUDIT_CHARS = 64;

/** auditedUsername: the username as the audit log keeps it, with its full length when it was cut. */
export function auditedUsername(username: string): { username: string; usernameLength?: number } {
  if (username.length <= USERNAME_AUDIT_CHARS) return { username };
  return { username: username.slice(0, USERNAME_AUDIT_CHARS), usernameLength: username.length };
}

/** auditLoginWithoutTls audits a USER or PASS sent before AUTH TLS (the protocol adapter answers it). */
export function auditLoginWithoutTls(audit: AuditLog, login: { username?: string; ip: string; command: string }): void {
  const who = login.username === undefined ? {} : auditedUsername(login.username);
  audit.write('login_refused', { ...who, ip: login.ip, reason: 'no TLS', command: login.command });
}

/**
 * refuseWhileLocked refuses a login taken without a password check (HTTPS remembers a verified one for a while:
 * http/verified-logins.ts) while a lock it falls under holds, as a checked login would be.
 */
export function refuseWhileLocked(deps: { guard: LoginGuard; audit: AuditLog }, login: { username: string; ip: string }): void {
  const who = auditedUsername(login.username);
  const locked = deps.guard.lockedFor(who.username, login.ip);
  if (locked) refuseLocked(deps.audit, who, login.ip, locked);
}

function refuseLocked(audit: AuditLog, who: ReturnType<typeof auditedUsername>, ip: string, key: string): never {
  audit.write('login_refused', { ...who, ip, reason: 'locked', key });
  throw new LoginRefusedError('Too many failed logins: try again later');
}

/** The roles that may log in over FTPS: the senders of files. */
export const FTPS_ROLES: readonly Role[] = ['garage', 'fleet'];

/**
 * authenticate returns the account, or throws LoginRefusedError with the text the client sees. An account whose
 * role is not in `roles` is refused like a wrong password (and counts as a failure), so the refusal tells nothing.
 */
export async function authenticate(
  deps: { store: Store; guard: LoginGuard; checks: PasswordChecks; audit: AuditLog },
  login: { username: string; password: string; ip: string; secure: boolean; roles: readonly Role[] },
): Promise<Account> {
  const { store, guard, checks, audit } = deps;
  const { ip } = login;
  const who = auditedUsername(login.username);
  if (!login.secure) {
    audit.write('login_refused', { ...who, ip, reason: 'no TLS' });
    throw new LoginRefusedError('AUTH TLS required before login');
  }
  // Lock-out keys use the cut name too: a longer one cannot be an account, and must not fill memory.
  const reservation = guard.reserve(who.username, ip);
  if (!reservation.attempt) refuseLocked(audit, who, ip, reservation.locked);
  const attempt = reservation.attempt;
  let account: Account | null;
  try {
    account = await store.accounts.byEstablishment(login.username);
  } catch (err) {
    attempt.cancel();
    throw err;
  }
  const check = checks.check(login.password, account?.passwordHash ?? STAND_IN_HASH, attempt.knownIp);
  if (!check) {
    attempt.cancel();
    audit.write('login_refused', { ...who, ip, reason: 'busy', ...checks.load() });
    throw new LoginRefusedError('Too many logins at once: try again later');
  }
  const { match, waitedMs } = await check;
  const refusal = !account
    ? 'unknown user'
    : account.disabled
      ? 'disabled'
      : !login.roles.includes(account.role)
        ? `${account.role} account`
        : null;
  if (!account || refusal || !match) {
    const locked = attempt.fail();
    audit.write('login_failed', { ...who, ip, reason: refusal ?? 'bad credentials', knownIp: attempt.knownIp, waitedMs, locked });
    throw new LoginRefusedError('Login incorrect');
  }
  attempt.succeed();
  audit.write('login', { ...who, ip, knownIp: attempt.knownIp, waitedMs });
  return account;
}
