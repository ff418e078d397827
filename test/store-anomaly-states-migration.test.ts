/**
 * Migration 6 gives the anomalies of a database made before anomaly states existed the state their history shows:
 * corrected when their reading was superseded, confirmed when the record that spent the number was a W51 repeat,
 * else open (a number spent by a rejected record, or never used).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../store/sqlite/migrations';
import { openStore } from '../store';

it('derives the states of existing anomalies', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-migration-7-'));
  const file = path.join(dir, 'inflow.db');
  const db = new Database(file);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const step of MIGRATIONS.filter((m) => m.version <= 5)) {
    db.exec(step.sql);
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(step.version);
  }
  const V = 'TSTVNZZZ000000001';
  const seq = (file: number, line: number) => file * 100_000_000 + line;
  const reading = db.prepare('INSERT INTO readings VALUES (?, 20000, ?, 1000, 0, 0, 0, NULL, ?, 2123456692, NULL, NULL, NULL)');
  const issue = db.prepare(
    `INSERT INTO issues (id, file_id, line, code, severity, field, message, vin, correctable, corrected_by) VALUES (?, ?, ?, ?, ?, 'f', 'm', ?, 1, ?)`,
  );
  reading.run(V, seq(1, 2), 3); // superseded by the correction at file 2 line 2
  issue.run(1, 1, 2, 'A40', 'A', V, seq(2, 2));
  reading.run(V, seq(1, 3), 1); // its correction (file 2 line 3) repeated it: W51
  issue.run(2, 1, 3, 'A40', 'A', V, seq(2, 3));
  issue.run(3, 2, 3, 'W51', 'W', V, null);
  reading.run(V, seq(1, 4), 1); // its correction (file 2 line 4) was rejected: E19
  issue.run(4, 1, 4, 'A40', 'A', V, seq(2, 4));
  issue.run(5, 2, 4, 'E19', 'E', V, null);
  reading.run(V, seq(1, 5), 1); // never corrected
  issue.run(6, 1, 5, 'A42', 'A', V, null);
  db.close();

  const store = await openStore({ sqlite: file });
  try {
    const states = await Promise.all([1, 2, 3, 4, 5, 6].map(async (id) => (await store.issues.get(id))!.state));
    expect(states).toEqual(['corrected', 'confirmed', null, 'open', null, 'open']);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
