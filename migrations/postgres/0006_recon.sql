-- Daily reconciliation (issue 6). Times are RFC 3339 UTC text, dates YYYY-MM-DD (Vietnam
-- business days), money integer VND. The PostgreSQL schema mirrors this one. Nothing here is
-- updated or deleted: imports, runs and resolutions are appended; a discrepancy is open while no
-- resolution names its key.

-- Each imported file once, by its SHA-256 (the same file twice changes nothing).
CREATE TABLE recon_files (
    sha256       TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    name         TEXT NOT NULL,
    rows         BIGINT NOT NULL,
    imported_by  TEXT NOT NULL,
    imported_at  TEXT NOT NULL
);

CREATE TABLE recon_gateway_rows (
    file_sha256    TEXT NOT NULL REFERENCES recon_files (sha256),
    line           BIGINT NOT NULL,
    gateway        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    our_ref        TEXT NOT NULL,
    parent_ref     TEXT,
    gateway_txn    TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    fee            BIGINT NOT NULL,
    net            BIGINT NOT NULL,
    status         TEXT NOT NULL,
    at             TEXT NOT NULL,
    business_date  TEXT NOT NULL,
    text           TEXT NOT NULL,
    PRIMARY KEY (file_sha256, line)
);
CREATE INDEX recon_gateway_rows_date ON recon_gateway_rows (business_date);

-- A statement (account + number) can be imported once, whatever file it came in.
CREATE TABLE recon_statements (
    statement_id  TEXT PRIMARY KEY,
    file_sha256   TEXT NOT NULL REFERENCES recon_files (sha256)
);

CREATE TABLE recon_bank_entries (
    file_sha256   TEXT NOT NULL REFERENCES recon_files (sha256),
    line          BIGINT NOT NULL,
    statement_id  TEXT NOT NULL,
    account       TEXT NOT NULL,
    bank_ref      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    direction     TEXT NOT NULL,
    reversal      BIGINT NOT NULL,
    value_date    TEXT NOT NULL,
    booked_at     TEXT,
    memo          TEXT NOT NULL,
    counterparty  TEXT,
    PRIMARY KEY (file_sha256, line)
);
CREATE INDEX recon_bank_entries_date ON recon_bank_entries (value_date);

-- A run: its inputs' day, the whole outcome (matches with rules and keys, discrepancies,
-- summary) as JSON, and its counts.
CREATE TABLE recon_runs (
    id             TEXT PRIMARY KEY,
    run_date       TEXT NOT NULL,
    agency         TEXT,
    as_of          TEXT NOT NULL,
    matched        BIGINT NOT NULL,
    discrepancies  BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX recon_runs_date ON recon_runs (run_date, created_at);

CREATE TABLE recon_discrepancies (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES recon_runs (id),
    run_date    TEXT NOT NULL,
    dkey        TEXT NOT NULL,
    class       TEXT NOT NULL,
    gateway     TEXT NOT NULL,
    expected    BIGINT,
    actual      BIGINT,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX recon_discrepancies_key ON recon_discrepancies (run_date, dkey);

-- One resolution per discrepancy key and day: who, when, why, and the correcting posting if money
-- was involved.
CREATE TABLE recon_resolutions (
    id               TEXT PRIMARY KEY,
    discrepancy_id   TEXT NOT NULL REFERENCES recon_discrepancies (id),
    run_date         TEXT NOT NULL,
    dkey             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    resolved_by      TEXT NOT NULL,
    resolved_at      TEXT NOT NULL,
    posting_ref      TEXT,
    UNIQUE (run_date, dkey)
);
