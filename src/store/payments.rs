//! The payment tables: payments, attempts, refunds, transitions, ledger lines, idempotency keys,
//! the outbox, callbacks received and flags. One code path for SQLite and PostgreSQL.
//!
//! Every change to a payment goes through [`Store::pay_commit`]: one transaction whose first
//! statement is the conditional `UPDATE payments ... WHERE version = $expected` (it takes SQLite's
//! write lock or PostgreSQL's row lock before anything else), followed by the attempt and refund
//! rows, the transitions with their causes, the ledger lines, the outbox events, the flags, the
//! callback row, the idempotency response and the transparency-log entries. If the version moved,
//! nothing is written and the caller re-decides on the fresh state: exactly one transition wins.
//!
//! Work queues (status sync, refunds, webhooks) are claimed with leases: an `UPDATE ... SET
//! lease_until` on rows whose lease is free, with `FOR UPDATE SKIP LOCKED` in the subquery on
//! PostgreSQL so instances never wait on each other, and relying on SQLite's single writer there.

use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use super::group::Logged;
use super::{fmt_time, parse_time, Backend, LogInput, Store, StoreError};
use crate::pay::ledger::{Account, Line, PostingSet};
use crate::pay::state::{AttemptState, PaymentState, RefundState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: String,
    /// The portal's caller id (`key:<id>`).
    pub portal: String,
    pub dossier_ref: String,
    pub agency: String,
    pub procedure_code: String,
    pub fee_code: String,
    pub amount: i64,
    pub payer_name: String,
    /// In clear here only (the gateways and the agency need it); pseudonymised in the log.
    pub payer_cccd: Option<String>,
    pub collection_account: String,
    pub description: String,
    pub return_url: Option<String>,
    pub state: PaymentState,
    pub version: i64,
    pub refunded: i64,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: String,
    pub payment_id: String,
    pub seq: i64,
    pub gateway: String,
    pub attempt_ref: String,
    pub gateway_ref: Option<String>,
    pub state: AttemptState,
    pub amount: i64,
    pub redirect_url: Option<String>,
    pub qr_payload: Option<String>,
    pub gateway_txn_id: Option<String>,
    pub client_ip: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When status sync should ask the gateway next (None: final).
    pub next_query_at: Option<OffsetDateTime>,
    pub query_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: String,
    pub payment_id: String,
    pub attempt_id: String,
    pub refund_ref: String,
    pub amount: i64,
    pub full: bool,
    pub reason: String,
    pub state: RefundState,
    pub gateway_refund_id: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub next_try_at: Option<OffsetDateTime>,
    pub tries: i64,
}

/// A payment with its attempts (in order) and refunds, as read at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAggregate {
    pub payment: PaymentRecord,
    pub attempts: Vec<AttemptRecord>,
    pub refunds: Vec<RefundRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRow {
    pub subject: &'static str,
    pub subject_id: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub cause: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransition {
    pub seq: i64,
    pub subject: String,
    pub subject_id: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub cause: String,
    pub actor: String,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: String,
    pub portal: String,
    pub payment_id: String,
    pub event_type: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub portal: String,
    pub payment_id: String,
    pub event_type: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

/// What became of one claimed outbox event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDone {
    pub id: String,
    /// When it was delivered; None: not delivered.
    pub delivered_at: Option<OffsetDateTime>,
    /// When to try again; None: not again.
    pub next: Option<OffsetDateTime>,
    pub attempts: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRow {
    pub attempt_id: Option<String>,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRow {
    pub gateway: String,
    pub raw_sha256: String,
    pub gateway_ref: String,
    pub payment_id: Option<String>,
    pub attempt_id: Option<String>,
    pub outcome: String,
}

/// The idempotency response to store with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemResponse {
    pub portal: String,
    pub key: String,
    pub status: u16,
    pub body: String,
}

/// Everything one decision writes, committed together.
#[derive(Debug, Clone, Default)]
pub struct PayChange {
    pub payment_id: String,
    /// The version the decision was made on.
    pub expected_version: i64,
    pub payment_state: Option<PaymentState>,
    pub refunded: Option<i64>,
    pub new_attempts: Vec<AttemptRecord>,
    pub attempts: Vec<AttemptRecord>,
    pub new_refunds: Vec<RefundRecord>,
    pub refunds: Vec<RefundRecord>,
    pub transitions: Vec<TransitionRow>,
    /// Posting sets with the id of what they are for (attempt or refund id).
    pub postings: Vec<(String, PostingSet)>,
    pub outbox: Vec<OutboxEvent>,
    pub flags: Vec<FlagRow>,
    pub callback: Option<CallbackRow>,
    pub idem: Option<IdemResponse>,
    pub log: Vec<LogInput>,
}

/// What happened to an Idempotency-Key at the start of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    /// New (or a stale in-flight key taken over): go on.
    Proceed,
    /// Same key, same request, finished: replay this.
    Replay { status: u16, body: String },
    /// Same key, different request.
    Mismatch,
    /// Same key, first request still running.
    InFlight,
}

/// An attempt as a work item for status sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncItem {
    pub payment_id: String,
    pub attempt_id: String,
}

fn opt_time(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(fmt_time)
}

fn get_opt_time(r: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| parse_time(&s))
        .transpose()
}

fn get_time(r: &AnyRow, col: &str) -> Result<OffsetDateTime, StoreError> {
    parse_time(&r.try_get::<String, _>(col)?)
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {v:?}"))
}

const PAYMENT_COLS: &str = "id, portal, dossier_ref, agency, procedure_code, fee_code, amount, \
    payer_name, payer_cccd, collection_account, description, return_url, state, version, refunded, \
    expires_at, created_at, updated_at";

const ATTEMPT_COLS: &str =
    "id, payment_id, seq, gateway, attempt_ref, gateway_ref, state, amount, \
    redirect_url, qr_payload, gateway_txn_id, client_ip, created_at, updated_at, expires_at, \
    next_query_at, query_count";

const REFUND_COLS: &str = "id, payment_id, attempt_id, refund_ref, amount, full_refund, reason, \
    state, gateway_refund_id, created_by, created_at, updated_at, next_try_at, tries";

fn payment_from_row(r: &AnyRow) -> Result<PaymentRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(PaymentRecord {
        id: r.try_get("id")?,
        portal: r.try_get("portal")?,
        dossier_ref: r.try_get("dossier_ref")?,
        agency: r.try_get("agency")?,
        procedure_code: r.try_get("procedure_code")?,
        fee_code: r.try_get("fee_code")?,
        amount: r.try_get("amount")?,
        payer_name: r.try_get("payer_name")?,
        payer_cccd: r.try_get("payer_cccd")?,
        collection_account: r.try_get("collection_account")?,
        description: r.try_get("description")?,
        return_url: r.try_get("return_url")?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt("payment state", &state))?,
        version: r.try_get("version")?,
        refunded: r.try_get("refunded")?,
        expires_at: get_time(r, "expires_at")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

fn attempt_from_row(r: &AnyRow) -> Result<AttemptRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(AttemptRecord {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        seq: r.try_get("seq")?,
        gateway: r.try_get("gateway")?,
        attempt_ref: r.try_get("attempt_ref")?,
        gateway_ref: r.try_get("gateway_ref")?,
        state: AttemptState::parse(&state).ok_or_else(|| corrupt("attempt state", &state))?,
        amount: r.try_get("amount")?,
        redirect_url: r.try_get("redirect_url")?,
        qr_payload: r.try_get("qr_payload")?,
        gateway_txn_id: r.try_get("gateway_txn_id")?,
        client_ip: r.try_get("client_ip")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        expires_at: get_time(r, "expires_at")?,
        next_query_at: get_opt_time(r, "next_query_at")?,
        query_count: r.try_get("query_count")?,
    })
}

fn refund_from_row(r: &AnyRow) -> Result<RefundRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(RefundRecord {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        attempt_id: r.try_get("attempt_id")?,
        refund_ref: r.try_get("refund_ref")?,
        amount: r.try_get("amount")?,
        full: r.try_get::<i64, _>("full_refund")? != 0,
        reason: r.try_get("reason")?,
        state: RefundState::parse(&state).ok_or_else(|| corrupt("refund state", &state))?,
        gateway_refund_id: r.try_get("gateway_refund_id")?,
        created_by: r.try_get("created_by")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        next_try_at: get_opt_time(r, "next_try_at")?,
        tries: r.try_get("tries")?,
    })
}

impl Store {
    /// Stores a new payment (its `created` transition, log entries and idempotency response) in one
    /// transaction.
    pub async fn pay_insert(
        &self,
        p: &PaymentRecord,
        actor: &str,
        idem: Option<&IdemResponse>,
        log: &[LogInput],
    ) -> Result<(), StoreError> {
        let (p, actor, idem, log) = (p.clone(), actor.to_owned(), idem.cloned(), log.to_vec());
        self.write_logged(move |conn| {
            Box::pin(async move {
                pay_insert_in(conn, &p, &actor, idem.as_ref()).await?;
                Ok(((), Logged::new(log, p.created_at)))
            })
        })
        .await
    }

    /// Commits one decision if the payment is still at `expected_version`; returns false (having
    /// written nothing) if another decision got there first.
    pub async fn pay_commit(&self, c: &PayChange, now: OffsetDateTime) -> Result<bool, StoreError> {
        let c = c.clone();
        self.write_logged(move |conn| {
            Box::pin(async move {
                let done = pay_commit_in(conn, &c, now).await?;
                // A decision that lost the race wrote nothing, so it logs nothing.
                let logged = if done {
                    Logged::new(c.log, now)
                } else {
                    Logged::none()
                };
                Ok((done, logged))
            })
        })
        .await
    }

    /// Records a verified callback that changed nothing (unknown order, replay), with its log
    /// entries.
    pub async fn pay_record_callback(
        &self,
        cb: &CallbackRow,
        log: &[LogInput],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (cb, log) = (cb.clone(), log.to_vec());
        self.write_logged(move |conn| {
            Box::pin(async move {
                insert_callback(&mut *conn, &cb, now).await?;
                Ok(((), Logged::new(log, now)))
            })
        })
        .await
    }

    pub async fn pay_load(&self, id: &str) -> Result<Option<PaymentAggregate>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let payment = payment_from_row(&row)?;
        let attempts = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLS} FROM payment_attempts WHERE payment_id = $1 ORDER BY seq"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(attempt_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let refunds = sqlx::query(&format!(
            "SELECT {REFUND_COLS} FROM payment_refunds WHERE payment_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(refund_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        // The rows above were read without a transaction: if a change committed in between, the
        // version check of the next commit catches it; a torn read only costs a retry.
        Ok(Some(PaymentAggregate {
            payment,
            attempts,
            refunds,
        }))
    }

    /// The payment and attempt a gateway reference belongs to.
    pub async fn pay_find_attempt(
        &self,
        gateway: &str,
        gateway_ref: &str,
    ) -> Result<Option<SyncItem>, StoreError> {
        // Two indexed lookups: `gateway_ref = $2 OR attempt_ref = $2` made SQLite scan every
        // attempt of the gateway (tens of milliseconds per callback at 50,000 attempts). Attempts
        // store the gateway's reference before it is asked; the second lookup is for rows from
        // before that.
        let mut row = sqlx::query(
            "SELECT payment_id, id FROM payment_attempts WHERE gateway = $1 AND gateway_ref = $2 \
             ORDER BY seq LIMIT 1",
        )
        .bind(gateway)
        .bind(gateway_ref)
        .fetch_optional(&self.pool)
        .await?;
        if row.is_none() {
            row = sqlx::query(
                "SELECT payment_id, id FROM payment_attempts WHERE attempt_ref = $1 AND \
                 gateway = $2",
            )
            .bind(gateway_ref)
            .bind(gateway)
            .fetch_optional(&self.pool)
            .await?;
        }
        row.map(|r| {
            Ok(SyncItem {
                payment_id: r.try_get("payment_id")?,
                attempt_id: r.try_get("id")?,
            })
        })
        .transpose()
    }

    pub async fn pay_transitions(&self, id: &str) -> Result<Vec<StoredTransition>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, subject, subject_id, from_state, to_state, cause, actor, at \
             FROM payment_transitions WHERE payment_id = $1 ORDER BY seq, n",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredTransition {
                    seq: r.try_get("seq")?,
                    subject: r.try_get("subject")?,
                    subject_id: r.try_get("subject_id")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    cause: r.try_get("cause")?,
                    actor: r.try_get("actor")?,
                    at: get_time(r, "at")?,
                })
            })
            .collect()
    }

    /// Ledger lines, of one payment or all, with their posting kind and posting id.
    pub async fn ledger_lines(
        &self,
        payment_id: Option<&str>,
    ) -> Result<Vec<(String, String, Line)>, StoreError> {
        let rows = match payment_id {
            Some(p) => {
                sqlx::query(
                    "SELECT posting_id, kind, account, amount FROM ledger_lines \
                     WHERE payment_id = $1 ORDER BY at, posting_id, n",
                )
                .bind(p)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT posting_id, kind, account, amount FROM ledger_lines \
                     ORDER BY at, posting_id, n",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                let code: String = r.try_get("account")?;
                Ok((
                    r.try_get("posting_id")?,
                    r.try_get("kind")?,
                    Line {
                        account: Account::parse(&code).ok_or_else(|| corrupt("account", &code))?,
                        amount: r.try_get("amount")?,
                    },
                ))
            })
            .collect()
    }

    pub async fn pay_flags(&self, payment_id: &str) -> Result<Vec<FlagRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt_id, kind, detail FROM payment_flags WHERE payment_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(payment_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FlagRow {
                    attempt_id: r.try_get("attempt_id")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    pub async fn pay_callbacks_count(&self, raw_sha256: &str) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM payment_callbacks WHERE raw_sha256 = $1")
            .bind(raw_sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    // --- Idempotency keys ----------------------------------------------------------------------

    /// Starts a request under an Idempotency-Key: claims the key, or says why not. A key left in
    /// flight past `locked_until` (its instance died) is taken over.
    pub async fn idem_begin(
        &self,
        portal: &str,
        key: &str,
        fingerprint: &str,
        now: OffsetDateTime,
        lock_for: time::Duration,
        keep_for: time::Duration,
    ) -> Result<IdemBegin, StoreError> {
        let (portal, key, fingerprint) =
            (portal.to_owned(), key.to_owned(), fingerprint.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                idem_begin_in(conn, &portal, &key, &fingerprint, now, lock_for, keep_for).await
            })
        })
        .await
    }

    /// Stores the response of a request that changed nothing in the payment tables.
    pub async fn idem_finish(&self, idem: &IdemResponse) -> Result<(), StoreError> {
        let idem = idem.clone();
        self.write(move |conn| Box::pin(async move { idem_finish(conn, &idem).await }))
            .await
    }

    /// Releases a key whose request failed before anything was decided (a retry may run again).
    pub async fn idem_release(&self, portal: &str, key: &str) -> Result<(), StoreError> {
        let (portal, key) = (portal.to_owned(), key.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE portal = $1 AND idem_key = $2 \
                     AND in_flight = 1",
                )
                .bind(portal)
                .bind(key)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Forgets keys past their keeping time.
    pub async fn idem_purge(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = fmt_time(now);
        self.write(move |conn| {
            Box::pin(async move {
                let r = sqlx::query(
                    "DELETE FROM idempotency_keys WHERE expires_at < $1 AND in_flight = 0",
                )
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(r.rows_affected())
            })
        })
        .await
    }

    // --- Work queues ---------------------------------------------------------------------------

    /// Claims up to `limit` attempts due for a status query, for `lease` (returns payment and
    /// attempt ids). Two instances never get the same attempt while its lease runs.
    pub async fn pay_claim_sync(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<SyncItem>, StoreError> {
        let rows = self
            .claim(
                "payment_attempts",
                "state IN ('created','pending','unknown') AND next_query_at IS NOT NULL \
                 AND next_query_at <= $3",
                "next_query_at",
                "payment_id, id",
                owner,
                now,
                lease,
                limit,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SyncItem {
                    payment_id: r.try_get("payment_id")?,
                    attempt_id: r.try_get("id")?,
                })
            })
            .collect()
    }

    /// Claims refunds due for (another) gateway call.
    pub async fn pay_claim_refunds(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<SyncItem>, StoreError> {
        let rows = self
            .claim(
                "payment_refunds",
                "state = 'pending' AND next_try_at IS NOT NULL AND next_try_at <= $3",
                "next_try_at",
                "payment_id, id",
                owner,
                now,
                lease,
                limit,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SyncItem {
                    payment_id: r.try_get("payment_id")?,
                    attempt_id: r.try_get("id")?,
                })
            })
            .collect()
    }

    /// Claims outbox events due for delivery.
    pub async fn outbox_claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = self
            .claim(
                "payment_outbox",
                "delivered_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= $3",
                "next_attempt_at",
                "id, portal, payment_id, event_type, body, attempts, created_at, delivered_at",
                owner,
                now,
                lease,
                limit,
            )
            .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        table: &str,
        due: &str,
        order: &str,
        returning: &str,
        owner: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM {table} WHERE {due} AND (lease_until IS NULL OR lease_until < $3) \
             ORDER BY {order} LIMIT $4{skip_locked}) \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING {returning}"
        );
        let (owner, until, now) = (owner.to_owned(), fmt_time(now + lease), fmt_time(now));
        // Through the writer like every other payment write: SQLite has one write lock, and a
        // second writer beside the group-commit one waits in SQLite's sleeping busy handler.
        self.write(move |conn| {
            Box::pin(async move {
                Ok(sqlx::query(&sql)
                    .bind(owner)
                    .bind(until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await?)
            })
        })
        .await
    }

    /// Reschedules an attempt's next status query (after a query that changed nothing), if this
    /// instance still holds its lease.
    pub async fn pay_reschedule_sync(
        &self,
        attempt_id: &str,
        owner: &str,
        next: Option<OffsetDateTime>,
        query_count: i64,
    ) -> Result<(), StoreError> {
        let (next, id, owner) = (opt_time(next), attempt_id.to_owned(), owner.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE payment_attempts SET next_query_at = $1, query_count = $2, \
                     lease_owner = NULL, lease_until = NULL WHERE id = $3 AND lease_owner = $4",
                )
                .bind(next)
                .bind(query_count)
                .bind(id)
                .bind(owner)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn pay_reschedule_refund(
        &self,
        refund_id: &str,
        owner: &str,
        next: Option<OffsetDateTime>,
        tries: i64,
    ) -> Result<(), StoreError> {
        let (next, id, owner) = (opt_time(next), refund_id.to_owned(), owner.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE payment_refunds SET next_try_at = $1, tries = $2, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $3 AND lease_owner = $4",
                )
                .bind(next)
                .bind(tries)
                .bind(id)
                .bind(owner)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Records what became of claimed outbox events, in one write: delivered, or the next try
    /// (None: given up, kept). An event whose lease this instance no longer holds is left alone.
    pub async fn outbox_done_many(
        &self,
        owner: &str,
        done: &[OutboxDone],
    ) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        let (owner, done) = (owner.to_owned(), done.to_vec());
        self.write(move |conn| {
            Box::pin(async move {
                for d in &done {
                    sqlx::query(
                        "UPDATE payment_outbox SET delivered_at = $1, next_attempt_at = $2, \
                         attempts = $3, last_error = $4, lease_owner = NULL, lease_until = NULL \
                         WHERE id = $5 AND lease_owner = $6",
                    )
                    .bind(opt_time(d.delivered_at))
                    .bind(opt_time(d.next))
                    .bind(d.attempts)
                    .bind(d.error.as_deref())
                    .bind(d.id.as_str())
                    .bind(owner.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn outbox_for_payment(&self, payment_id: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, portal, payment_id, event_type, body, attempts, created_at, delivered_at \
             FROM payment_outbox WHERE payment_id = $1 ORDER BY created_at, id",
        )
        .bind(payment_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    /// Payments not yet expired or settled whose expiry passed (for the expiry sweep).
    pub async fn pay_expired_candidates(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM payments WHERE state IN ('created','failed') AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(fmt_time(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("id")?))
            .collect()
    }

    /// Attempts still unresolved (created, pending, unknown) that were started before `cutoff`.
    pub async fn pay_unresolved(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLS} FROM payment_attempts WHERE \
             state IN ('created','pending','unknown') AND created_at <= $1 ORDER BY created_at, id"
        ))
        .bind(fmt_time(cutoff))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt_from_row).collect()
    }

    /// The name of an API key by its id (portals are configured by key name).
    pub async fn api_key_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get::<String, _>("name")?)).transpose()
    }
}

fn outbox_from_row(r: &AnyRow) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        portal: r.try_get("portal")?,
        payment_id: r.try_get("payment_id")?,
        event_type: r.try_get("event_type")?,
        body: r.try_get("body")?,
        attempts: r.try_get("attempts")?,
        created_at: get_time(r, "created_at")?,
        delivered_at: get_opt_time(r, "delivered_at")?,
    })
}

/// The transitions of one decision (numbered from 0 under version `seq`), in one statement.
async fn insert_transitions(
    conn: &mut sqlx::AnyConnection,
    payment_id: &str,
    seq: i64,
    ts: &[TransitionRow],
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    if ts.is_empty() {
        return Ok(());
    }
    let sql = super::log::values_sql(
        "INSERT INTO payment_transitions (payment_id, seq, n, subject, subject_id, from_state, \
         to_state, cause, actor, at) VALUES ",
        ts.len(),
        10,
        conn,
    );
    let at = fmt_time(at);
    let mut q = sqlx::query(&sql);
    for (n, t) in ts.iter().enumerate() {
        q = q
            .bind(payment_id)
            .bind(seq)
            .bind(n as i64)
            .bind(t.subject)
            .bind(t.subject_id.as_str())
            .bind(t.from_state.as_deref())
            .bind(t.to_state.as_str())
            .bind(t.cause.as_str())
            .bind(t.actor.as_str())
            .bind(at.as_str());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Every line of a decision's postings, in one statement.
async fn insert_postings(
    conn: &mut sqlx::AnyConnection,
    payment_id: &str,
    postings: &[(String, PostingSet)],
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let rows: usize = postings.iter().map(|(_, set)| set.lines().len()).sum();
    if rows == 0 {
        return Ok(());
    }
    let sql = super::log::values_sql(
        "INSERT INTO ledger_lines (posting_id, n, kind, payment_id, ref_id, account, amount, at) \
         VALUES ",
        rows,
        8,
        conn,
    );
    let at = fmt_time(at);
    let ids: Vec<String> = postings
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let mut q = sqlx::query(&sql);
    for ((ref_id, set), posting_id) in postings.iter().zip(&ids) {
        for (n, line) in set.lines().iter().enumerate() {
            q = q
                .bind(posting_id.as_str())
                .bind(n as i64)
                .bind(set.kind.as_str())
                .bind(payment_id)
                .bind(ref_id.as_str())
                .bind(line.account.code())
                .bind(line.amount)
                .bind(at.as_str());
        }
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

async fn insert_callback(
    conn: &mut sqlx::AnyConnection,
    cb: &CallbackRow,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payment_callbacks (id, gateway, raw_sha256, gateway_ref, payment_id, \
         attempt_id, outcome, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&cb.gateway)
    .bind(&cb.raw_sha256)
    .bind(&cb.gateway_ref)
    .bind(cb.payment_id.clone())
    .bind(cb.attempt_id.clone())
    .bind(&cb.outcome)
    .bind(fmt_time(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn idem_finish(
    conn: &mut sqlx::AnyConnection,
    idem: &IdemResponse,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idempotency_keys SET in_flight = 0, status = $1, response = $2 \
         WHERE portal = $3 AND idem_key = $4",
    )
    .bind(i64::from(idem.status))
    .bind(&idem.body)
    .bind(&idem.portal)
    .bind(&idem.key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn pay_insert_in(
    conn: &mut sqlx::AnyConnection,
    p: &PaymentRecord,
    actor: &str,
    idem: Option<&IdemResponse>,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO payments ({PAYMENT_COLS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
    ))
    .bind(&p.id)
    .bind(&p.portal)
    .bind(&p.dossier_ref)
    .bind(&p.agency)
    .bind(&p.procedure_code)
    .bind(&p.fee_code)
    .bind(p.amount)
    .bind(&p.payer_name)
    .bind(p.payer_cccd.clone())
    .bind(&p.collection_account)
    .bind(&p.description)
    .bind(p.return_url.clone())
    .bind(p.state.as_str())
    .bind(p.version)
    .bind(p.refunded)
    .bind(fmt_time(p.expires_at))
    .bind(fmt_time(p.created_at))
    .bind(fmt_time(p.updated_at))
    .execute(&mut *conn)
    .await?;
    insert_transitions(
        &mut *conn,
        &p.id,
        p.version,
        &[TransitionRow {
            subject: "payment",
            subject_id: p.id.clone(),
            from_state: None,
            to_state: p.state.as_str().into(),
            cause: "created".into(),
            actor: actor.into(),
        }],
        p.created_at,
    )
    .await?;
    if let Some(idem) = idem {
        idem_finish(&mut *conn, idem).await?;
    }
    Ok(())
}

async fn pay_commit_in(
    conn: &mut sqlx::AnyConnection,
    c: &PayChange,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let new_version = c.expected_version + 1;
    let state = c.payment_state.map(|s| s.as_str());
    let done = sqlx::query(
        "UPDATE payments SET version = $1, state = COALESCE($2, state), \
             refunded = COALESCE($3, refunded), updated_at = $4 WHERE id = $5 AND version = $6",
    )
    .bind(new_version)
    .bind(state)
    .bind(c.refunded)
    .bind(fmt_time(now))
    .bind(&c.payment_id)
    .bind(c.expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    for a in &c.new_attempts {
        sqlx::query(&format!(
            "INSERT INTO payment_attempts ({ATTEMPT_COLS}) VALUES \
                 ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)"
        ))
        .bind(&a.id)
        .bind(&a.payment_id)
        .bind(a.seq)
        .bind(&a.gateway)
        .bind(&a.attempt_ref)
        .bind(a.gateway_ref.clone())
        .bind(a.state.as_str())
        .bind(a.amount)
        .bind(a.redirect_url.clone())
        .bind(a.qr_payload.clone())
        .bind(a.gateway_txn_id.clone())
        .bind(&a.client_ip)
        .bind(fmt_time(a.created_at))
        .bind(fmt_time(a.updated_at))
        .bind(fmt_time(a.expires_at))
        .bind(opt_time(a.next_query_at))
        .bind(a.query_count)
        .execute(&mut *conn)
        .await?;
    }
    for a in &c.attempts {
        sqlx::query(
            "UPDATE payment_attempts SET gateway_ref = $1, state = $2, redirect_url = $3, \
                 qr_payload = $4, gateway_txn_id = $5, updated_at = $6, next_query_at = $7, \
                 query_count = $8, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $9 AND payment_id = $10",
        )
        .bind(a.gateway_ref.clone())
        .bind(a.state.as_str())
        .bind(a.redirect_url.clone())
        .bind(a.qr_payload.clone())
        .bind(a.gateway_txn_id.clone())
        .bind(fmt_time(now))
        .bind(opt_time(a.next_query_at))
        .bind(a.query_count)
        .bind(&a.id)
        .bind(&c.payment_id)
        .execute(&mut *conn)
        .await?;
    }
    for r in &c.new_refunds {
        sqlx::query(&format!(
            "INSERT INTO payment_refunds ({REFUND_COLS}) VALUES \
                 ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
        ))
        .bind(&r.id)
        .bind(&r.payment_id)
        .bind(&r.attempt_id)
        .bind(&r.refund_ref)
        .bind(r.amount)
        .bind(i64::from(r.full))
        .bind(&r.reason)
        .bind(r.state.as_str())
        .bind(r.gateway_refund_id.clone())
        .bind(&r.created_by)
        .bind(fmt_time(r.created_at))
        .bind(fmt_time(r.updated_at))
        .bind(opt_time(r.next_try_at))
        .bind(r.tries)
        .execute(&mut *conn)
        .await?;
    }
    for r in &c.refunds {
        sqlx::query(
            "UPDATE payment_refunds SET state = $1, gateway_refund_id = $2, updated_at = $3, \
                 next_try_at = $4, tries = $5, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $6 AND payment_id = $7",
        )
        .bind(r.state.as_str())
        .bind(r.gateway_refund_id.clone())
        .bind(fmt_time(now))
        .bind(opt_time(r.next_try_at))
        .bind(r.tries)
        .bind(&r.id)
        .bind(&c.payment_id)
        .execute(&mut *conn)
        .await?;
    }
    insert_transitions(&mut *conn, &c.payment_id, new_version, &c.transitions, now).await?;
    insert_postings(&mut *conn, &c.payment_id, &c.postings, now).await?;
    for e in &c.outbox {
        sqlx::query(
            "INSERT INTO payment_outbox (id, portal, payment_id, event_type, body, created_at, \
                 next_attempt_at, attempts) VALUES ($1,$2,$3,$4,$5,$6,$7,0)",
        )
        .bind(&e.id)
        .bind(&e.portal)
        .bind(&e.payment_id)
        .bind(&e.event_type)
        .bind(&e.body)
        .bind(fmt_time(now))
        .bind(fmt_time(now))
        .execute(&mut *conn)
        .await?;
    }
    for f in &c.flags {
        sqlx::query(
            "INSERT INTO payment_flags (id, payment_id, attempt_id, kind, detail, created_at) \
                 VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&c.payment_id)
        .bind(f.attempt_id.clone())
        .bind(&f.kind)
        .bind(&f.detail)
        .bind(fmt_time(now))
        .execute(&mut *conn)
        .await?;
    }
    if let Some(cb) = &c.callback {
        insert_callback(&mut *conn, cb, now).await?;
    }
    if let Some(idem) = &c.idem {
        idem_finish(&mut *conn, idem).await?;
    }
    Ok(true)
}

/// The claim of an Idempotency-Key, inside the writer's transaction (so the insert, the read and
/// the take-over see one consistent state).
async fn idem_begin_in(
    conn: &mut sqlx::AnyConnection,
    portal: &str,
    key: &str,
    fingerprint: &str,
    now: OffsetDateTime,
    lock_for: time::Duration,
    keep_for: time::Duration,
) -> Result<IdemBegin, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (portal, idem_key, fingerprint, in_flight, locked_until, \
             created_at, expires_at) VALUES ($1,$2,$3,1,$4,$5,$6) \
             ON CONFLICT (portal, idem_key) DO NOTHING",
    )
    .bind(portal)
    .bind(key)
    .bind(fingerprint)
    .bind(fmt_time(now + lock_for))
    .bind(fmt_time(now))
    .bind(fmt_time(now + keep_for))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(IdemBegin::Proceed);
    }
    let row = sqlx::query(
        "SELECT fingerprint, in_flight, locked_until, status, response FROM idempotency_keys \
             WHERE portal = $1 AND idem_key = $2",
    )
    .bind(portal)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        // Purged between the two statements: treat as in flight; the client retries.
        return Ok(IdemBegin::InFlight);
    };
    if row.try_get::<String, _>("fingerprint")? != fingerprint {
        return Ok(IdemBegin::Mismatch);
    }
    if row.try_get::<i64, _>("in_flight")? == 0 {
        let status: i64 = row.try_get::<Option<i64>, _>("status")?.unwrap_or(500);
        return Ok(IdemBegin::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: row
                .try_get::<Option<String>, _>("response")?
                .unwrap_or_default(),
        });
    }
    let locked_until: String = row.try_get("locked_until")?;
    if parse_time(&locked_until)? < now {
        let took = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $1 WHERE portal = $2 AND \
                 idem_key = $3 AND in_flight = 1 AND locked_until = $4",
        )
        .bind(fmt_time(now + lock_for))
        .bind(portal)
        .bind(key)
        .bind(&locked_until)
        .execute(&mut *conn)
        .await?;
        if took.rows_affected() == 1 {
            return Ok(IdemBegin::Proceed);
        }
    }
    Ok(IdemBegin::InFlight)
}
