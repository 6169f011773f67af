-- The transparency log (RFC 6962 Merkle tree). Entries are append-only; `log_head` is the single
-- row every appender updates first, which both serialises appends (SQLite's write lock, PostgreSQL's
-- row lock) and hands out the next index: one total order across instances.
CREATE TABLE log_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    size  BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

-- The canonical entry bytes (audit::entry), by index.
CREATE TABLE log_entries (
    idx         BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX log_entries_kind ON log_entries (kind);

-- Every complete subtree's hash: level 0 = leaf hashes; (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level). Immutable once written; proofs read O(log n) of them.
CREATE TABLE log_nodes (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP signed notes), one per tree size at most.
CREATE TABLE log_checkpoints (
    size        BIGINT PRIMARY KEY,
    root        BYTEA NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Lookup of an entry by a subject (a document hash, a payment id), without scanning bodies.
CREATE TABLE log_subjects (
    subject  TEXT NOT NULL,
    idx      BIGINT NOT NULL,
    PRIMARY KEY (subject, idx)
);
