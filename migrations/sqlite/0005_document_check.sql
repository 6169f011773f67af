-- The public check page: what the agency publishes about each issued document, and the history of
-- its status (rows are appended, never edited: the current status in signed_documents is the last
-- row's, and each row names the transparency-log entry written in the same transaction).
ALTER TABLE signed_documents ADD COLUMN document_type TEXT;
ALTER TABLE signed_documents ADD COLUMN document_number TEXT;
ALTER TABLE signed_documents ADD COLUMN published_signer TEXT;
ALTER TABLE signed_documents ADD COLUMN superseded_by TEXT;

CREATE TABLE document_status_history (
    id              TEXT PRIMARY KEY,
    document_id     TEXT NOT NULL,
    from_status     TEXT NOT NULL,
    to_status       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    replaced_by     TEXT,
    actor           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    log_index       BIGINT NOT NULL
);
CREATE INDEX document_status_history_document ON document_status_history (document_id, created_at);
