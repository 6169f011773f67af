//! Signed documents: what antin issued, by document id, with its status (valid, revoked,
//! superseded). Each insert and status change commits with its transparency-log entry.

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
}

const COLUMNS: &str =
    "id, created_at, caller, profile, agency, level, input_sha256, signed_sha256, \
     signed_size, signer_cert_sha256, signer_subject, dossier, status, status_reason, \
     status_changed_at";

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
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
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
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SignedDocumentRecord {
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
        }))
    }
}
