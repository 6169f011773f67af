-- Documents antin signed and issued (the result PDFs), for the verification page and the log.
CREATE TABLE signed_documents (
    id                  TEXT PRIMARY KEY,
    created_at          TEXT NOT NULL,
    caller              TEXT NOT NULL,
    profile             TEXT NOT NULL,
    agency              TEXT NOT NULL,
    level               TEXT NOT NULL,
    input_sha256        TEXT NOT NULL,
    signed_sha256       TEXT NOT NULL,
    signed_size         BIGINT NOT NULL,
    signer_cert_sha256  TEXT NOT NULL,
    signer_subject      TEXT NOT NULL,
    dossier             TEXT,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    status_changed_at   TEXT
);
CREATE INDEX signed_documents_signed_sha256 ON signed_documents (signed_sha256);
CREATE INDEX signed_documents_created ON signed_documents (created_at);
