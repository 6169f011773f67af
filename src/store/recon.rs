//! Reconciliation's tables: imported files and their rows, runs, discrepancies and resolutions.
//! Append-only: nothing here is updated or deleted. An import is one transaction (all of a file's
//! rows or none), keyed by the file's SHA-256; a statement number can be imported once.

use sqlx::any::AnyRow;
use sqlx::Row;
use time::{Date, Duration, OffsetDateTime};

use super::{fmt_time, Store, StoreError};
use crate::pay::ledger::PostingSet;
use crate::recon::model::*;
use crate::store::LogInput;

/// Rows per multi-row INSERT (well under SQLite's 32,766 bound parameters).
const CHUNK: usize = 100;

/// A file about to be imported.
#[derive(Debug, Clone)]
pub struct FileMeta {
    pub sha256: String,
    pub source: String,
    pub name: String,
    pub actor: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Stored, with this many rows.
    New(u64),
    /// The same file was imported before: nothing changed.
    AlreadyImported,
}

/// A discrepancy as stored, with its resolution if any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredDiscrepancy {
    pub id: String,
    pub run_id: String,
    pub run_date: String,
    pub discrepancy: Discrepancy,
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    pub id: String,
    pub reason: String,
    pub resolved_by: String,
    pub resolved_at: String,
    pub posting_ref: Option<String>,
}

/// A stored run: its id, the agency it was limited to, when it was made, what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    pub id: String,
    pub agency: Option<String>,
    pub created_at: OffsetDateTime,
    pub outcome: crate::recon::Outcome,
}

/// Rows of one file, streamed into an open import.
pub enum Rows {
    Gateway(Vec<GatewayRow>),
    Bank(Vec<BankEntry>),
}

fn dir_str(d: Direction) -> &'static str {
    match d {
        Direction::Credit => "credit",
        Direction::Debit => "debit",
    }
}

fn kind_str(k: TxnKind) -> &'static str {
    match k {
        TxnKind::Payment => "payment",
        TxnKind::Refund => "refund",
    }
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("recon {what} {v:?}"))
}

fn time_of(r: &AnyRow, col: &str) -> Result<OffsetDateTime, StoreError> {
    let s: String = r.try_get(col)?;
    crate::timefmt::parse_rfc3339(&s).ok_or_else(|| corrupt(col, &s))
}

/// A ledger transaction from a row of the attempts or refunds query in `recon_inputs`.
fn ledger_txn(
    r: &AnyRow,
    names: &mut Names,
    kind: TxnKind,
    status: impl Fn(&str) -> LedgerStatus,
) -> Result<LedgerTxn, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(LedgerTxn {
        id: text(r, "id")?,
        agency: name(r, "agency", names)?,
        fee_code: name(r, "fee_code", names)?,
        gateway: name(r, "gateway", names)?,
        kind,
        our_ref: text(r, "our_ref")?,
        gateway_txn: opt_text(r, "gateway_txn")?,
        amount: r.try_get("amount")?,
        status: status(&state),
        at: time_of(r, "updated_at")?,
        account: name(r, "collection_account", names)?,
    })
}

fn text(r: &AnyRow, col: &str) -> Result<Text, StoreError> {
    Ok(r.try_get::<&str, _>(col)?.into())
}

fn opt_text(r: &AnyRow, col: &str) -> Result<Option<Text>, StoreError> {
    Ok(r.try_get::<Option<&str>, _>(col)?.map(Text::from))
}

fn name(r: &AnyRow, col: &str, names: &mut Names) -> Result<Name, StoreError> {
    Ok(names.get(r.try_get::<&str, _>(col)?))
}

fn date_of(s: &str) -> Result<Date, StoreError> {
    crate::recon::config::parse_date(s).ok_or_else(|| corrupt("date", s))
}

impl Store {
    pub async fn recon_file_imported(&self, sha256: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM recon_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(n > 0)
    }

    /// Imports a file whose rows arrive in chunks on `rx` (the parser runs elsewhere and sends
    /// `Err` when it rejects the file, which rolls everything back). `statements` are checked
    /// for repeats against every earlier import.
    pub async fn recon_import(
        &self,
        meta: &FileMeta,
        mut rx: tokio::sync::mpsc::Receiver<Result<Rows, String>>,
        calendar: &crate::recon::Calendar,
        log: &LogInput,
        now: OffsetDateTime,
    ) -> Result<Result<Imported, String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taken first so that two importers of the same file queue here.
        let done = sqlx::query(
            "INSERT INTO recon_files (sha256, source, name, rows, imported_by, imported_at) \
             VALUES ($1,$2,$3,0,$4,$5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&meta.sha256)
        .bind(&meta.source)
        .bind(&meta.name)
        .bind(&meta.actor)
        .bind(fmt_time(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Ok(Imported::AlreadyImported));
        }
        let mut total: u64 = 0;
        let mut statements: Vec<Name> = Vec::new();
        while let Some(msg) = rx.recv().await {
            let rows = match msg {
                Ok(r) => r,
                Err(e) => {
                    tx.rollback().await?;
                    return Ok(Err(e));
                }
            };
            match rows {
                Rows::Gateway(rows) => {
                    for chunk in rows.chunks(CHUNK) {
                        let mut sql = String::from(
                            "INSERT INTO recon_gateway_rows (file_sha256, line, gateway, kind, \
                             our_ref, parent_ref, gateway_txn, amount, fee, net, status, at, \
                             business_date, text) VALUES ",
                        );
                        push_values(&mut sql, chunk.len(), 14);
                        let mut q = sqlx::query(&sql);
                        for r in chunk {
                            q = q
                                .bind(&meta.sha256)
                                .bind(r.origin.line as i64)
                                .bind(&*r.gateway)
                                .bind(kind_str(r.kind))
                                .bind(r.our_ref.as_str())
                                .bind(r.parent_ref.as_deref())
                                .bind(r.gateway_txn.as_str())
                                .bind(r.amount)
                                .bind(r.fee)
                                .bind(r.net)
                                .bind(match r.status {
                                    GatewayStatus::Paid => "paid",
                                    GatewayStatus::Failed => "failed",
                                })
                                .bind(fmt_time(r.at))
                                .bind(calendar.business_date(r.at).to_string())
                                .bind(r.text.as_str());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    total += rows.len() as u64;
                }
                Rows::Bank(rows) => {
                    for chunk in rows.chunks(CHUNK) {
                        let mut sql = String::from(
                            "INSERT INTO recon_bank_entries (file_sha256, line, statement_id, \
                             account, bank_ref, amount, direction, reversal, value_date, \
                             booked_at, memo, counterparty) VALUES ",
                        );
                        push_values(&mut sql, chunk.len(), 12);
                        let mut q = sqlx::query(&sql);
                        for e in chunk {
                            if statements.last() != Some(&e.statement_id)
                                && !statements.contains(&e.statement_id)
                            {
                                statements.push(e.statement_id.clone());
                            }
                            q = q
                                .bind(&meta.sha256)
                                .bind(e.origin.line as i64)
                                .bind(&*e.statement_id)
                                .bind(&*e.account)
                                .bind(e.bank_ref.as_str())
                                .bind(e.amount)
                                .bind(dir_str(e.direction))
                                .bind(i64::from(e.reversal))
                                .bind(e.value_date.to_string())
                                .bind(e.booked_at.map(fmt_time))
                                .bind(e.memo.as_str())
                                .bind(e.counterparty.as_deref());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    total += rows.len() as u64;
                }
            }
        }
        for s in &statements {
            let done = sqlx::query(
                "INSERT INTO recon_statements (statement_id, file_sha256) VALUES ($1,$2) \
                 ON CONFLICT (statement_id) DO NOTHING",
            )
            .bind(&**s)
            .bind(&meta.sha256)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Err(format!(
                    "statement {s} was already imported from another file"
                )));
            }
        }
        sqlx::query("UPDATE recon_files SET rows = $1 WHERE sha256 = $2")
            .bind(total as i64)
            .bind(&meta.sha256)
            .execute(&mut *tx)
            .await?;
        super::log::append_in(&mut tx, std::slice::from_ref(log), now).await?;
        tx.commit().await?;
        Ok(Ok(Imported::New(total)))
    }

    /// The inputs of a run for `date`: gateway rows of that business day, bank entries valued
    /// from that day to `until`, and ledger attempts and refunds decided within two days of it.
    pub async fn recon_inputs(
        &self,
        date: Date,
        until: Date,
    ) -> Result<crate::recon::matching::Inputs, StoreError> {
        let mut inputs = crate::recon::matching::Inputs::default();
        // Every row of a file names the same file: one shared copy per file.
        let mut files = Names::default();
        let rows = sqlx::query(
            "SELECT file_sha256, line, gateway, kind, our_ref, parent_ref, gateway_txn, amount, \
             fee, net, status, at, text FROM recon_gateway_rows WHERE business_date = $1",
        )
        .bind(date.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let kind: String = r.try_get("kind")?;
            let status: String = r.try_get("status")?;
            inputs.gateway.push(GatewayRow {
                gateway: files.get(r.try_get::<&str, _>("gateway")?),
                origin: Origin {
                    file: files.get(r.try_get::<&str, _>("file_sha256")?),
                    line: r.try_get::<i64, _>("line")? as u64,
                },
                kind: match kind.as_str() {
                    "payment" => TxnKind::Payment,
                    "refund" => TxnKind::Refund,
                    _ => return Err(corrupt("kind", &kind)),
                },
                our_ref: text(r, "our_ref")?,
                parent_ref: opt_text(r, "parent_ref")?,
                gateway_txn: text(r, "gateway_txn")?,
                amount: r.try_get("amount")?,
                fee: r.try_get("fee")?,
                net: r.try_get("net")?,
                status: if status == "failed" {
                    GatewayStatus::Failed
                } else {
                    GatewayStatus::Paid
                },
                at: time_of(r, "at")?,
                text: text(r, "text")?,
            });
        }
        let rows = sqlx::query(
            "SELECT file_sha256, line, statement_id, account, bank_ref, amount, direction, \
             reversal, value_date, booked_at, memo, counterparty FROM recon_bank_entries \
             WHERE value_date >= $1 AND value_date <= $2",
        )
        .bind(date.to_string())
        .bind(until.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let dir: String = r.try_get("direction")?;
            let vd: String = r.try_get("value_date")?;
            let booked: Option<String> = r.try_get("booked_at")?;
            inputs.bank.push(BankEntry {
                origin: Origin {
                    file: files.get(r.try_get::<&str, _>("file_sha256")?),
                    line: r.try_get::<i64, _>("line")? as u64,
                },
                statement_id: files.get(r.try_get::<&str, _>("statement_id")?),
                account: files.get(r.try_get::<&str, _>("account")?),
                bank_ref: text(r, "bank_ref")?,
                amount: r.try_get("amount")?,
                direction: if dir == "debit" {
                    Direction::Debit
                } else {
                    Direction::Credit
                },
                reversal: r.try_get::<i64, _>("reversal")? != 0,
                value_date: date_of(&vd)?,
                booked_at: booked.as_deref().and_then(crate::timefmt::parse_rfc3339),
                memo: text(r, "memo")?,
                counterparty: opt_text(r, "counterparty")?,
            });
        }
        // Decided within [date - 2 days, date + 3 days) UTC: the engine flags only `date`'s.
        let start = fmt_time(date.midnight().assume_utc() - Duration::days(2));
        let end = fmt_time(date.midnight().assume_utc() + Duration::days(3));
        // Attempts and refunds, each as one ledger transaction (same columns, aliased).
        let attempts = sqlx::query(
            "SELECT a.id, p.agency, p.fee_code, a.gateway, a.attempt_ref AS our_ref, \
             a.gateway_txn_id AS gateway_txn, a.amount, a.state, a.updated_at, p.collection_account \
             FROM payment_attempts a JOIN payments p ON p.id = a.payment_id \
             WHERE a.updated_at >= $1 AND a.updated_at < $2",
        )
        .bind(&start)
        .bind(&end)
        .fetch_all(&self.pool)
        .await?;
        for r in &attempts {
            inputs.ledger.push(ledger_txn(
                r,
                &mut files,
                TxnKind::Payment,
                |state| match state {
                    "succeeded" | "double_paid" => LedgerStatus::Succeeded,
                    "failed" | "cancelled" | "expired" => LedgerStatus::Failed,
                    _ => LedgerStatus::Pending,
                },
            )?);
        }
        let refunds = sqlx::query(
            "SELECT r.id, p.agency, p.fee_code, a.gateway, r.refund_ref AS our_ref, \
             r.gateway_refund_id AS gateway_txn, r.amount, r.state, r.updated_at, p.collection_account \
             FROM payment_refunds r JOIN payment_attempts a ON a.id = r.attempt_id \
             JOIN payments p ON p.id = r.payment_id \
             WHERE r.updated_at >= $1 AND r.updated_at < $2",
        )
        .bind(&start)
        .bind(&end)
        .fetch_all(&self.pool)
        .await?;
        for r in &refunds {
            inputs.ledger.push(ledger_txn(
                r,
                &mut files,
                TxnKind::Refund,
                |state| match state {
                    "succeeded" => LedgerStatus::Succeeded,
                    "failed" => LedgerStatus::Failed,
                    _ => LedgerStatus::Pending,
                },
            )?);
        }
        Ok(inputs)
    }

    /// Stores a run, its discrepancies and its log entry in one transaction; returns the run id.
    #[allow(clippy::too_many_arguments)]
    pub async fn recon_insert_run(
        &self,
        id: &str,
        date: Date,
        agency: Option<&str>,
        as_of: Date,
        outcome: &crate::recon::Outcome,
        actor: &str,
        log: &LogInput,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(outcome)
            .map_err(|e| StoreError::Invalid(format!("outcome: {e}")))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO recon_runs (id, run_date, agency, as_of, matched, discrepancies, outcome, \
             created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(id)
        .bind(date.to_string())
        .bind(agency.map(str::to_owned))
        .bind(as_of.to_string())
        .bind(outcome.matches.len() as i64)
        .bind(outcome.discrepancies.len() as i64)
        .bind(body)
        .bind(actor)
        .bind(fmt_time(now))
        .execute(&mut *tx)
        .await?;
        for d in &outcome.discrepancies {
            let body = serde_json::to_string(d)
                .map_err(|e| StoreError::Invalid(format!("discrepancy: {e}")))?;
            sqlx::query(
                "INSERT INTO recon_discrepancies (id, run_id, run_date, dkey, class, gateway, \
                 expected, actual, body, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(id)
            .bind(date.to_string())
            .bind(&d.key)
            .bind(d.class.as_str())
            .bind(&d.gateway)
            .bind(d.expected)
            .bind(d.actual)
            .bind(body)
            .bind(fmt_time(now))
            .execute(&mut *tx)
            .await?;
        }
        super::log::append_in(&mut tx, std::slice::from_ref(log), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest run of a day.
    pub async fn recon_latest_run(&self, date: Date) -> Result<Option<StoredRun>, StoreError> {
        let row = sqlx::query(
            "SELECT id, agency, created_at, outcome FROM recon_runs WHERE run_date = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(date.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let body: String = r.try_get("outcome")?;
            let outcome = serde_json::from_str(&body).map_err(|_| corrupt("outcome", "json"))?;
            Ok(StoredRun {
                id: r.try_get("id")?,
                agency: r.try_get("agency")?,
                created_at: time_of(&r, "created_at")?,
                outcome,
            })
        })
        .transpose()
    }

    /// Discrepancies of each day's latest run (of one day, or all), with their resolutions.
    pub async fn recon_discrepancies(
        &self,
        date: Option<Date>,
    ) -> Result<Vec<StoredDiscrepancy>, StoreError> {
        let sql = "SELECT d.id, d.run_id, d.run_date, d.body, s.id AS sid, s.reason, \
             s.resolved_by, s.resolved_at, s.posting_ref FROM recon_discrepancies d \
             LEFT JOIN recon_resolutions s ON s.run_date = d.run_date AND s.dkey = d.dkey \
             WHERE d.run_id = (SELECT r.id FROM recon_runs r WHERE r.run_date = d.run_date \
               ORDER BY r.created_at DESC, r.id DESC LIMIT 1) \
             AND ($1 = '' OR d.run_date = $1) ORDER BY d.run_date, d.class, d.dkey";
        let rows = sqlx::query(sql)
            .bind(date.map(|d| d.to_string()).unwrap_or_default())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored_discrepancy).collect()
    }

    pub async fn recon_discrepancy(
        &self,
        id: &str,
    ) -> Result<Option<StoredDiscrepancy>, StoreError> {
        let row = sqlx::query(
            "SELECT d.id, d.run_id, d.run_date, d.body, s.id AS sid, s.reason, s.resolved_by, \
             s.resolved_at, s.posting_ref FROM recon_discrepancies d \
             LEFT JOIN recon_resolutions s ON s.run_date = d.run_date AND s.dkey = d.dkey \
             WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_discrepancy).transpose()
    }

    /// Records a resolution (once per day and key), its correcting posting and its log entry in
    /// one transaction. `Ok(false)`: already resolved, nothing written.
    #[allow(clippy::too_many_arguments)]
    pub async fn recon_resolve(
        &self,
        d: &StoredDiscrepancy,
        resolution_id: &str,
        reason: &str,
        actor: &str,
        posting: Option<&PostingSet>,
        log: &LogInput,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO recon_resolutions (id, discrepancy_id, run_date, dkey, reason, \
             resolved_by, resolved_at, posting_ref) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) \
             ON CONFLICT (run_date, dkey) DO NOTHING",
        )
        .bind(resolution_id)
        .bind(&d.id)
        .bind(&d.run_date)
        .bind(&d.discrepancy.key)
        .bind(reason)
        .bind(actor)
        .bind(fmt_time(now))
        .bind(posting.map(|_| resolution_id.to_owned()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(set) = posting {
            let posting_id = uuid::Uuid::new_v4().to_string();
            for (n, line) in set.lines().iter().enumerate() {
                sqlx::query(
                    "INSERT INTO ledger_lines (posting_id, n, kind, payment_id, ref_id, account, \
                     amount, at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                )
                .bind(&posting_id)
                .bind(n as i64)
                .bind(set.kind.as_str())
                .bind(d.discrepancy.ledger.clone().unwrap_or_default())
                .bind(resolution_id)
                .bind(line.account.code())
                .bind(line.amount)
                .bind(fmt_time(now))
                .execute(&mut *tx)
                .await?;
            }
        }
        super::log::append_in(&mut tx, std::slice::from_ref(log), now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn push_values(sql: &mut String, rows: usize, cols: usize) {
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            sql.push('$');
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
}

fn stored_discrepancy(r: &AnyRow) -> Result<StoredDiscrepancy, StoreError> {
    let body: String = r.try_get("body")?;
    let discrepancy: Discrepancy =
        serde_json::from_str(&body).map_err(|_| corrupt("discrepancy", "json"))?;
    let sid: Option<String> = r.try_get("sid")?;
    let resolution = match sid {
        None => None,
        Some(id) => Some(Resolution {
            id,
            reason: r
                .try_get::<Option<String>, _>("reason")?
                .unwrap_or_default(),
            resolved_by: r
                .try_get::<Option<String>, _>("resolved_by")?
                .unwrap_or_default(),
            resolved_at: r
                .try_get::<Option<String>, _>("resolved_at")?
                .unwrap_or_default(),
            posting_ref: r.try_get("posting_ref")?,
        }),
    };
    Ok(StoredDiscrepancy {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        run_date: r.try_get("run_date")?,
        discrepancy,
        resolution,
    })
}
