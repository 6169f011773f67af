//! The verification report: what the engine concluded and the evidence it used, per ETSI EN 319 102-1
//! (indications and sub-indications) and Circular 15/2025 (the fields a result must show).
//!
//! The JSON form is language-neutral (codes plus English technical detail); `text` renders it for
//! people in Vietnamese or English.

use serde::{Deserialize, Serialize};

use crate::config::RevocationMode;

/// The overall result for a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every signature passed, and nothing disallowed changed after any of them.
    TotalPassed,
    TotalFailed,
    Indeterminate,
    /// The document carries no signature at all.
    NoSignature,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TotalPassed => "TOTAL_PASSED",
            Verdict::TotalFailed => "TOTAL_FAILED",
            Verdict::Indeterminate => "INDETERMINATE",
            Verdict::NoSignature => "NO_SIGNATURE",
        }
    }

    /// The CLI contract: 0 passed, 1 failed, 2 indeterminate, 3 no signature.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::TotalPassed => 0,
            Verdict::TotalFailed => 1,
            Verdict::Indeterminate => 2,
            Verdict::NoSignature => 3,
        }
    }
}

/// ETSI EN 319 102-1 5.1.3 main indication of one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    TotalPassed,
    TotalFailed,
    Indeterminate,
}

impl Indication {
    pub fn as_str(self) -> &'static str {
        match self {
            Indication::TotalPassed => "TOTAL_PASSED",
            Indication::TotalFailed => "TOTAL_FAILED",
            Indication::Indeterminate => "INDETERMINATE",
        }
    }
}

/// ETSI EN 319 102-1 5.1.3 sub-indications (table 5), plus the PDF-specific ones antin adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum SubIndication {
    // TOTAL_FAILED
    FormatFailure,
    HashFailure,
    SigCryptoFailure,
    Revoked,
    Expired,
    NotYetValid,
    /// Content not covered by the signature changed after signing (antin, PDF).
    ModifiedAfterSigning,
    /// `--expect-id` was given and this document carries no signature with that identifier.
    SignerIdMismatch,
    // INDETERMINATE
    NoCertificateChainFound,
    NoSigningCertificateFound,
    CertificateChainGeneralFailure,
    ChainConstraintsFailure,
    SigConstraintsFailure,
    CryptoConstraintsFailure,
    CryptoConstraintsFailureNoPoe,
    RevokedNoPoe,
    RevokedCaNoPoe,
    OutOfBoundsNoPoe,
    OutOfBoundsNotRevoked,
    RevocationOutOfBoundsNoPoe,
    TryLater,
    TimestampOrderFailure,
    SignedDataNotFound,
    PolicyProcessingError,
    NoPoe,
}

impl SubIndication {
    pub fn as_str(self) -> &'static str {
        match self {
            SubIndication::FormatFailure => "FORMAT_FAILURE",
            SubIndication::HashFailure => "HASH_FAILURE",
            SubIndication::SigCryptoFailure => "SIG_CRYPTO_FAILURE",
            SubIndication::Revoked => "REVOKED",
            SubIndication::Expired => "EXPIRED",
            SubIndication::NotYetValid => "NOT_YET_VALID",
            SubIndication::ModifiedAfterSigning => "MODIFIED_AFTER_SIGNING",
            SubIndication::SignerIdMismatch => "SIGNER_ID_MISMATCH",
            SubIndication::NoCertificateChainFound => "NO_CERTIFICATE_CHAIN_FOUND",
            SubIndication::NoSigningCertificateFound => "NO_SIGNING_CERTIFICATE_FOUND",
            SubIndication::CertificateChainGeneralFailure => "CERTIFICATE_CHAIN_GENERAL_FAILURE",
            SubIndication::ChainConstraintsFailure => "CHAIN_CONSTRAINTS_FAILURE",
            SubIndication::SigConstraintsFailure => "SIG_CONSTRAINTS_FAILURE",
            SubIndication::CryptoConstraintsFailure => "CRYPTO_CONSTRAINTS_FAILURE",
            SubIndication::CryptoConstraintsFailureNoPoe => "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
            SubIndication::RevokedNoPoe => "REVOKED_NO_POE",
            SubIndication::RevokedCaNoPoe => "REVOKED_CA_NO_POE",
            SubIndication::OutOfBoundsNoPoe => "OUT_OF_BOUNDS_NO_POE",
            SubIndication::OutOfBoundsNotRevoked => "OUT_OF_BOUNDS_NOT_REVOKED",
            SubIndication::RevocationOutOfBoundsNoPoe => "REVOCATION_OUT_OF_BOUNDS_NO_POE",
            SubIndication::TryLater => "TRY_LATER",
            SubIndication::TimestampOrderFailure => "TIMESTAMP_ORDER_FAILURE",
            SubIndication::SignedDataNotFound => "SIGNED_DATA_NOT_FOUND",
            SubIndication::PolicyProcessingError => "POLICY_PROCESSING_ERROR",
            SubIndication::NoPoe => "NO_POE",
        }
    }

    /// The main indication each sub-indication belongs to (EN 319 102-1 table 5).
    pub fn indication(self) -> Indication {
        match self {
            SubIndication::FormatFailure
            | SubIndication::HashFailure
            | SubIndication::SigCryptoFailure
            | SubIndication::Revoked
            | SubIndication::Expired
            | SubIndication::NotYetValid
            | SubIndication::ModifiedAfterSigning
            | SubIndication::SignerIdMismatch => Indication::TotalFailed,
            _ => Indication::Indeterminate,
        }
    }
}

/// A finding, with a stable code and an English technical detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub code: String,
    pub detail: String,
}

impl Note {
    pub fn new(code: &str, detail: impl Into<String>) -> Self {
        Note {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub verdict: Verdict,
    /// The time the signatures were judged at (RFC 3339, Vietnam time).
    pub validation_time: String,
    pub document: DocumentInfo,
    pub policy: PolicyInfo,
    pub expected_signer_id: Option<ExpectedSignerId>,
    pub signatures: Vec<SignatureReport>,
    pub warnings: Vec<Note>,
    /// One plain sentence for the clerk, in Vietnamese and English.
    #[serde(default)]
    pub summary: Summary,
}

/// The report's one-sentence summary in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub vi: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub sha256: String,
    pub size: u64,
    /// true: a detached CMS over arbitrary data; false: a PDF.
    pub detached: bool,
    pub revisions: Option<usize>,
    /// What each incremental update after the first signed revision changed, and whether the
    /// whitelist permits it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::verify::diff::RevisionDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub revocation: RevocationMode,
    pub offline: bool,
    pub algorithm_policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSignerId {
    pub value: String,
    pub found: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    Signature,
    DocumentTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// Proven by a verified RFC 3161 timestamp (a proof of existence).
    Timestamp,
    /// Claimed by the signer (/M in the PDF or the signingTime attribute): not proven.
    Claimed,
    /// No time given; the validation time is used.
    ValidationTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureReport {
    pub index: usize,
    pub kind: SignatureKind,
    pub field_name: Option<String>,
    pub sub_filter: Option<String>,
    pub indication: Indication,
    pub sub_indication: Option<SubIndication>,
    pub signer: Option<SignerReport>,
    /// The certification path, signer first, trust anchor last.
    pub chain: Vec<CertReport>,
    pub signing_time: Option<String>,
    pub signing_time_source: TimeSource,
    pub claimed_signing_time: Option<String>,
    pub timestamp: Option<TimestampReport>,
    pub revocation: Vec<RevocationReport>,
    pub coverage: Option<CoverageReport>,
    pub algorithms: Option<AlgorithmReport>,
    pub checks: Checks,
    /// DocMDP permission level of a certification signature (1, 2 or 3).
    pub docmdp: Option<u8>,
    /// The worst change made after the revision this signature covers: NONE, PERMITTED or
    /// DISALLOWED (then the signature is TOTAL_FAILED / MODIFIED_AFTER_SIGNING).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifications: Option<crate::verify::diff::Level>,
    /// The PAdES baseline level the signature reaches (ETSI EN 319 142-1 6): B-B, B-T (a valid
    /// signature or document timestamp over it), B-LT (plus validation data in the DSS), B-LTA (plus
    /// a valid document timestamp over that DSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub errors: Vec<Note>,
    pub warnings: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerReport {
    pub name: Option<String>,
    pub organization: Option<String>,
    pub identifiers: Vec<IdentifierReport>,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub certificate_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierReport {
    /// CCCD, CMND, HC, MST, MNS, BHXH, PID, PPID, or the prefix as written.
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertReport {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub sha256: String,
    pub trust_anchor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampReport {
    pub time: String,
    pub tsa: Option<String>,
    pub serial: Option<String>,
    pub indication: Indication,
    pub sub_indication: Option<SubIndication>,
    pub chain: Vec<CertReport>,
    pub errors: Vec<Note>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatusReport {
    Good,
    Revoked,
    Unknown,
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationReport {
    pub subject: String,
    pub serial: String,
    pub status: RevocationStatusReport,
    /// crl | ocsp, when evidence was used.
    pub source: Option<String>,
    /// Where the evidence came from: embedded (in the PDF / CMS), supplied (--crl), fetched.
    pub origin: Option<String>,
    pub this_update: Option<String>,
    pub next_update: Option<String>,
    pub revoked_at: Option<String>,
    pub reason: Option<String>,
    /// Evidence issued at or after the signing time.
    pub fresh: bool,
    pub evidence_sha256: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageReport {
    pub byte_range: Option<Vec<i64>>,
    /// whole_file | revision | non_standard
    pub status: String,
    /// 1-based revision the signature covers.
    pub revision: Option<usize>,
    /// Incremental updates after the signed revision.
    pub later_revisions: usize,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgorithmReport {
    pub digest: String,
    pub signature: String,
    pub public_key: String,
}

/// Each check of Circular 15/2025's list, as passed / failed / not applicable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checks {
    pub integrity: Check,
    pub signature_value: Check,
    pub signing_certificate_binding: Check,
    pub certificate_path: Check,
    pub validity_at_signing_time: Check,
    pub revocation: Check,
    pub algorithms: Check,
    pub coverage: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Passed,
    Failed,
    Warning,
    #[default]
    NotChecked,
}
