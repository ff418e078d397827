/** Importing a vehicle register extract: all rows are checked first, then upserted in batches (all or nothing on bad rows). */
import type { Store } from '../store';
import { readRegisterCsv } from '../parsers/register-csv';
import { checkRegisterRow, REGISTER_COLUMNS, type RegisterEntry } from '../rules/register-row';

export class RegisterFileError extends Error {
  readonly code = 'BAD_REGISTER_FILE';
  constructor(readonly problems: string[]) {
    super(`the register file has ${problems.length} bad row(s); nothing was imported. ${problems.slice(0, 5).join('; ')}`);
  }
}

async function* entries(file: string, problems: string[] | null): AsyncIterable<RegisterEntry> {
  let first = true;
  for await (const row of readRegisterCsv(file)) {
    if (first) {
      first = false;
      const header = row.fields.map((f) => f.trim().toLowerCase());
      if (header.join(';') !== REGISTER_COLUMNS.join(';')) {
        throw new RegisterFileError([`line 1: the header must be ${REGISTER_COLUMNS.join(';')}`]);
      }
      continue;
    }
    const r = checkRegisterRow(row.fields);
    if ('error' in r) problems?.push(`line ${row.line}: ${r.error}`);
    else yield r.entry;
  }
}

/** importRegister upserts every row of `file` into the register; returns how many rows. */
export async function importRegister(store: Store, file: string, batchSize = 10_000): Promise<number> {
  const problems: string[] = [];
  for await (const _ of entries(file, problems)); // first pass: check everything
  if (problems.length) throw new RegisterFileError(problems);
  let n = 0;
  let batch: RegisterEntry[] = [];
  for await (const e of entries(file, null)) {
    batch.push(e);
    if (batch.length >= batchSize) {
      n += await store.vehicles.upsertMany(batch);
      batch = [];
    }
  }
  n += await store.vehicles.upsertMany(batch);
  return n;
}
