/** What the web services use of the service: the same store, intake, audit trail and login guard as FTPS. */
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Store } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { Intake } from '../intake/intake';
import type { LoginGuard } from '../intake/login-guard';
import type { PasswordChecks } from '../intake/passwords';
import type { ObservationDesk } from '../intake/observation-desk';

export interface HttpDeps {
  settings: Settings;
  layout: DataLayout;
  store: Store;
  intake: Pick<Intake, 'takeIn'>;
  audit: AuditLog;
  /** The lockout counters FTPS uses too. */
  guard: LoginGuard;
  /** The password checks' slots, shared with FTPS. */
  checks: PasswordChecks;
  /** Readings sent one at a time (docs/observations.md). */
  observations: ObservationDesk;
}
