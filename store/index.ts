/** The storage interface: typed functions over SQLite; no SQL outside this folder. */
import { openDb, writeTx, Db, OpenOptions } from './db';
import { Accounts } from './accounts';
import { Files } from './files';
import { Readings, seqOf } from './readings';
import { Issues } from './issues';
import { Vehicles } from './vehicles';
import { Reports } from './reports';

export { writeTx } from './db';
export type { Db } from './db';
export * from './accounts';
export * from './files';
export * from './readings';
export * from './issues';
export * from './vehicles';
export * from './reports';

/** Store bundles the query classes over one connection. */
export class Store {
  readonly accounts: Accounts;
  readonly files: Files;
  readonly readings: Readings;
  readonly issues: Issues;
  readonly vehicles: Vehicles;
  readonly reports: Reports;

  private constructor(readonly db: Db) {
    this.accounts = new Accounts(db);
    this.files = new Files(db);
    this.readings = new Readings(db);
    this.issues = new Issues(db);
    this.vehicles = new Vehicles(db);
    this.reports = new Reports(db);
  }

  /** open opens the database file, migrating it if needed. */
  static open(file: string, opts: OpenOptions = {}): Store {
    return new Store(openDb(file, opts));
  }

  /**
   * discardStored removes everything an unfinished file stored (`inflow files abandon`): its readings, its issues
   * and the corrections its records made; its progress goes back to 0. Call inside a write transaction; the order
   * matters (readings first: they find the issues they corrected).
   */
  discardStored(filePk: number): { readings: number; issues: number } {
    const readings = this.readings.discardFile(filePk);
    const issues = this.issues.discardFile(filePk, seqOf(filePk, 0), seqOf(filePk + 1, 0) - 1);
    this.files.resetProgress(filePk);
    return { readings, issues };
  }

  /**
   * begin opens an IMMEDIATE write transaction that stays open across awaits, until commit or rollback. Only for a
   * connection nothing else uses meanwhile: whatever runs on it in between joins the transaction.
   */
  begin(): { commit(): void; rollback(): void } {
    this.db.exec('BEGIN IMMEDIATE');
    return {
      commit: () => this.db.exec('COMMIT'),
      rollback: () => {
        if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
      },
    };
  }

  /** tx runs fn in one IMMEDIATE write transaction. */
  tx<T>(fn: () => T): T {
    return writeTx(this.db, fn);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
