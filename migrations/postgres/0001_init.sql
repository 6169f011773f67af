-- antin schema v1 (PostgreSQL). Times are RFC 3339 UTC text; mirrors the SQLite schema.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE verifications (
    id               TEXT PRIMARY KEY,
    created_at       TEXT NOT NULL,
    caller           TEXT NOT NULL,
    document_sha256  TEXT NOT NULL,
    document_size    BIGINT NOT NULL,
    detached         BIGINT NOT NULL,
    verdict          TEXT NOT NULL,
    signature_count  BIGINT NOT NULL,
    report_json      TEXT NOT NULL
);
CREATE INDEX verifications_document ON verifications (document_sha256);
CREATE INDEX verifications_created ON verifications (created_at);

-- Evidence (CRLs, OCSP responses, certificates, timestamp tokens) kept once by hash and linked to
-- every verification that relied on it (Circular 15/2025).
CREATE TABLE evidence (
    sha256      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    der         BYTEA NOT NULL,
    first_seen  TEXT NOT NULL
);

CREATE TABLE verification_evidence (
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    sha256          TEXT NOT NULL REFERENCES evidence (sha256),
    PRIMARY KEY (verification_id, sha256)
);
