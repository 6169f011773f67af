-- Fee payments (issue 5). Times are RFC 3339 UTC text; money is integer VND (BIGINT). The
-- PostgreSQL schema mirrors this one. `payments.version` grows with every transition of the payment
-- or of its attempts and refunds: each change is a conditional UPDATE on the version it was decided
-- from, so two concurrent deciders (two identical callbacks, a callback and a status query, two
-- instances) make exactly one transition and the other re-decides on the new state.
CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    portal              TEXT NOT NULL,
    dossier_ref         TEXT NOT NULL,
    agency              TEXT NOT NULL,
    procedure_code      TEXT NOT NULL,
    fee_code            TEXT NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),
    payer_name          TEXT NOT NULL,
    payer_cccd          TEXT,
    collection_account  TEXT NOT NULL,
    description         TEXT NOT NULL,
    return_url          TEXT,
    state               TEXT NOT NULL,
    version             BIGINT NOT NULL,
    refunded            BIGINT NOT NULL DEFAULT 0,
    expires_at          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX payments_dossier ON payments (portal, dossier_ref);
CREATE INDEX payments_open ON payments (state, expires_at);

CREATE TABLE payment_attempts (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    seq             BIGINT NOT NULL,
    gateway         TEXT NOT NULL,
    attempt_ref     TEXT NOT NULL UNIQUE,
    gateway_ref     TEXT,
    state           TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    redirect_url    TEXT,
    qr_payload      TEXT,
    gateway_txn_id  TEXT,
    client_ip       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    next_query_at   TEXT,
    query_count     BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     TEXT,
    UNIQUE (payment_id, seq)
);
CREATE INDEX payment_attempts_gateway_ref ON payment_attempts (gateway, gateway_ref);
CREATE INDEX payment_attempts_sync ON payment_attempts (next_query_at);

CREATE TABLE payment_refunds (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    attempt_id         TEXT NOT NULL REFERENCES payment_attempts (id),
    refund_ref         TEXT NOT NULL UNIQUE,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    full_refund        BIGINT NOT NULL,
    reason             TEXT NOT NULL,
    state              TEXT NOT NULL,
    gateway_refund_id  TEXT,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    next_try_at        TEXT,
    tries              BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_until        TEXT
);
CREATE INDEX payment_refunds_retry ON payment_refunds (next_try_at);

-- Every transition of a payment, an attempt or a refund, with its cause; `seq` is the payment's
-- version after the change.
CREATE TABLE payment_transitions (
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    seq         BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    subject     TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    cause       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (payment_id, seq, n)
);

-- Double-entry ledger lines: each posting set sums to zero; rows are never updated or deleted.
CREATE TABLE ledger_lines (
    posting_id  TEXT NOT NULL,
    n           BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    account     TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount <> 0),
    at          TEXT NOT NULL,
    PRIMARY KEY (posting_id, n)
);
CREATE INDEX ledger_lines_account ON ledger_lines (account);
CREATE INDEX ledger_lines_payment ON ledger_lines (payment_id);
-- One confirmation per attempt and one per refund outcome: a replayed decision cannot post twice.
CREATE UNIQUE INDEX ledger_lines_once ON ledger_lines (kind, ref_id, n);

-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the fingerprint of the first
-- request and its response; `in_flight` until the response is stored.
CREATE TABLE idempotency_keys (
    portal        TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    in_flight     BIGINT NOT NULL,
    locked_until  TEXT NOT NULL,
    status        BIGINT,
    response      TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (portal, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Portal notifications, written in the transaction of the state change; delivered after commit.
CREATE TABLE payment_outbox (
    id               TEXT PRIMARY KEY,
    portal           TEXT NOT NULL,
    payment_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    next_attempt_at  TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    delivered_at     TEXT,
    last_error       TEXT,
    lease_owner      TEXT,
    lease_until      TEXT
);
CREATE INDEX payment_outbox_due ON payment_outbox (next_attempt_at);

-- Callbacks received from gateways (verified ones, including those refused for order or amount).
CREATE TABLE payment_callbacks (
    id          TEXT PRIMARY KEY,
    gateway     TEXT NOT NULL,
    raw_sha256  TEXT NOT NULL,
    gateway_ref TEXT NOT NULL,
    payment_id  TEXT,
    attempt_id  TEXT,
    outcome     TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX payment_callbacks_raw ON payment_callbacks (raw_sha256);

-- Anomalies for finance officers: double payments, amount mismatches, contradicting reports.
CREATE TABLE payment_flags (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL,
    attempt_id  TEXT,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX payment_flags_payment ON payment_flags (payment_id);
