/** The vehicle register extract in PostgreSQL; a register import goes in with COPY. */
import { inTx, type Pool, type Queryable } from './db';
import { copyRows } from './copy';
import type { Vehicle } from '../types';

interface VehicleRow {
  vin: string;
  plate: string | null;
  first_registration: string | null;
  imported: boolean;
  digits: number | null;
}

export const toVehicle = (r: VehicleRow): Vehicle => ({
  vin: r.vin,
  plate: r.plate,
  firstRegistration: r.first_registration,
  imported: r.imported,
  digits: r.digits,
});

/** A plate moves between vehicles over the years; the most recently registered holder is the one meant. */
export const BY_PLATE =
  'SELECT DISTINCT ON (plate) * FROM vehicles WHERE plate = ANY($1) ORDER BY plate, first_registration DESC NULLS LAST';

export class PgVehicles {
  constructor(private readonly db: Queryable) {}

  async byVin(vin: string): Promise<Vehicle | null> {
    const r = (await this.db.query<VehicleRow>('SELECT * FROM vehicles WHERE vin = $1', [vin])).rows[0];
    return r ? toVehicle(r) : null;
  }

  async byPlate(plate: string): Promise<Vehicle | null> {
    const r = (await this.db.query<VehicleRow>(BY_PLATE, [[plate]])).rows[0];
    return r ? toVehicle(r) : null;
  }

  async count(): Promise<number> {
    return (await this.db.query<{ n: number }>('SELECT count(*)::bigint AS n FROM vehicles')).rows[0].n;
  }

  /**
   * upsertMany streams the entries into a temporary table with COPY, then merges them in one statement; all or
   * none. An entry given twice: the last one counts (as one upsert after the other would leave it).
   */
  async upsertMany(pool: Pool, vehicles: Iterable<Vehicle>): Promise<number> {
    return inTx(pool, async (c) => {
      await c.query(
        `CREATE TEMP TABLE vehicles_in (n bigint, vin text, plate text, first_registration text, imported boolean, digits smallint)
         ON COMMIT DROP`,
      );
      let n = 0;
      const rows = function* () {
        for (const v of vehicles) yield [++n, v.vin, v.plate, v.firstRegistration, v.imported, v.digits];
      };
      await copyRows(c, 'vehicles_in', 'n, vin, plate, first_registration, imported, digits', rows());
      await c.query(
        `INSERT INTO vehicles (vin, plate, first_registration, imported, digits)
         SELECT DISTINCT ON (vin) vin, plate, first_registration, imported, digits FROM vehicles_in ORDER BY vin, n DESC
         ON CONFLICT (vin) DO UPDATE SET plate = excluded.plate, first_registration = excluded.first_registration,
           imported = excluded.imported, digits = excluded.digits`,
      );
      return n;
    });
  }
}
