/**
 * Numbered schema migrations. The `schema_version` table holds the last one applied; each runs once, in order,
 * in its own transaction. Append new steps; never edit an applied one.
 */
export interface Migration {
  version: number;
  sql: string;
  /** The step drops and recreates a table: it runs with foreign keys off, checked before it commits (db.ts). */
  rebuildsTable?: boolean;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE accounts (
  id            INTEGER PRIMARY KEY,
  establishment TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('garage', 'fleet', 'admin')),
  senders       TEXT NOT NULL DEFAULT '[]',       -- JSON: establishments a fleet account may send for
  password_hash TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL
);
CREATE TABLE files (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- file id shown as F000123
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  name          TEXT NOT NULL,                      -- name the sender gave it
  stored_path   TEXT NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT NOT NULL,
  format        TEXT,
  status        TEXT NOT NULL,                      -- received | queued | processing | done | failed
  result        TEXT,                               -- ACCEPTED | PARTIAL | REJECTED | DUPLICATE
  duplicate_of  INTEGER,
  received_at   TEXT NOT NULL,
  processed_at  TEXT,
  progress_line INTEGER NOT NULL DEFAULT 0,         -- last line whose batch is committed (resume point)
  records       INTEGER,
  accepted      INTEGER,
  rejected      INTEGER,
  anomalies     INTEGER,
  warnings      INTEGER,
  attempts      INTEGER NOT NULL DEFAULT 0,
  error         TEXT,
  receipt_path  TEXT
);
CREATE INDEX files_account_sha ON files (account_id, sha256);
CREATE INDEX files_status ON files (status);
-- Clustered by vehicle then date, so the neighbour lookups and the insert touch the same pages.
CREATE TABLE readings (
  vin       TEXT NOT NULL,
  date      TEXT NOT NULL,
  seq       INTEGER NOT NULL,                       -- reception order: file id * 1e8 + line
  odometer  INTEGER NOT NULL,
  unit      TEXT NOT NULL,
  km        INTEGER NOT NULL,
  work      TEXT NOT NULL,
  replaced  INTEGER NOT NULL,
  digits    INTEGER,
  sender    TEXT NOT NULL,
  file_id   INTEGER NOT NULL,
  line      INTEGER NOT NULL,
  ref       TEXT,
  plate     TEXT,
  status    TEXT NOT NULL DEFAULT 'ok',             -- ok | flagged | corrected | superseded
  PRIMARY KEY (vin, date, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX readings_source ON readings (file_id, line);
CREATE TABLE issues (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,    -- error number = formatErrorNumber(id) for E and A issues
  file_id     INTEGER NOT NULL,
  line        INTEGER NOT NULL,
  code        TEXT NOT NULL,
  severity    TEXT NOT NULL,
  field       TEXT NOT NULL,
  message     TEXT NOT NULL,
  ref         TEXT,
  vin         TEXT,
  correctable INTEGER NOT NULL,
  corrected_by INTEGER,
  UNIQUE (file_id, line, code, field)
);
`,
  },
  {
    version: 2,
    sql: `
-- The vehicle register extract (inflow vehicles import): plate look-up, first registration, import flag, 5 digits.
CREATE TABLE vehicles (
  vin                TEXT PRIMARY KEY,
  plate              TEXT,
  first_registration TEXT,
  imported           INTEGER NOT NULL DEFAULT 0,
  digits             INTEGER
) WITHOUT ROWID;
CREATE INDEX vehicles_plate ON vehicles (plate);
-- The establishment in the file's header (a fleet account sends for several).
ALTER TABLE files ADD COLUMN sender TEXT;
-- The issue a reading corrects (docs/corrections.md), and readings by source line for the history view.
ALTER TABLE readings ADD COLUMN corrects INTEGER;
`,
  },
  {
    version: 3,
    sql: `
-- Compact readings (issue #4: a nightly file of 1,000,000 readings touches pages at random; half the row size is
-- half the pages). Dates become day numbers, codes small integers, sender an integer; file and line are the seq.
CREATE TABLE readings_v3 (
  vin      TEXT NOT NULL,
  day      INTEGER NOT NULL,                        -- days since 1970-01-01
  seq      INTEGER NOT NULL,                        -- reception order: file id * 1e8 + line
  odometer INTEGER NOT NULL,                        -- as on the dashboard, in unit
  unit     INTEGER NOT NULL,                        -- 0 km, 1 mi
  work     INTEGER NOT NULL,                        -- index in WORK_TYPES
  replaced INTEGER NOT NULL,                        -- 0 / 1
  digits   INTEGER,                                 -- 5 for a 5-digit meter
  status   INTEGER NOT NULL,                        -- 0 ok, 1 flagged, 2 corrected, 3 superseded
  sender   INTEGER NOT NULL,                        -- establishment number
  ref      TEXT,
  plate    TEXT,
  corrects INTEGER,                                 -- id of the issue this reading corrects
  PRIMARY KEY (vin, day, seq)
) WITHOUT ROWID;
INSERT INTO readings_v3
  SELECT vin, CAST(julianday(date) - 2440587.5 AS INTEGER), seq, odometer, unit = 'mi',
    CASE work WHEN 'MAINT' THEN 0 WHEN 'REPAIR' THEN 1 WHEN 'BODY' THEN 2 WHEN 'TYRES' THEN 3 WHEN 'PARTS' THEN 4
      WHEN 'INSPECT' THEN 5 WHEN 'ODOREP' THEN 6 ELSE 7 END,
    replaced, digits,
    CASE status WHEN 'ok' THEN 0 WHEN 'flagged' THEN 1 WHEN 'corrected' THEN 2 ELSE 3 END,
    CAST(sender AS INTEGER), ref, plate, corrects
  FROM readings;
DROP TABLE readings;
ALTER TABLE readings_v3 RENAME TO readings;
`,
  },
  {
    version: 4,
    sql: `
-- A file's records are stored as they are checked, before its file-level checks have decided (they read the whole
-- file): until it passes, no other file's checks and no query see them, and a file that fails has them deleted.
-- The vehicles a file stored readings of before it passed are listed, one row per batch, so that they are found by
-- the clustered key (an index of every reading by file cost each insert ~15%); the list goes when the file passes.
ALTER TABLE files ADD COLUMN passed INTEGER NOT NULL DEFAULT 0;
UPDATE files SET passed = 1 WHERE progress_line > 0 OR result IN ('ACCEPTED', 'PARTIAL');
CREATE INDEX files_not_passed ON files (id) WHERE passed = 0;
CREATE TABLE pending_batches (
  file_id   INTEGER NOT NULL,
  last_line INTEGER NOT NULL,
  vins      BLOB NOT NULL,                          -- the batch's VINs, each a length byte and its bytes
  PRIMARY KEY (file_id, last_line)
) WITHOUT ROWID;
`,
  },
  {
    version: 5,
    sql: `
-- Whether the account's FTPS data connections must resume their control connection's TLS session (store/types.ts).
ALTER TABLE accounts ADD COLUMN tls_reuse TEXT NOT NULL DEFAULT 'required' CHECK (tls_reuse IN ('required', 'optional'));
`,
  },
  {
    version: 6,
    sql: `
-- An XML record is keyed by its position among the file's records (line); the line its element starts on is kept
-- here for the receipt. NULL where line is that line already (CSV, file-level issues).
ALTER TABLE issues ADD COLUMN start_line INTEGER;
`,
  },
  {
    version: 7,
    sql: `
-- Where each anomaly stands (model/anomaly-state.ts), apart from whether its one electronic correction is spent
-- (corrected_by); state_by is the reception order of the record (or the manual correction) that set it, so that a
-- file taken out again takes its effects with it. Existing anomalies: corrected when their reading was superseded,
-- confirmed when the record that spent the number was a W51 repeat, else open.
ALTER TABLE issues ADD COLUMN state TEXT CHECK (state IN ('open', 'corrected', 'confirmed', 'withdrawn', 'manual'));
ALTER TABLE issues ADD COLUMN state_by INTEGER;
UPDATE issues SET state = 'open' WHERE severity = 'A';
UPDATE issues SET state = 'corrected', state_by = corrected_by
  WHERE severity = 'A' AND corrected_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM readings r WHERE r.vin = issues.vin AND r.seq = issues.file_id * 100000000 + issues.line AND r.status = 3);
UPDATE issues SET state = 'confirmed', state_by = corrected_by
  WHERE severity = 'A' AND state = 'open' AND corrected_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM issues w WHERE w.file_id = issues.corrected_by / 100000000 AND w.line = issues.corrected_by % 100000000
      AND w.code = 'W51');
CREATE INDEX issues_state ON issues (state) WHERE state IS NOT NULL;
-- The correction form (inflow corrections apply): its reading and the issues that reading raises are stored as
-- those of "file 0", line = the manual correction's id.
CREATE TABLE manual_corrections (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id  INTEGER NOT NULL,
  vin       TEXT NOT NULL,
  by        TEXT NOT NULL,
  reason    TEXT NOT NULL,
  at        TEXT NOT NULL
);
`,
  },
  {
    version: 8,
    sql: `
-- The audit trail of every process using this database (store/audit-log.ts): one row per event. account is
-- fields.account or else fields.username, so that one index finds an account's events.
CREATE TABLE audit (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        TEXT NOT NULL,
  host      TEXT NOT NULL,
  pid       INTEGER NOT NULL,
  event     TEXT NOT NULL,
  account   TEXT,
  fields    TEXT NOT NULL                           -- JSON object
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_account ON audit (account, at);
`,
  },
  {
    version: 9,
    rebuildsTable: true,
    sql: `
-- The portal role (ad sites: the label web service only). SQLite cannot change a CHECK: the table is rebuilt
-- (with foreign keys off for this step, store/sqlite/db.ts; files still reference accounts by name).
CREATE TABLE accounts_v9 (
  id            INTEGER PRIMARY KEY,
  establishment TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('garage', 'fleet', 'admin', 'portal')),
  senders       TEXT NOT NULL DEFAULT '[]',       -- JSON: establishments a fleet account may send for
  password_hash TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  tls_reuse     TEXT NOT NULL DEFAULT 'required' CHECK (tls_reuse IN ('required', 'optional'))
);
INSERT INTO accounts_v9 (id, establishment, name, role, senders, password_hash, disabled, created_at, tls_reuse)
  SELECT id, establishment, name, role, senders, password_hash, disabled, created_at, tls_reuse FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v9 RENAME TO accounts;
`,
  },
  {
    version: 10,
    sql: `
-- Observations (docs/observations.md): readings sent one at a time, checked in rounds. A round is a file of origin
-- 'observations' (no content, no receipt), so that its readings and issues are keyed (file, line) as a file's are.
ALTER TABLE files ADD COLUMN origin TEXT NOT NULL DEFAULT 'upload' CHECK (origin IN ('upload', 'observations'));
CREATE INDEX files_open_rounds ON files (id) WHERE origin = 'observations' AND result IS NULL;
CREATE TABLE observations (
  pk            INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
  id            TEXT NOT NULL UNIQUE,               -- the public id, a UUID
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  sender        TEXT NOT NULL,
  fields        TEXT NOT NULL,                      -- JSON: the record's fields as sent
  vehicle_key   TEXT NOT NULL,                      -- VIN, else plate: one per vehicle in a round
  client        TEXT NOT NULL,                      -- JSON: {builder, name, version}
  correction_of TEXT,                               -- id of the observation it corrects or confirms
  status        TEXT NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'FLAGGED', 'REJECTED')),
  file_id       INTEGER,                            -- its round, once claimed
  line          INTEGER,
  received_at   TEXT NOT NULL,
  received_date TEXT NOT NULL,                      -- Brussels date of reception
  processed_at  TEXT
);
CREATE INDEX observations_unclaimed ON observations (pk) WHERE status = 'PENDING' AND file_id IS NULL;
CREATE INDEX observations_round ON observations (file_id, line) WHERE file_id IS NOT NULL;
`,
  },
  {
    version: 11,
    sql: `
-- A file on the one writer lets the observations kept since its last change through before its next one
-- (SqliteStore.giveWay): it looks for the newest PENDING one, and then whether those are settled, at every change.
CREATE INDEX observations_pending ON observations (pk) WHERE status = 'PENDING';
`,
  },
];
