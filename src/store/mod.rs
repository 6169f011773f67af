//! Storage: SQLite by default, PostgreSQL when configured, through one code path (sqlx's `Any`
//! driver with `$N` placeholders, which both databases accept).
//!
//! Several antin instances may share one PostgreSQL database: every row is keyed by a random id,
//! migrations take PostgreSQL's advisory lock, and nothing is read-modify-written outside a
//! transaction. This module never decides anything; it stores what the cores computed.

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use crate::config::DatabaseConfig;

pub mod documents;
mod group;
pub mod log;
pub mod node_cache;
pub mod payments;
pub mod recon;

pub use documents::{SignedDocumentRecord, StatusChangeRecord};
pub use log::{LogInput, StoredCheckpoint};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("refused to store: {0}")]
    Invalid(String),
    /// The batch this write was part of did not commit (nothing of it was written).
    #[error("the write was not committed: {0}")]
    Commit(String),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The log's subtree hashes already read (immutable once committed): see node_cache.rs.
    nodes: std::sync::Arc<node_cache::NodeCache>,
    /// The group-commit writer (`database.group_commit`), if enabled.
    writer: Option<group::GroupWriter>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// An API key as stored: only the SHA-256 of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub key_hash: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// One verification request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub caller: String,
    pub document_sha256: String,
    pub document_size: i64,
    pub detached: bool,
    pub verdict: String,
    pub signature_count: i64,
    pub report_json: String,
}

/// A piece of evidence a verification relied on (CRL, OCSP response, certificate, timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceItem {
    pub sha256: String,
    pub kind: String,
    pub der: Vec<u8>,
}

impl Store {
    /// Connects, creating the SQLite file and its folder if needed, and runs the migrations.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Self, StoreError> {
        Self::connect_with_mmap(cfg, 0).await
    }

    /// Connects for an auditor who reads the whole log (`antin audit ... --database`): on SQLite
    /// the file is read through a memory map of up to 2 GiB (SQLite's compiled-in ceiling), which
    /// spares a copy and a system call per page read (verify-log of 1M entries 3.6 -> 2.3 s).
    /// Not used by the service: with a map, an I/O error or a file truncated under it ends the
    /// process (SIGBUS) instead of returning an error; an auditor's run can simply be repeated.
    pub async fn connect_for_audit(cfg: &DatabaseConfig) -> Result<Self, StoreError> {
        Self::connect_with_mmap(cfg, 2 << 30).await
    }

    async fn connect_with_mmap(cfg: &DatabaseConfig, mmap_bytes: u64) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = cfg.url.expose_secret();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            let file = path.split('?').next().unwrap_or(path);
            if file != ":memory:" {
                if let Some(parent) = std::path::Path::new(file).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                            path: parent.display().to_string(),
                            source,
                        })?;
                    }
                }
            }
            let url = if path.contains('?') {
                format!("sqlite://{path}")
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, url.to_owned())
        };
        let options = sqlx::any::AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.max_connections.max(1))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durable commits: in WAL mode only FULL syncs the log at every commit
                        // (NORMAL may lose the last transactions on power failure).
                        sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = FULL").await?;
                        if mmap_bytes > 0 {
                            let pragma = format!("PRAGMA mmap_size = {mmap_bytes}");
                            sqlx::Executor::execute(&mut *conn, pragma.as_str()).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL: readers never wait for the writer, and one fsync per commit (of the log).
            // Persistent in the file; an in-memory database stays "memory".
            sqlx::Executor::execute(&pool, "PRAGMA journal_mode = WAL").await?;
        }
        let writer = cfg
            .group_commit
            .then(|| group::GroupWriter::spawn(pool.clone(), backend));
        let store = Store {
            pool,
            backend,
            nodes: std::sync::Arc::new(node_cache::NodeCache::new(
                node_cache::DEFAULT_BUDGET_NODES,
            )),
            writer,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same store with an in-memory copy of the log's subtree hashes of at most
    /// `budget_nodes` nodes (32 bytes each; 0: proofs always read the database).
    pub fn with_node_cache(mut self, budget_nodes: usize) -> Self {
        self.nodes = std::sync::Arc::new(node_cache::NodeCache::new(budget_nodes));
        self
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs a write job in a transaction: batched with concurrent ones by the group-commit writer
    /// when enabled, else alone. The result is returned only once the transaction committed; an
    /// error of the job rolls back its own writes only.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut sqlx::AnyConnection,
            )
                -> futures_util::future::BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.write_logged(move |conn| {
            let fut = f(conn);
            Box::pin(async move { Ok((fut.await?, group::Logged::none())) })
        })
        .await
    }

    /// [`Store::write`] for a job that hands back the log entries its change commits with: they
    /// are appended in the same transaction after the job (with group commit, once for the whole
    /// batch).
    pub(crate) async fn write_logged<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut sqlx::AnyConnection,
            ) -> futures_util::future::BoxFuture<
                'c,
                Result<(T, group::Logged), StoreError>,
            > + Send
            + 'static,
    {
        match &self.writer {
            Some(w) => w.write(f).await,
            None => {
                let mut tx = self.pool.begin().await?;
                let (out, logged) = f(&mut tx).await?;
                if let Some((entries, at)) = logged.into_parts() {
                    log::append_in(&mut tx, &entries, at).await?;
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // --- API keys -------------------------------------------------------------------------------

    /// Stores a new key and its log entries in one transaction.
    pub async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        log: &[LogInput],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, key_hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.role)
        .bind(&key.key_hash)
        .bind(fmt_time(key.created_at))
        .execute(&mut *tx)
        .await?;
        log::append_in(&mut tx, log, key.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn find_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, key_hash, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| api_key_from_row(&r)).transpose()
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, key_hash, created_at, revoked_at FROM api_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    pub async fn count_api_keys(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Revokes a key and logs it in one transaction; returns false (and logs nothing) when no
    /// active key has that id.
    pub async fn revoke_api_key(
        &self,
        id: &str,
        at: OffsetDateTime,
        log: &[LogInput],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(fmt_time(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        log::append_in(&mut tx, log, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    // --- Verifications --------------------------------------------------------------------------

    /// Stores a verification, links its evidence and appends its log entries, in one transaction.
    pub async fn insert_verification(
        &self,
        rec: &VerificationRecord,
        evidence: &[EvidenceItem],
        log: &[LogInput],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO verifications (id, created_at, caller, document_sha256, document_size, \
             detached, verdict, signature_count, report_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&rec.id)
        .bind(fmt_time(rec.created_at))
        .bind(&rec.caller)
        .bind(&rec.document_sha256)
        .bind(rec.document_size)
        .bind(i64::from(rec.detached))
        .bind(&rec.verdict)
        .bind(rec.signature_count)
        .bind(&rec.report_json)
        .execute(&mut *tx)
        .await?;
        for item in evidence {
            sqlx::query(
                "INSERT INTO evidence (sha256, kind, der, first_seen) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&item.sha256)
            .bind(&item.kind)
            .bind(item.der.clone())
            .bind(fmt_time(rec.created_at))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO verification_evidence (verification_id, sha256) VALUES ($1, $2) \
                 ON CONFLICT (verification_id, sha256) DO NOTHING",
            )
            .bind(&rec.id)
            .bind(&item.sha256)
            .execute(&mut *tx)
            .await?;
        }
        log::append_in(&mut tx, log, rec.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_verification(
        &self,
        id: &str,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, created_at, caller, document_sha256, document_size, detached, verdict, \
             signature_count, report_json FROM verifications WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(VerificationRecord {
            id: r.try_get("id")?,
            created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
            caller: r.try_get("caller")?,
            document_sha256: r.try_get("document_sha256")?,
            document_size: r.try_get("document_size")?,
            detached: r.try_get::<i64, _>("detached")? != 0,
            verdict: r.try_get("verdict")?,
            signature_count: r.try_get("signature_count")?,
            report_json: r.try_get("report_json")?,
        }))
    }

    /// The evidence linked to a verification, in a stable order.
    pub async fn verification_evidence(&self, id: &str) -> Result<Vec<EvidenceItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.sha256, e.kind, e.der FROM evidence e \
             JOIN verification_evidence v ON v.sha256 = e.sha256 \
             WHERE v.verification_id = $1 ORDER BY e.kind, e.sha256",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EvidenceItem {
                    sha256: r.try_get("sha256")?,
                    kind: r.try_get("kind")?,
                    der: r.try_get("der")?,
                })
            })
            .collect()
    }
}

fn api_key_from_row(r: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        key_hash: r.try_get("key_hash")?,
        created_at: parse_time(&r.try_get::<String, _>("created_at")?)?,
        revoked_at: r
            .try_get::<Option<String>, _>("revoked_at")?
            .map(|s| parse_time(&s))
            .transpose()?,
    })
}

/// Times are stored as RFC 3339 UTC text with a fixed width, so they also sort correctly as text.
pub fn fmt_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&format)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("bad time {s:?}: {e}")))
}
