//! Signature verification: the policy, the engine (a pure core) and the report.
//!
//! `engine` decides; it takes the document, the trust anchors, the time and the revocation data as
//! arguments. `Verifier` is the edge around it: it runs the engine off the async runtime, fetches
//! missing revocation data when allowed, and runs the engine again with it.

pub mod diff;
pub mod engine;
pub mod report;
mod signature;
pub mod text;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::{AlgorithmPolicyName, RevocationMode, VerifyConfig};
use crate::pki::revocation::RevocationData;
use crate::store::EvidenceItem;
pub use report::Report;

/// What to verify.
#[derive(Debug, Clone)]
pub enum Input {
    /// A PDF with embedded signatures.
    Pdf(Vec<u8>),
    /// Arbitrary data and a detached CMS signature over it (DER or PEM).
    Detached { data: Vec<u8>, signature: Vec<u8> },
}

/// The knobs of one verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub revocation: RevocationMode,
    pub offline: bool,
    /// Validate as of this time instead of now.
    pub at: Option<OffsetDateTime>,
    pub expected_signer_id: Option<String>,
    pub algorithm_policy: AlgorithmPolicyName,
    /// CRLs supplied by the caller (DER or PEM), in addition to what the document embeds.
    pub extra_crls: Vec<Vec<u8>>,
}

impl VerifyOptions {
    pub fn from_config(c: &VerifyConfig) -> Self {
        VerifyOptions {
            revocation: c.revocation,
            offline: c.offline,
            at: None,
            expected_signer_id: None,
            algorithm_policy: c.algorithm_policy,
            extra_crls: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The input is not a PDF / CMS we can read at all (a report cannot even be started).
    #[error("unreadable input: {0}")]
    Unreadable(String),
    #[error("verification task failed: {0}")]
    Task(String),
}

/// A report and the evidence it relied on (to be stored with it).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub evidence: Vec<EvidenceItem>,
}

/// The verification service: trust store, fetcher, and the engine.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<engine::Context>,
}

impl Verifier {
    pub fn new(context: engine::Context) -> Self {
        Verifier {
            inner: Arc::new(context),
        }
    }

    pub fn context(&self) -> &engine::Context {
        &self.inner
    }

    /// Verifies off the async runtime's worker threads.
    pub async fn verify(
        &self,
        input: Input,
        options: VerifyOptions,
        now: OffsetDateTime,
    ) -> Result<Outcome, VerifyError> {
        let ctx = self.inner.clone();
        let first = {
            let (input, options) = (input.clone(), options.clone());
            let ctx = ctx.clone();
            tokio::task::spawn_blocking(move || {
                ctx.run(&input, &options, now, &RevocationData::default())
            })
            .await
            .map_err(|e| VerifyError::Task(e.to_string()))??
        };
        if options.offline
            || options.revocation == RevocationMode::Skip
            || first.missing_revocation.is_empty()
        {
            return Ok(first.outcome);
        }
        let fetched = ctx.fetch_missing(&first.missing_revocation).await;
        if fetched.crls.is_empty() && fetched.ocsp_responses.is_empty() {
            return Ok(first.outcome);
        }
        let second = tokio::task::spawn_blocking(move || ctx.run(&input, &options, now, &fetched))
            .await
            .map_err(|e| VerifyError::Task(e.to_string()))??;
        Ok(second.outcome)
    }
}
