/** The vehicle register extract in SQLite: what the registry knows of a vehicle besides its readings. */
import type Database from 'better-sqlite3';
import type { Db } from './db';
import type { Vehicle } from '../types';

interface VehicleRow {
  vin: string;
  plate: string | null;
  first_registration: string | null;
  imported: number;
  digits: number | null;
}

const toVehicle = (r: VehicleRow): Vehicle => ({
  vin: r.vin,
  plate: r.plate,
  firstRegistration: r.first_registration,
  imported: r.imported === 1,
  digits: r.digits,
});

/** Vehicle register statements. */
export class SqliteVehicles {
  private readonly byVinStmt: Database.Statement;
  private readonly byPlateStmt: Database.Statement;
  private readonly upsertStmt: Database.Statement;

  constructor(private readonly db: Db) {
    this.byVinStmt = db.prepare('SELECT * FROM vehicles WHERE vin = ?');
    // A plate moves between vehicles over the years; the most recently registered holder is the one meant.
    this.byPlateStmt = db.prepare('SELECT * FROM vehicles WHERE plate = ? ORDER BY first_registration DESC LIMIT 1');
    this.upsertStmt = db.prepare(
      `INSERT INTO vehicles (vin, plate, first_registration, imported, digits) VALUES (@vin, @plate, @firstRegistration, @imported, @digits)
       ON CONFLICT (vin) DO UPDATE SET plate = excluded.plate, first_registration = excluded.first_registration,
         imported = excluded.imported, digits = excluded.digits`,
    );
  }

  byVin(vin: string): Vehicle | null {
    const r = this.byVinStmt.get(vin) as VehicleRow | undefined;
    return r ? toVehicle(r) : null;
  }

  byPlate(plate: string): Vehicle | null {
    const r = this.byPlateStmt.get(plate) as VehicleRow | undefined;
    return r ? toVehicle(r) : null;
  }

  /** upsertMany inserts or replaces register entries; call inside a write transaction. */
  upsertMany(vehicles: Iterable<Vehicle>): number {
    let n = 0;
    for (const v of vehicles) {
      this.upsertStmt.run({ ...v, imported: v.imported ? 1 : 0 });
      n++;
    }
    return n;
  }

  /** any tells whether the register holds at least one vehicle. */
  any(): boolean {
    return this.db.prepare('SELECT 1 FROM vehicles LIMIT 1').get() !== undefined;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM vehicles').get() as { n: number }).n;
  }
}
