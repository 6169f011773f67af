//! Signed documents: what antin issued, by document id, with its status (valid, revoked,
//! superseded). Each insert and status change commits with its transparency-log entry.

use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use super::{fmt_time, log, parse_time, LogInput, Store, StoreError};

/// One issued document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocumentRecord {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub caller: String,
    pub profile: String,
    pub agency: String,
    pub level: String,
    pub input_sha256: String,
    pub signed_sha256: String,
    pub signed_size: i64,
    pub signer_cert_sha256: String,
    pub signer_subject: String,
    pub dossier: Option<String>,
    /// valid | revoked | superseded
    pub status: String,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<OffsetDateTime>,
    /// What the agency publishes on the check page (absent on documents issued before 0005).
    pub document_type: Option<String>,
    pub document_number: Option<String>,
    pub published_signer: Option<String>,
    /// The document that replaces this one, when superseded.
    pub superseded_by: Option<String>,
}

/// One change of a document's status, as appended to its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChangeRecord {
    pub id: String,
    pub document_id: String,
    pub from_status: String,
    pub to_status: String,
    pub reason: String,
    pub replaced_by: Option<String>,
    /// The caller who asked for it (`key:<id>`).
    pub actor: String,
    pub created_at: OffsetDateTime,
    /// The transparency-log entry written with it (set by the store).
    pub log_index: u64,
}

const COLUMNS: &str =
    "id, created_at, caller, profile, agency, level, input_sha256, signed_sha256, \
     signed_size, signer_cert_sha256, signer_subject, dossier, status, status_reason, \
     status_changed_at, document_type, document_number, published_signer, superseded_by";

impl Store {
    /// Records an issued document and its log entries in one transaction.
    pub async fn insert_signed_document(
        &self,
        rec: &SignedDocumentRecord,
        log_entries: &[LogInput],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO signed_documents ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19)"
        ))
        .bind(&rec.id)
        .bind(fmt_time(rec.created_at))
        .bind(&rec.caller)
        .bind(&rec.profile)
        .bind(&rec.agency)
        .bind(&rec.level)
        .bind(&rec.input_sha256)
        .bind(&rec.signed_sha256)
        .bind(rec.signed_size)
        .bind(&rec.signer_cert_sha256)
        .bind(&rec.signer_subject)
        .bind(rec.dossier.as_deref())
        .bind(&rec.status)
        .bind(rec.status_reason.as_deref())
        .bind(rec.status_changed_at.map(fmt_time))
        .bind(rec.document_type.as_deref())
        .bind(rec.document_number.as_deref())
        .bind(rec.published_signer.as_deref())
        .bind(rec.superseded_by.as_deref())
        .execute(&mut *tx)
        .await?;
        log::append_in(&mut tx, log_entries, rec.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_signed_document(
        &self,
        id: &str,
    ) -> Result<Option<SignedDocumentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM signed_documents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| document_from_row(&r)).transpose()
    }

    /// The document antin issued whose signed file has this SHA-256 (lowercase hex), if any.
    pub async fn find_signed_document_by_sha256(
        &self,
        sha256: &str,
    ) -> Result<Option<SignedDocumentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM signed_documents WHERE signed_sha256 = $1 \
             ORDER BY created_at LIMIT 1"
        ))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| document_from_row(&r)).transpose()
    }

    /// Applies a status change if the document is still `change.from_status` (another request
    /// may have changed it meanwhile): the new status, the history row and the log entries commit
    /// together. Returns the change with its log index, or `None` (nothing written) when the
    /// document was not in `from_status` any more.
    pub async fn change_document_status(
        &self,
        change: &StatusChangeRecord,
        log_entries: &[LogInput],
    ) -> Result<Option<StatusChangeRecord>, StoreError> {
        if log_entries.is_empty() {
            return Err(StoreError::Invalid(
                "a status change needs its log entry".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE signed_documents SET status = $1, status_reason = $2, \
             status_changed_at = $3, superseded_by = COALESCE($4, superseded_by) \
             WHERE id = $5 AND status = $6",
        )
        .bind(&change.to_status)
        .bind(&change.reason)
        .bind(fmt_time(change.created_at))
        .bind(change.replaced_by.as_deref())
        .bind(&change.document_id)
        .bind(&change.from_status)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let indices = log::append_in(&mut tx, log_entries, change.created_at).await?;
        let log_index = indices
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("log append returned no index".into()))?;
        sqlx::query(
            "INSERT INTO document_status_history (id, document_id, from_status, to_status, \
             reason, replaced_by, actor, created_at, log_index) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&change.id)
        .bind(&change.document_id)
        .bind(&change.from_status)
        .bind(&change.to_status)
        .bind(&change.reason)
        .bind(change.replaced_by.as_deref())
        .bind(&change.actor)
        .bind(fmt_time(change.created_at))
        .bind(i64::try_from(log_index).map_err(|_| StoreError::Corrupt("log index".into()))?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(StatusChangeRecord {
            log_index,
            ..change.clone()
        }))
    }

    /// A document's status changes, oldest first.
    pub async fn document_status_history(
        &self,
        document_id: &str,
    ) -> Result<Vec<StatusChangeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, document_id, from_status, to_status, reason, replaced_by, actor, \
             created_at, log_index FROM document_status_history WHERE document_id = $1 \
             ORDER BY created_at, log_index LIMIT 100",
        )
        .bind(document_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusChangeRecord {
                    id: r.try_get("id")?,
                    document_id: r.try_get("document_id")?,
                    from_status: r.try_get("from_status")?,
                    to_status: r.try_get("to_status")?,
                    reason: r.try_get("reason")?,
                    replaced_by: r.try_get("replaced_by")?,
                    actor: r.try_get("actor")?,
                    created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
                    log_index: u64::try_from(r.try_get::<i64, _>("log_index")?)
                        .map_err(|_| StoreError::Corrupt("negative log index".into()))?,
                })
            })
            .collect()
    }
}

fn document_from_row(r: &AnyRow) -> Result<SignedDocumentRecord, StoreError> {
    Ok(SignedDocumentRecord {
        id: r.try_get("id")?,
        created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
        caller: r.try_get("caller")?,
        profile: r.try_get("profile")?,
        agency: r.try_get("agency")?,
        level: r.try_get("level")?,
        input_sha256: r.try_get("input_sha256")?,
        signed_sha256: r.try_get("signed_sha256")?,
        signed_size: r.try_get("signed_size")?,
        signer_cert_sha256: r.try_get("signer_cert_sha256")?,
        signer_subject: r.try_get("signer_subject")?,
        dossier: r.try_get("dossier")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        status_changed_at: r
            .try_get::<Option<String>, _>("status_changed_at")?
            .map(|s| parse_time(&s))
            .transpose()?,
        document_type: r.try_get("document_type")?,
        document_number: r.try_get("document_number")?,
        published_signer: r.try_get("published_signer")?,
        superseded_by: r.try_get("superseded_by")?,
    })
}
