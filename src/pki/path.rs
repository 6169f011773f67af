//! Certification path building and validation (RFC 5280 6.1) at a given time, with OpenSSL's
//! builder and verifier (`X509_verify_cert`).
//!
//! Inputs are all arguments: the leaf, untrusted certificates (from the CMS and the PDF's DSS), the
//! [`TrustStore`], the validation time, the purpose and the policy parameters. The path ends at the
//! first configured anchor reached (partial chains allowed: an anchor need not be self-signed, and a
//! leaf that is itself an anchor is trusted directly). This module never reads the clock, files or
//! the network; revocation by CRL/OCSP at the signing time is `revocation`'s job, but OpenSSL's own
//! CRL checking can be switched on with [`NativeCrlCheck`] (used by the PKITS conformance run).
//!
//! OpenSSL builds the path (trusted-first, alternative chains); when its first path reaches no
//! anchor, a bounded number of alternatives are tried by setting aside the untrusted certificate
//! at the top of the failed path (cross-certificates, re-issued CAs).
//!
//! Errors keep OpenSSL's first failure, except that a time failure (expired, not yet valid) is only
//! reported when the path has no other defect: the engine may forgive time failures given a proof of
//! existence (ETSI EN 319 102-1 5.2.6), never the others.

use crate::pki::ossl_ffi;
use crate::pki::trust::{name_string, subject_string, TrustStore};
use openssl::asn1::{Asn1Object, Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{
    CrlStatus, X509Crl, X509ExtendedKeyUsage, X509KeyUsage, X509Ref, X509StoreContext, X509,
};
use time::OffsetDateTime;

/// Longest path accepted (certificates between leaf and anchor); bounds the builder's work.
pub const MAX_PATH_DEPTH: i32 = 16;

/// How many alternative paths are tried when OpenSSL's first path finds no anchor.
pub const MAX_ALTERNATIVE_PATHS: usize = 8;

/// anyPolicy (RFC 5280 4.2.1.4).
pub const ANY_POLICY: &str = "2.5.29.32.0";

/// What the leaf certificate is validated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// A signer of documents: keyUsage, when present, must allow digitalSignature or
    /// nonRepudiation (RFC 5280 4.2.1.3; Circular 15/2025 recommends the check).
    DocumentSigning,
    /// A time-stamping unit: extendedKeyUsage must contain id-kp-timeStamping (RFC 3161 2.3).
    Timestamping,
    /// A delegated OCSP responder: extendedKeyUsage must contain id-kp-OCSPSigning (RFC 6960 4.2.2.2).
    OcspSigning,
    /// No purpose check on the leaf.
    Any,
}

/// The policy inputs of RFC 5280 6.1.1 (c), (e), (f), (g). The default accepts any policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathPolicy {
    /// user-initial-policy-set as dotted OIDs; empty means {anyPolicy}.
    pub initial_policy_set: Vec<String>,
    /// initial-explicit-policy.
    pub explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    pub inhibit_any_policy: bool,
}

/// OpenSSL-native CRL checking during path validation (RFC 5280 6.3), at the validation time.
#[derive(Default)]
pub struct NativeCrlCheck {
    /// Candidate CRLs (complete and delta).
    pub crls: Vec<X509Crl>,
    /// Check every certificate of the path, not only the leaf.
    pub check_all: bool,
    /// Use delta CRLs (RFC 5280 5.2.4).
    pub use_deltas: bool,
}

/// Everything `validate_path` needs.
pub struct PathInputs<'a> {
    /// The certificate to validate (the signer's).
    pub leaf: &'a X509,
    /// Untrusted certificates that may help build the path (CMS certificates, DSS certificates).
    pub untrusted: &'a [X509],
    /// Anchors and configured intermediates.
    pub trust: &'a TrustStore,
    /// The time at which the path must be valid.
    pub time: OffsetDateTime,
    /// What the leaf is for.
    pub purpose: Purpose,
    /// Certificate policy inputs.
    pub policy: PathPolicy,
    /// OpenSSL-native CRL checking, if wanted.
    pub native_crls: Option<NativeCrlCheck>,
}

impl<'a> PathInputs<'a> {
    /// Inputs with no extra certificates, the default policy (any) and no native CRL checking.
    pub fn new(
        leaf: &'a X509,
        trust: &'a TrustStore,
        time: OffsetDateTime,
        purpose: Purpose,
    ) -> Self {
        PathInputs {
            leaf,
            untrusted: &[],
            trust,
            time,
            purpose,
            policy: PathPolicy::default(),
            native_crls: None,
        }
    }
}

/// The outcome: the path found (leaf first, anchor last when valid; what could be built when not),
/// and whether it is valid.
#[derive(Debug)]
pub struct PathResult {
    /// Leaf first .. anchor last (on success).
    pub chain: Vec<X509>,
    /// `Ok` when the path is valid at the requested time for the purpose.
    pub result: Result<(), PathError>,
}

impl PathResult {
    /// The trust anchor that ends the path, when it is valid.
    pub fn anchor(&self) -> Option<&X509> {
        match self.result {
            Ok(()) => self.chain.last(),
            Err(_) => None,
        }
    }
}

/// Why a path is not valid. [`PathError::sub_indication`] maps each to ETSI EN 319 102-1 (table 5):
///
/// | variant | sub-indication |
/// |---|---|
/// | `NoChain` | NO_CERTIFICATE_CHAIN_FOUND |
/// | `Expired`, `NotYetValid` | the engine decides (EXPIRED, NOT_YET_VALID, OUT_OF_BOUNDS_NO_POE) |
/// | `BasicConstraints`, `PathLength`, `NameConstraints`, `Policy` | CHAIN_CONSTRAINTS_FAILURE |
/// | `KeyUsage` on the leaf | SIG_CONSTRAINTS_FAILURE (on a CA: CHAIN_CONSTRAINTS_FAILURE) |
/// | `Revoked` | REVOKED |
/// | `RevocationUnavailable` | TRY_LATER |
/// | `BadCertSignature`, `UnknownCriticalExtension`, `Other`, `Internal` | CERTIFICATE_CHAIN_GENERAL_FAILURE |
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// No path from the leaf to a configured anchor (RFC 5280 6.1; EN 319 102-1 5.2.6).
    #[error("no certificate chain to a trust anchor for {subject}: {detail}")]
    NoChain {
        /// The certificate whose issuer could not be found or trusted.
        subject: String,
        /// OpenSSL's explanation.
        detail: String,
    },
    /// A certificate of the path had expired at the validation time (RFC 5280 6.1.3 (a)(2)).
    #[error("certificate {subject} expired at {not_after}")]
    Expired {
        /// The expired certificate.
        subject: String,
        /// Its notAfter.
        not_after: OffsetDateTime,
        /// Its position (0 = leaf).
        depth: u32,
    },
    /// A certificate of the path was not yet valid at the validation time (RFC 5280 6.1.3 (a)(2)).
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid {
        /// The certificate.
        subject: String,
        /// Its notBefore.
        not_before: OffsetDateTime,
        /// Its position (0 = leaf).
        depth: u32,
    },
    /// An issuer is not a CA (basicConstraints, RFC 5280 6.1.4 (k)).
    #[error("certificate {subject} is not a CA but issues another certificate")]
    BasicConstraints {
        /// The certificate that is not a CA.
        subject: String,
    },
    /// pathLenConstraint exceeded (RFC 5280 6.1.4 (l), (m)).
    #[error("path length constraint of {subject} exceeded")]
    PathLength {
        /// The certificate whose constraint is violated (or the deepest one).
        subject: String,
    },
    /// Name constraints violated or not processable (RFC 5280 6.1.3 (b), (c), 4.2.1.10).
    #[error("name constraints violated at {subject}: {detail}")]
    NameConstraints {
        /// The certificate whose names violate the constraints.
        subject: String,
        /// OpenSSL's explanation.
        detail: String,
    },
    /// Certificate policy processing failed (RFC 5280 6.1.3 (d)-(f), 6.1.5 (g)).
    #[error("certificate policy check failed: {detail}")]
    Policy {
        /// OpenSSL's explanation.
        detail: String,
    },
    /// keyUsage / extendedKeyUsage do not allow the use (RFC 5280 4.2.1.3, 4.2.1.12, 6.1.4 (n)).
    #[error("key usage of {subject} does not allow this use: {detail}")]
    KeyUsage {
        /// The certificate.
        subject: String,
        /// Its position (0 = leaf).
        depth: u32,
        /// What is missing.
        detail: String,
    },
    /// A certificate signature does not verify with its issuer's key (RFC 5280 6.1.3 (a)(1)).
    #[error("signature of certificate {subject} does not verify")]
    BadCertSignature {
        /// The certificate with the bad signature.
        subject: String,
    },
    /// A critical extension the verifier does not process (RFC 5280 4.2).
    #[error("certificate {subject} has an unsupported critical extension")]
    UnknownCriticalExtension {
        /// The certificate.
        subject: String,
    },
    /// A certificate of the path is revoked at the validation time (RFC 5280 6.1.3 (a)(3)).
    #[error("certificate {subject} (serial {serial}) is revoked")]
    Revoked {
        /// The revoked certificate.
        subject: String,
        /// Its serial number (hex).
        serial: String,
        /// The revocation date, when a CRL entry was found.
        revoked_at: Option<OffsetDateTime>,
        /// The CRL reason code (RFC 5280 5.3.1), when present.
        reason: Option<i32>,
    },
    /// Native CRL checking was asked for but no usable CRL was found (RFC 5280 6.3.3).
    #[error("revocation status of {subject} not available: {detail}")]
    RevocationUnavailable {
        /// The certificate.
        subject: String,
        /// OpenSSL's explanation.
        detail: String,
    },
    /// Any other path failure reported by OpenSSL.
    #[error("certificate {subject}: {detail} (X509_V_ERR {code})")]
    Other {
        /// The certificate at the failing depth.
        subject: String,
        /// The X509_V_ERR code.
        code: i32,
        /// OpenSSL's explanation.
        detail: String,
    },
    /// OpenSSL failed internally (allocation, malformed input it could not even load).
    #[error("OpenSSL: {0}")]
    Internal(String),
}

impl PathError {
    /// The ETSI EN 319 102-1 sub-indication this failure maps to (see the table on the type).
    /// Time failures map to "EXPIRED" / "NOT_YET_VALID" here; the engine may turn them into
    /// OUT_OF_BOUNDS_NO_POE when no proof of existence covers them.
    pub fn sub_indication(&self) -> &'static str {
        match self {
            PathError::NoChain { .. } => "NO_CERTIFICATE_CHAIN_FOUND",
            PathError::Expired { .. } => "EXPIRED",
            PathError::NotYetValid { .. } => "NOT_YET_VALID",
            PathError::BasicConstraints { .. }
            | PathError::PathLength { .. }
            | PathError::NameConstraints { .. }
            | PathError::Policy { .. } => "CHAIN_CONSTRAINTS_FAILURE",
            PathError::KeyUsage { depth: 0, .. } => "SIG_CONSTRAINTS_FAILURE",
            PathError::KeyUsage { .. } => "CHAIN_CONSTRAINTS_FAILURE",
            PathError::Revoked { .. } => "REVOKED",
            PathError::RevocationUnavailable { .. } => "TRY_LATER",
            PathError::BadCertSignature { .. }
            | PathError::UnknownCriticalExtension { .. }
            | PathError::Other { .. }
            | PathError::Internal(_) => "CERTIFICATE_CHAIN_GENERAL_FAILURE",
        }
    }

    /// Whether this is only a validity-period failure.
    pub fn is_time_failure(&self) -> bool {
        matches!(
            self,
            PathError::Expired { .. } | PathError::NotYetValid { .. }
        )
    }
}

impl From<ErrorStack> for PathError {
    fn from(e: ErrorStack) -> Self {
        PathError::Internal(e.to_string())
    }
}

/// Converts an OpenSSL time to `OffsetDateTime` (UTC); `None` if it is out of range.
pub fn asn1_to_offset(t: &Asn1TimeRef) -> Option<OffsetDateTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// Builds and validates a path for `inputs.leaf` (RFC 5280 6.1) at `inputs.time`.
///
/// A path that validated is kept, with the period in which every certificate on it is valid,
/// and answers a later validation of the same leaf with the same candidates, anchors, purpose
/// and policy at any time inside that period: without CRLs in the check (`native_crls`), the
/// time enters RFC 5280 6.1 only through the validity periods, and the signatures, names,
/// constraints and policies of a fixed path do not change. (The same time-stamping unit and
/// OCSP responder certificates, with the same CA chain, come with every document.) A failure
/// is never kept: it is recomputed, and reported in full, every time.
pub fn validate_path(inputs: &PathInputs<'_>) -> PathResult {
    if inputs.native_crls.is_some() {
        return validate_path_uncached(inputs);
    }
    let key = path_cache::key(inputs);
    if let Some(chain) = path_cache::lookup(&key, inputs.time) {
        return PathResult {
            chain,
            result: Ok(()),
        };
    }
    let result = validate_path_uncached(inputs);
    if result.result.is_ok() {
        path_cache::store(key, inputs.leaf, &result.chain);
    }
    result
}

/// Forgets the kept paths of the leaf certificate with this SHA-256 (benchmarks measure with it
/// the cost of a signer never seen before).
pub fn forget_kept_paths_of(leaf_sha256: &[u8; 32]) {
    path_cache::forget_leaf(leaf_sha256);
}

/// Validated paths, by their inputs (see [`validate_path`]).
mod path_cache {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use openssl::x509::X509;

    use super::PathInputs;
    use crate::pki::cert_facts;

    /// SHA-256 over the leaf, the untrusted candidates in order, the trust store's contents,
    /// the purpose and the policy.
    pub(super) type Key = [u8; 32];

    struct Entry {
        leaf: [u8; 32],
        chain: Vec<X509>,
        /// Unix seconds: every certificate of `chain` is valid from `from` to `until` inclusive
        /// (OpenSSL compares the validation time in whole seconds, notBefore <= t <= notAfter).
        from: i64,
        until: i64,
    }

    const ENTRIES: usize = 1024;

    fn table() -> &'static Mutex<HashMap<Key, Entry>> {
        static TABLE: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();
        TABLE.get_or_init(Default::default)
    }

    pub(super) fn key(inputs: &PathInputs<'_>) -> Key {
        let mut h = openssl::sha::Sha256::new();
        h.update(b"antin path v1");
        h.update(&cert_facts::sha256(inputs.leaf));
        h.update(&(inputs.untrusted.len() as u64).to_be_bytes());
        for c in inputs.untrusted {
            h.update(&cert_facts::sha256(c));
        }
        h.update(inputs.trust.contents_id());
        // Purpose and policy in full (their Debug form spells out every field and OID).
        h.update(format!("{:?}{:?}", inputs.purpose, inputs.policy).as_bytes());
        h.finish()
    }

    pub(super) fn forget_leaf(leaf: &[u8; 32]) {
        if let Ok(mut t) = table().lock() {
            t.retain(|_, e| &e.leaf != leaf);
        }
    }

    pub(super) fn lookup(key: &Key, time: time::OffsetDateTime) -> Option<Vec<X509>> {
        let t = time.unix_timestamp();
        let table = table().lock().ok()?;
        let e = table.get(key)?;
        (e.from <= t && t <= e.until).then(|| e.chain.clone())
    }

    pub(super) fn store(key: Key, leaf: &X509, chain: &[X509]) {
        let mut from = i64::MIN;
        let mut until = i64::MAX;
        for c in chain {
            let f = cert_facts::of(c);
            match (f.not_before, f.not_after) {
                (Some(nb), Some(na)) => {
                    from = from.max(nb.unix_timestamp());
                    until = until.min(na.unix_timestamp());
                }
                // A period we cannot read exactly is not cached.
                _ => return,
            }
        }
        if chain.is_empty() || from > until {
            return;
        }
        if let Ok(mut t) = table().lock() {
            if t.len() >= ENTRIES {
                t.clear();
            }
            t.insert(
                key,
                Entry {
                    leaf: cert_facts::sha256(leaf),
                    chain: chain.to_vec(),
                    from,
                    until,
                },
            );
        }
    }
}

fn validate_path_uncached(inputs: &PathInputs<'_>) -> PathResult {
    let mut excluded: Vec<X509> = Vec::new();
    let mut first = match run_openssl(inputs, false, &excluded) {
        Ok(o) => o,
        Err(e) => {
            return PathResult {
                chain: vec![inputs.leaf.clone()],
                result: Err(e.into()),
            }
        }
    };
    // OpenSSL's builder takes the first untrusted issuer that fits and does not backtrack through
    // other untrusted candidates (a cross-certificate, a re-issued CA with the same key). When no
    // path is found, set aside the untrusted certificate at the top of the failed path and try
    // again, a bounded number of times.
    for _ in 0..MAX_ALTERNATIVE_PATHS {
        if !matches!(first.result, Err(PathError::NoChain { .. })) {
            break;
        }
        let Some(top) = first
            .chain
            .iter()
            .skip(1)
            .rev()
            .find(|c| !inputs.trust.is_anchor(c) && !excluded.contains(c))
        else {
            break;
        };
        excluded.push(top.clone());
        match run_openssl(inputs, false, &excluded) {
            Ok(alt) if !matches!(alt.result, Err(PathError::NoChain { .. })) => {
                first = alt;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let mut result = first.result;
    // A time failure is reported only if nothing else is wrong: re-run without time checks to find
    // other defects that OpenSSL would have reported after the time check.
    if let Err(e) = &result {
        if e.is_time_failure() {
            if let Ok(second) = run_openssl(inputs, true, &excluded) {
                if let Err(other) = second.result {
                    result = Err(other);
                }
            }
        }
    }
    if result.is_ok() {
        result = check_purpose(inputs.leaf, inputs.purpose);
    }
    PathResult {
        chain: first.chain,
        result,
    }
}

struct Outcome {
    chain: Vec<X509>,
    result: Result<(), PathError>,
}

fn run_openssl(
    inputs: &PathInputs<'_>,
    no_time: bool,
    excluded: &[X509],
) -> Result<Outcome, ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    for a in inputs.trust.anchors() {
        builder.add_cert(a.cert().clone())?;
    }
    let mut param = X509VerifyParam::new()?;
    let mut flags = X509VerifyFlags::PARTIAL_CHAIN
        | X509VerifyFlags::TRUSTED_FIRST
        | X509VerifyFlags::POLICY_CHECK;
    if inputs.policy.explicit_policy {
        flags |= X509VerifyFlags::EXPLICIT_POLICY;
    }
    if inputs.policy.inhibit_policy_mapping {
        flags |= X509VerifyFlags::INHIBIT_MAP;
    }
    if inputs.policy.inhibit_any_policy {
        flags |= X509VerifyFlags::INHIBIT_ANY;
    }
    if let Some(native) = &inputs.native_crls {
        flags |= X509VerifyFlags::CRL_CHECK | X509VerifyFlags::EXTENDED_CRL_SUPPORT;
        if native.check_all {
            flags |= X509VerifyFlags::CRL_CHECK_ALL;
        }
        if native.use_deltas {
            flags |= X509VerifyFlags::USE_DELTAS;
        }
    }
    if no_time {
        flags |= X509VerifyFlags::NO_CHECK_TIME;
    }
    param.set_flags(flags)?;
    param.set_depth(MAX_PATH_DEPTH);
    // time_t is i64 on the targets we build for, but 32 bits on some: keep the checked conversion.
    #[allow(clippy::useless_conversion)]
    let check_time = inputs.time.unix_timestamp().try_into();
    match check_time {
        // OpenSSL honours USE_CHECK_TIME (set by set_time) before NO_CHECK_TIME: in the no-time
        // run, leave the time unset.
        Ok(_) if no_time => {}
        Ok(t) => param.set_time(t),
        Err(_) => {
            return Ok(Outcome {
                chain: vec![inputs.leaf.clone()],
                result: Err(PathError::Internal("validation time out of range".into())),
            })
        }
    }
    {
        // RFC 5280 6.1.1 (c): the default user-initial-policy-set is {anyPolicy}. OpenSSL needs it
        // spelled out, or an explicit-policy requirement finds an empty user set and fails.
        let any = [ANY_POLICY.to_owned()];
        let oids = if inputs.policy.initial_policy_set.is_empty() {
            &any[..]
        } else {
            &inputs.policy.initial_policy_set[..]
        };
        let mut set = Stack::new()?;
        for oid in oids {
            match Asn1Object::from_str(oid) {
                Ok(o) => set.push(o)?,
                Err(_) => {
                    return Ok(Outcome {
                        chain: vec![inputs.leaf.clone()],
                        result: Err(PathError::Policy {
                            detail: format!("not an OID: {oid}"),
                        }),
                    })
                }
            }
        }
        ossl_ffi::param_set_policies(&mut param, &set)?;
    }
    builder.set_param(&param)?;
    let store = builder.build();

    let mut untrusted = Stack::new()?;
    for c in inputs.untrusted.iter().chain(inputs.trust.intermediates()) {
        if !excluded.contains(c) {
            untrusted.push(c.clone())?;
        }
    }

    let mut ctx = X509StoreContext::new()?;
    let native_crls = inputs.native_crls.as_ref();
    ctx.init(&store, inputs.leaf, &untrusted, |c| {
        let ok = match native_crls {
            Some(n) => ossl_ffi::verify_cert_with_crls(c, &n.crls)?,
            None => c.verify_cert()?,
        };
        let chain: Vec<X509> = match c.chain() {
            Some(s) if !s.is_empty() => s.iter().map(X509Ref::to_owned).collect(),
            _ => vec![inputs.leaf.clone()],
        };
        if ok {
            return Ok(Outcome {
                chain,
                result: Ok(()),
            });
        }
        let depth = c.error_depth();
        let at_depth: Option<X509> = c
            .current_cert()
            .map(X509Ref::to_owned)
            .or_else(|| chain.get(depth as usize).cloned());
        let err = map_error(
            c.error().as_raw(),
            c.error().error_string(),
            depth,
            at_depth.as_ref(),
            inputs.leaf,
            native_crls,
        );
        Ok(Outcome {
            chain,
            result: Err(err),
        })
    })
}

fn map_error(
    code: i32,
    detail: &str,
    depth: u32,
    cert: Option<&X509>,
    leaf: &X509,
    native: Option<&NativeCrlCheck>,
) -> PathError {
    use openssl_sys as e;
    let cert_ref: &X509Ref = cert.map(|c| c.as_ref()).unwrap_or(leaf.as_ref());
    let subject = subject_string(cert_ref);
    let detail = detail.to_owned();
    match code {
        e::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | e::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | e::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | e::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | e::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        | e::X509_V_ERR_CERT_UNTRUSTED
        | e::X509_V_ERR_CERT_REJECTED
        | e::X509_V_ERR_CERT_CHAIN_TOO_LONG => PathError::NoChain { subject, detail },
        e::X509_V_ERR_CERT_HAS_EXPIRED => match asn1_to_offset(cert_ref.not_after()) {
            Some(not_after) => PathError::Expired {
                subject,
                not_after,
                depth,
            },
            None => PathError::Other {
                subject,
                code,
                detail,
            },
        },
        e::X509_V_ERR_CERT_NOT_YET_VALID => match asn1_to_offset(cert_ref.not_before()) {
            Some(not_before) => PathError::NotYetValid {
                subject,
                not_before,
                depth,
            },
            None => PathError::Other {
                subject,
                code,
                detail,
            },
        },
        e::X509_V_ERR_CERT_SIGNATURE_FAILURE
        | e::X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE
        | e::X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY => {
            PathError::BadCertSignature { subject }
        }
        // 24 is X509_V_ERR_INVALID_CA in OpenSSL < 3 and NO_ISSUER_PUBLIC_KEY in 3.x; 79 is
        // INVALID_CA in 3.x.
        79 | e::X509_V_ERR_INVALID_NON_CA => PathError::BasicConstraints { subject },
        24 => PathError::NoChain { subject, detail },
        e::X509_V_ERR_PATH_LENGTH_EXCEEDED | e::X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED => {
            PathError::PathLength { subject }
        }
        e::X509_V_ERR_PERMITTED_VIOLATION
        | e::X509_V_ERR_EXCLUDED_VIOLATION
        | e::X509_V_ERR_SUBTREE_MINMAX
        | e::X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE
        | e::X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX
        | e::X509_V_ERR_UNSUPPORTED_NAME_SYNTAX => PathError::NameConstraints { subject, detail },
        e::X509_V_ERR_INVALID_POLICY_EXTENSION | e::X509_V_ERR_NO_EXPLICIT_POLICY => {
            PathError::Policy { detail }
        }
        e::X509_V_ERR_KEYUSAGE_NO_CERTSIGN
        | e::X509_V_ERR_KEYUSAGE_NO_CRL_SIGN
        | e::X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE
        | e::X509_V_ERR_INVALID_PURPOSE => PathError::KeyUsage {
            subject,
            depth,
            detail,
        },
        e::X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION
        | e::X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION => {
            PathError::UnknownCriticalExtension { subject }
        }
        e::X509_V_ERR_CERT_REVOKED => {
            let serial = cert_ref
                .serial_number()
                .to_bn()
                .ok()
                .and_then(|b| b.to_hex_str().ok())
                .map(|s| s.to_string())
                .unwrap_or_default();
            let (revoked_at, reason) = native
                .and_then(|n| find_revocation(cert_ref, &n.crls))
                .unwrap_or((None, None));
            PathError::Revoked {
                subject,
                serial,
                revoked_at,
                reason,
            }
        }
        e::X509_V_ERR_UNABLE_TO_GET_CRL
        | e::X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER
        | e::X509_V_ERR_CRL_NOT_YET_VALID
        | e::X509_V_ERR_CRL_HAS_EXPIRED
        | e::X509_V_ERR_CRL_SIGNATURE_FAILURE
        | e::X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE
        | e::X509_V_ERR_DIFFERENT_CRL_SCOPE
        | e::X509_V_ERR_CRL_PATH_VALIDATION_ERROR => {
            PathError::RevocationUnavailable { subject, detail }
        }
        _ => PathError::Other {
            subject,
            code,
            detail,
        },
    }
}

/// The revocation date and reason of `cert` in the first CRL of its issuer that lists it.
fn find_revocation(
    cert: &X509Ref,
    crls: &[X509Crl],
) -> Option<(Option<OffsetDateTime>, Option<i32>)> {
    let owned = cert.to_owned();
    for crl in crls {
        if crl.issuer_name().try_cmp(cert.issuer_name()).ok() != Some(std::cmp::Ordering::Equal) {
            continue;
        }
        if let CrlStatus::Revoked(entry) = crl.get_by_cert(&owned) {
            let at = asn1_to_offset(entry.revocation_date());
            let reason = entry
                .extension::<openssl::x509::ReasonCode>()
                .ok()
                .flatten()
                .and_then(|(_, r)| r.get_i64().ok())
                .and_then(|r| i32::try_from(r).ok());
            return Some((at, reason));
        }
    }
    None
}

/// RFC 5280 4.2.1.3 / 4.2.1.12 checks on the leaf for the purpose.
fn check_purpose(leaf: &X509Ref, purpose: Purpose) -> Result<(), PathError> {
    let fail = |detail: &str| {
        Err(PathError::KeyUsage {
            subject: subject_string(leaf),
            depth: 0,
            detail: detail.to_owned(),
        })
    };
    match purpose {
        Purpose::Any => Ok(()),
        Purpose::DocumentSigning => match leaf.key_usage() {
            None => Ok(()),
            Some(ku)
                if ku.intersects(
                    X509KeyUsage::DIGITAL_SIGNATURE | X509KeyUsage::NON_REPUDIATION,
                ) =>
            {
                Ok(())
            }
            Some(_) => fail("keyUsage allows neither digitalSignature nor nonRepudiation"),
        },
        Purpose::Timestamping => match leaf.extended_key_usage() {
            Some(eku) if eku.contains(X509ExtendedKeyUsage::TIMESTAMP) => Ok(()),
            _ => fail("extendedKeyUsage lacks id-kp-timeStamping"),
        },
        Purpose::OcspSigning => match leaf.extended_key_usage() {
            Some(eku) if eku.contains(X509ExtendedKeyUsage::OCSP_SIGN) => Ok(()),
            _ => fail("extendedKeyUsage lacks id-kp-OCSPSigning"),
        },
    }
}

/// A display string for a name (used by callers that print issuers).
pub fn display_name(name: &openssl::x509::X509NameRef) -> String {
    name_string(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pki::test_pki_cert as test_cert;

    #[test]
    fn a_kept_path_answers_only_inside_its_validity_and_for_the_same_inputs() {
        let leaf = test_cert("citizen-an.pem");
        let ca = test_cert("licensed-ca.pem");
        let mut trust = TrustStore::new();
        trust
            .add_anchor(test_cert("root-ca.pem"), None)
            .expect("anchor");
        let nb = asn1_to_offset(leaf.not_before()).expect("notBefore");
        let na = asn1_to_offset(leaf.not_after()).expect("notAfter");
        let untrusted = [ca];
        let run = |trust: &TrustStore, time: OffsetDateTime, purpose: Purpose| {
            validate_path(&PathInputs {
                leaf: &leaf,
                untrusted: &untrusted,
                trust,
                time,
                purpose,
                policy: PathPolicy::default(),
                native_crls: None,
            })
        };
        let inside = nb + time::Duration::days(1);
        // Twice inside: the second answer comes from the kept path and is the same.
        let first = run(&trust, inside, Purpose::DocumentSigning);
        assert!(first.result.is_ok(), "{:?}", first.result);
        let second = run(
            &trust,
            inside + time::Duration::hours(1),
            Purpose::DocumentSigning,
        );
        assert!(second.result.is_ok());
        assert_eq!(first.chain, second.chain);
        assert_eq!(first.chain.len(), 3);
        // The last second of validity is inside; one second later is not.
        assert!(run(&trust, na, Purpose::DocumentSigning).result.is_ok());
        let after = run(
            &trust,
            na + time::Duration::seconds(1),
            Purpose::DocumentSigning,
        );
        assert!(after.result.as_ref().is_err_and(PathError::is_time_failure));
        let before = run(
            &trust,
            nb - time::Duration::seconds(1),
            Purpose::DocumentSigning,
        );
        assert!(before
            .result
            .as_ref()
            .is_err_and(PathError::is_time_failure));
        // Another trust store (here: without the root) is validated afresh.
        let empty = TrustStore::new();
        assert!(matches!(
            run(&empty, inside, Purpose::DocumentSigning).result,
            Err(PathError::NoChain { .. })
        ));
        // Another purpose is validated afresh (a citizen's certificate is no TSA).
        assert!(run(&trust, inside, Purpose::Timestamping).result.is_err());
        assert!(run(&trust, inside, Purpose::DocumentSigning).result.is_ok());
    }

    #[test]
    fn sub_indications_follow_the_table() {
        let s = String::new;
        assert_eq!(
            PathError::NoChain {
                subject: s(),
                detail: s()
            }
            .sub_indication(),
            "NO_CERTIFICATE_CHAIN_FOUND"
        );
        assert_eq!(
            PathError::PathLength { subject: s() }.sub_indication(),
            "CHAIN_CONSTRAINTS_FAILURE"
        );
        assert_eq!(
            PathError::KeyUsage {
                subject: s(),
                depth: 0,
                detail: s()
            }
            .sub_indication(),
            "SIG_CONSTRAINTS_FAILURE"
        );
        assert_eq!(
            PathError::KeyUsage {
                subject: s(),
                depth: 1,
                detail: s()
            }
            .sub_indication(),
            "CHAIN_CONSTRAINTS_FAILURE"
        );
        assert_eq!(
            PathError::BadCertSignature { subject: s() }.sub_indication(),
            "CERTIFICATE_CHAIN_GENERAL_FAILURE"
        );
        let r = PathError::Revoked {
            subject: s(),
            serial: s(),
            revoked_at: None,
            reason: None,
        };
        assert_eq!(r.sub_indication(), "REVOKED");
    }

    #[test]
    fn asn1_time_converts_exactly() {
        let t = Asn1Time::from_unix(1_700_000_123).expect("time");
        assert_eq!(
            asn1_to_offset(&t).map(|t| t.unix_timestamp()),
            Some(1_700_000_123)
        );
        let t = Asn1Time::from_str("19500101000000Z").expect("time");
        assert_eq!(asn1_to_offset(&t).map(|t| t.year()), Some(1950));
    }
}
