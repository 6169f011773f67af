//! The log as a service: checkpoints signed with the log's Ed25519 key, proofs and proof bundles
//! read from the store. This is the edge between the pure Merkle core and the database.
//!
//! The log refuses to sign a checkpoint that is not consistent with the last one it signed: it
//! proves consistency from the stored hashes first, so a database edited behind its back stops
//! getting checkpoints instead of getting a forked history signed.

use std::path::Path;

use time::OffsetDateTime;

use super::bundle::ProofBundle;
use super::entry::Pseudonymizer;
use super::merkle::{self, Hash};
use super::note::{Checkpoint, NoteSigner, NoteVerifier};
use crate::config::AuditConfig;
use crate::store::{Store, StoreError, StoredCheckpoint};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// RFC 9162 2.1.4: the stored tree does not extend the last signed one.
    #[error(
        "refusing to sign: the tree at size {new_size} is not consistent with the checkpoint at \
         size {old_size} ({detail})"
    )]
    Inconsistent {
        old_size: u64,
        new_size: u64,
        detail: String,
    },
    #[error("index {index} is not in a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than new size {new}, or new is beyond the log ({size})")]
    BadSizes { old: u64, new: u64, size: u64 },
    #[error("the stored tree is incomplete: {0}")]
    Incomplete(String),
    #[error("log key {path}: {detail}")]
    Key { path: String, detail: String },
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
}

/// The log: the store, the checkpoint key, the origin and the pseudonym key.
pub struct TransparencyLog {
    store: Store,
    signer: NoteSigner,
    origin: String,
    pseudonymizer: Pseudonymizer,
}

impl std::fmt::Debug for TransparencyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransparencyLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The checkpoint origin: the configured one, else `<host of public_url>/log`.
pub fn origin_of(audit: &AuditConfig, public_url: &str) -> String {
    if !audit.origin.is_empty() {
        return audit.origin.clone();
    }
    let host = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or("antin");
    format!("{host}/log")
}

impl TransparencyLog {
    /// Opens the log with the configured keys, creating them on first use when allowed.
    pub fn open(store: Store, audit: &AuditConfig, public_url: &str) -> Result<Self, LogError> {
        let origin = origin_of(audit, public_url);
        let pkcs8 = read_or_create(&audit.signing_key, audit.create_keys, || {
            NoteSigner::generate_pkcs8().map_err(|e| e.to_string())
        })?;
        let signer = NoteSigner::from_pkcs8(&origin, &pkcs8).map_err(|e| LogError::Key {
            path: audit.signing_key.display().to_string(),
            detail: e.to_string(),
        })?;
        let pkey = read_or_create(&audit.pseudonym_key, audit.create_keys, || {
            let mut k = vec![0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k)
                .map_err(|_| "the system random generator failed".to_string())?;
            Ok(k)
        })?;
        if pkey.len() < 16 {
            return Err(LogError::Key {
                path: audit.pseudonym_key.display().to_string(),
                detail: "a pseudonym key must have at least 16 bytes".into(),
            });
        }
        Ok(TransparencyLog {
            store,
            signer,
            origin,
            pseudonymizer: Pseudonymizer::new(&pkey),
        })
    }

    /// A log with the given keys (tests, benchmarks).
    pub fn with_keys(store: Store, signer: NoteSigner, pseudonym_key: &[u8]) -> Self {
        TransparencyLog {
            origin: signer.name().to_owned(),
            store,
            signer,
            pseudonymizer: Pseudonymizer::new(pseudonym_key),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key auditors use (`<name>+<id>+<key>`).
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    pub fn verifier(&self) -> Result<NoteVerifier, LogError> {
        NoteVerifier::parse(&self.signer.vkey()).map_err(|e| LogError::Sign(e.to_string()))
    }

    pub fn pseudonymizer(&self) -> &Pseudonymizer {
        &self.pseudonymizer
    }

    /// The root of the committed tree of `size` entries, from the stored subtree hashes.
    pub async fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        let plan = merkle::root_plan(size);
        let nodes = self.store.log_nodes(plan.nodes()).await?;
        let out = plan
            .assemble(|id| nodes.get(&id).copied())
            .map_err(|e| LogError::Incomplete(e.to_string()))?;
        out.first()
            .copied()
            .ok_or_else(|| LogError::Incomplete("empty root plan".into()))
    }

    /// Signs a checkpoint of the current tree, unless the latest one already covers it. Checks
    /// consistency with the previous checkpoint first.
    pub async fn checkpoint_now(&self, now: OffsetDateTime) -> Result<StoredCheckpoint, LogError> {
        // The latest checkpoint first, then the size: entries are only ever appended, so a size
        // read after the checkpoint is at least the checkpoint's, whatever other instances append
        // and sign in between. (Read the other way round, a checkpoint another instance signed
        // after our size read would look like the log shrinking.)
        let latest = self.store.log_latest_checkpoint().await?;
        let size = self.store.log_size().await?;
        if let Some(cp) = &latest {
            if cp.size == size {
                return Ok(cp.clone());
            }
            if cp.size > size {
                return Err(LogError::Inconsistent {
                    old_size: cp.size,
                    new_size: size,
                    detail: "the log is shorter than its last checkpoint".into(),
                });
            }
        }
        let root = self.root_at(size).await?;
        if let Some(cp) = &latest {
            let proof = self.consistency_proof(cp.size, size).await?;
            merkle::verify_consistency(cp.size, size, &cp.root, &root, &proof).map_err(|e| {
                LogError::Inconsistent {
                    old_size: cp.size,
                    new_size: size,
                    detail: e.to_string(),
                }
            })?;
        }
        let text = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        let note = self
            .signer
            .sign(&text)
            .map_err(|e| LogError::Sign(e.to_string()))?;
        let cp = StoredCheckpoint {
            size,
            root,
            note,
            created_at: now,
        };
        if self.store.log_insert_checkpoint(&cp).await? {
            tracing::info!(target: "antin::audit", size, "checkpoint signed");
            Ok(cp)
        } else {
            // Another instance signed this size first; its note is over the same tree.
            self.store
                .log_latest_checkpoint()
                .await?
                .ok_or_else(|| LogError::Incomplete("checkpoint vanished".into()))
        }
    }

    /// The latest checkpoint covering `index` (signing one when none does yet).
    pub async fn checkpoint_covering(
        &self,
        index: u64,
        now: OffsetDateTime,
    ) -> Result<StoredCheckpoint, LogError> {
        match self.store.log_latest_checkpoint().await? {
            Some(cp) if cp.size > index => Ok(cp),
            _ => self.checkpoint_now(now).await,
        }
    }

    /// RFC 9162 2.1.3: the inclusion proof of entry `index` in the tree of `size`.
    ///
    /// One query: the subtrees a tree of `size` is built from exist exactly when `size` entries
    /// are committed, so a missing one means the size is beyond the log.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if index >= size {
            return Err(LogError::OutOfRange { index, size });
        }
        let plan = merkle::inclusion_plan(index, size)
            .map_err(|_| LogError::OutOfRange { index, size })?;
        if plan.nodes().is_empty() && size > self.store.log_size().await? {
            return Err(LogError::OutOfRange { index, size });
        }
        let nodes = self.store.log_nodes(plan.nodes()).await?;
        plan.assemble(|id| nodes.get(&id).copied())
            .map_err(|_| LogError::OutOfRange { index, size })
    }

    /// RFC 9162 2.1.4: the consistency proof from the tree of `old` to the tree of `new`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        let bad = |size| LogError::BadSizes { old, new, size };
        if old > new {
            return Err(bad(self.store.log_size().await?));
        }
        let plan = merkle::consistency_plan(old, new).map_err(|_| bad(new))?;
        if plan.nodes().is_empty() {
            let size = self.store.log_size().await?;
            if new > size {
                return Err(bad(size));
            }
        }
        let nodes = self.store.log_nodes(plan.nodes()).await?;
        match plan.assemble(|id| nodes.get(&id).copied()) {
            Ok(p) => Ok(p),
            Err(_) => Err(bad(self.store.log_size().await?)),
        }
    }

    /// The offline proof bundle of one entry (c2sp.org/tlog-proof@v1), with the entry's exact
    /// bytes as `extra` so the bundle alone proves what was logged.
    pub async fn bundle(&self, index: u64, now: OffsetDateTime) -> Result<ProofBundle, LogError> {
        let size = self.store.log_size().await?;
        if index >= size {
            return Err(LogError::OutOfRange { index, size });
        }
        let cp = self.checkpoint_covering(index, now).await?;
        let proof = self.inclusion_proof(index, cp.size).await?;
        let entry = self
            .store
            .log_entries(index, index + 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.index == index)
            .ok_or_else(|| LogError::Incomplete(format!("entry {index} is missing")))?;
        Ok(ProofBundle {
            extra: Some(entry.body.into_bytes()),
            index,
            proof,
            checkpoint: cp.note,
        })
    }
}

fn read_or_create(
    path: &Path,
    create: bool,
    make: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, LogError> {
    let err = |detail: String| LogError::Key {
        path: path.display().to_string(),
        detail,
    };
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let bytes = make().map_err(err)?;
            if let Some(parent) = path.parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
                }
            }
            write_private(path, &bytes).map_err(|e| err(e.to_string()))?;
            tracing::info!(target: "antin::audit", path = %path.display(), "created a log key");
            Ok(bytes)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Writes a secret file readable by its owner only, refusing to overwrite one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
