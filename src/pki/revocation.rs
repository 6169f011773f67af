//! Revocation status of a certificate at a given time (RFC 5280 6.3, RFC 6960), from CRLs and OCSP
//! responses handed in as data.
//!
//! Pure: the evidence (DER CRLs, DER OCSP responses), the signing time `at` and the validation time
//! `now` are arguments. This module never fetches anything (that is `fetch`) and never reads the
//! clock. It verifies each piece of evidence (signature by the issuer, or by a delegated OCSP
//! responder the issuer certified for OCSPSigning; matching issuer and CertID) before using it, and
//! keeps the evidence used so that it can be stored with the result (Circular 15/2025).
//!
//! Decision (ETSI EN 319 102-1 5.2.5 / 5.6.2.3): revoked when a revocation date is at or before
//! `at`; good when valid evidence shows the certificate not revoked at `at` (a revocation after `at`
//! is reported alongside, since a signature proven to exist before it stays valid). Evidence issued
//! at or after `at` is fresh; evidence issued before `at` whose nextUpdate is at or after `at` is
//! accepted as within validity; anything else leaves the status unknown, with the reason.

use crate::pki::ossl_ffi;
use crate::pki::path::asn1_to_offset;
use crate::pki::trust::{name_string, subject_string};
use der::Decode;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ocsp::{OcspCertId, OcspCertStatus, OcspFlag, OcspResponse, OcspResponseStatus};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{CrlStatus, X509Crl, X509ExtendedKeyUsage, X509KeyUsage, X509Ref, X509};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Revocation evidence handed to the checker.
#[derive(Default)]
pub struct RevocationData {
    /// Candidate CRLs (from the PDF's DSS, the CMS, the fetcher or configuration).
    pub crls: Vec<X509Crl>,
    /// Candidate OCSP responses, DER `OCSPResponse` (RFC 6960 4.2.1).
    pub ocsp_responses: Vec<Vec<u8>>,
}

impl std::fmt::Debug for RevocationData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationData")
            .field("crls", &self.crls.len())
            .field("ocsp_responses", &self.ocsp_responses.len())
            .finish()
    }
}

/// Which kind of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// A CRL (RFC 5280 5).
    Crl,
    /// An OCSP response (RFC 6960).
    Ocsp,
}

/// A piece of revocation evidence that was verified and used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// CRL or OCSP.
    pub kind: EvidenceKind,
    /// The DER bytes (CertificateList or OCSPResponse), to keep as evidence.
    pub der: Vec<u8>,
    /// SHA-256 of `der`.
    pub sha256: [u8; 32],
    /// The CRL issuer, or the OCSP responder certificate's subject.
    pub issuer: String,
    /// thisUpdate (for OCSP: of the single response about this certificate).
    pub this_update: OffsetDateTime,
    /// nextUpdate, when present.
    pub next_update: Option<OffsetDateTime>,
    /// OCSP producedAt.
    pub produced_at: Option<OffsetDateTime>,
}

/// How the evidence relates to the time of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Issued at or after `at`.
    Fresh,
    /// Issued before `at`, with `at` <= nextUpdate: accepted with a note (the status could have
    /// changed between thisUpdate and `at`).
    WithinValidity,
}

/// CRL reason codes (RFC 5280 5.3.1) and OCSP revocation reasons (RFC 6960 4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// cACompromise (2)
    CaCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// certificateHold (6): suspended, which Circular 15/2025 treats like revoked.
    CertificateHold,
    /// removeFromCRL (8)
    RemoveFromCrl,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
    /// aACompromise (10)
    AaCompromise,
    /// A code outside RFC 5280.
    Other(i64),
}

impl RevocationReason {
    fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            c => Self::Other(c),
        }
    }
}

/// A revocation that happened after the time of interest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaterRevocation {
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why.
    pub reason: Option<RevocationReason>,
}

/// The status of one certificate at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationStatus {
    /// Not revoked at `at`.
    Good {
        /// How the evidence relates to `at`.
        freshness: Freshness,
        /// A revocation after `at`, if the evidence shows one.
        revoked_later: Option<LaterRevocation>,
        /// The evidence used.
        evidence: Evidence,
    },
    /// Revoked (or on hold) at or before `at` (RFC 5280 6.3.3 (i)).
    Revoked {
        /// The revocation date.
        revoked_at: OffsetDateTime,
        /// The reason, when given.
        reason: Option<RevocationReason>,
        /// The evidence used.
        evidence: Evidence,
    },
    /// No conclusion: `reason` is the most telling problem, `others` the rest.
    Unknown {
        /// The main reason.
        reason: RevocationError,
        /// Other problems met with other evidence.
        others: Vec<RevocationError>,
    },
    /// Not checked: a delegated OCSP responder certificate with id-pkix-ocsp-nocheck
    /// (RFC 6960 4.2.2.2.1).
    Exempt,
}

/// Why a piece of evidence could not be used, or why no status could be established.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// No CRL or OCSP response about this certificate was given (RFC 5280 6.3.3).
    #[error("no CRL or OCSP response covers this certificate")]
    NoEvidence,
    /// Evidence issued before `at` whose nextUpdate is before `at` or absent (RFC 5280 6.3.3 (a)).
    #[error("{kind:?} issued {this_update} is too old for the time of interest")]
    Stale {
        /// CRL or OCSP.
        kind: EvidenceKind,
        /// Its thisUpdate.
        this_update: OffsetDateTime,
        /// Its nextUpdate.
        next_update: Option<OffsetDateTime>,
    },
    /// Signature does not verify with the issuer's key (RFC 5280 6.3.3 (f)-(g); RFC 6960 3.2 (2)).
    #[error("{kind:?} signature does not verify with the key of {issuer}")]
    BadSignature {
        /// CRL or OCSP.
        kind: EvidenceKind,
        /// The expected signer.
        issuer: String,
    },
    /// The issuer's keyUsage does not allow cRLSign (RFC 5280 4.2.1.3, 6.3.3 (f)).
    #[error("issuer {issuer} may not sign CRLs (keyUsage)")]
    IssuerMayNotSignCrls {
        /// The issuer.
        issuer: String,
    },
    /// The OCSP response is signed by a certificate that is neither the issuer nor a delegated
    /// responder issued by it with id-kp-OCSPSigning (RFC 6960 4.2.2.2).
    #[error("OCSP response signed by {responder}, who is not authorised for this issuer")]
    UnauthorisedResponder {
        /// The signer found.
        responder: String,
    },
    /// Evidence dated after the validation time (RFC 5280 6.3.3 (a)).
    #[error("{kind:?} issued {this_update}, after the validation time")]
    NotYetIssued {
        /// CRL or OCSP.
        kind: EvidenceKind,
        /// Its thisUpdate.
        this_update: OffsetDateTime,
    },
    /// Evidence issued after the certificate expired does not prove it was not revoked: the CA may
    /// have dropped expired entries (RFC 5280 3.3, 5.2.7; EN 319 102-1 OUT_OF_BOUNDS_NOT_REVOKED).
    #[error("{kind:?} issued {this_update}, after the certificate expired at {not_after}")]
    IssuedAfterExpiry {
        /// CRL or OCSP.
        kind: EvidenceKind,
        /// Its thisUpdate.
        this_update: OffsetDateTime,
        /// The certificate's notAfter.
        not_after: OffsetDateTime,
    },
    /// The OCSP responder answered "unknown" (RFC 6960 2.2).
    #[error("OCSP responder does not know the certificate")]
    OcspUnknown,
    /// The OCSP response status is not successful (RFC 6960 2.3).
    #[error("OCSP response status {status}")]
    OcspNotSuccessful {
        /// The OCSPResponseStatus value.
        status: i32,
    },
    /// A CRL whose scope we do not process (delta, indirect, partitioned by reasons) (RFC 5280 5.2.4, 5.2.5).
    #[error("CRL scope not supported: {detail}")]
    UnsupportedScope {
        /// Which feature.
        detail: String,
    },
    /// Evidence that cannot be parsed.
    #[error("malformed {kind:?}: {detail}")]
    Malformed {
        /// CRL or OCSP.
        kind: EvidenceKind,
        /// The parser's message.
        detail: String,
    },
}

impl RevocationError {
    /// Higher is more telling when several problems exist.
    fn weight(&self) -> u8 {
        match self {
            RevocationError::BadSignature { .. }
            | RevocationError::UnauthorisedResponder { .. } => 9,
            RevocationError::IssuerMayNotSignCrls { .. } => 8,
            RevocationError::OcspUnknown => 7,
            RevocationError::IssuedAfterExpiry { .. } => 6,
            RevocationError::Stale { .. } => 5,
            RevocationError::NotYetIssued { .. } => 4,
            RevocationError::OcspNotSuccessful { .. } => 3,
            RevocationError::UnsupportedScope { .. } => 2,
            RevocationError::Malformed { .. } => 1,
            RevocationError::NoEvidence => 0,
        }
    }
}

/// The status of one certificate of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRevocation {
    /// Position in the chain (0 = leaf).
    pub depth: usize,
    /// The certificate's subject.
    pub subject: String,
    /// Its serial number (hex).
    pub serial: String,
    /// Its status at `at`.
    pub status: RevocationStatus,
}

enum Verdict {
    NotRevoked,
    RevokedAt(OffsetDateTime, Option<RevocationReason>),
}

struct Finding {
    evidence: Evidence,
    verdict: Verdict,
}

/// Status of every non-anchor certificate of `chain` (leaf first, anchor last) at `at`.
pub fn check_chain(
    chain: &[X509],
    data: &RevocationData,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<CertRevocation> {
    chain
        .windows(2)
        .enumerate()
        .filter_map(|(depth, w)| {
            let (cert, issuer) = (w.first()?, w.get(1)?);
            let status = if is_ocsp_nocheck_responder(cert) {
                RevocationStatus::Exempt
            } else {
                check_cert(cert, issuer, data, at, now)
            };
            Some(CertRevocation {
                depth,
                subject: subject_string(cert),
                serial: serial_hex(cert),
                status,
            })
        })
        .collect()
}

/// The DER encoding (tag, length, content) of the certificate's serial number.
fn serial_der(cert: &X509Ref) -> Option<Vec<u8>> {
    let bn = cert.serial_number().to_bn().ok()?;
    let mut content = bn.to_vec();
    if content.is_empty() || bn.is_negative() {
        return None;
    }
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    let len = u8::try_from(content.len()).ok().filter(|l| *l < 0x80)?;
    let mut out = vec![0x02, len];
    out.extend_from_slice(&content);
    Some(out)
}

/// Whether `der` is exactly one DER SEQUENCE (tag, definite length, content filling the rest).
fn is_single_der_value(der: &[u8]) -> bool {
    let (Some(&0x30), Some(&first)) = (der.first(), der.get(1)) else {
        return false;
    };
    let (header, len) = if first < 0x80 {
        (2usize, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return false;
        }
        let Some(bytes) = der.get(2..2 + n) else {
            return false;
        };
        (
            2 + n,
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    header.checked_add(len) == Some(der.len())
}

fn is_ocsp_nocheck_responder(cert: &X509Ref) -> bool {
    ossl_ffi::cert_has_extension(cert, Nid::ID_PKIX_OCSP_NOCHECK)
        && cert
            .extended_key_usage()
            .is_some_and(|e| e.contains(X509ExtendedKeyUsage::OCSP_SIGN))
}

/// Status of `cert` (issued by `issuer`) at the signing time `at`, judged at the validation time `now`.
pub fn check_cert(
    cert: &X509Ref,
    issuer: &X509Ref,
    data: &RevocationData,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> RevocationStatus {
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    for crl in &data.crls {
        match crl_finding(cert, issuer, crl, now) {
            Ok(Some(f)) => findings.push(f),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    let serial = serial_der(cert);
    for der in &data.ocsp_responses {
        // A response about this certificate carries its serial number as a DER INTEGER in the
        // CertID; skipping the others avoids parsing (and re-hashing CertIDs for) every response
        // in a DSS that holds many.
        if let Some(pattern) = &serial {
            if memchr::memmem::find(der, pattern).is_none() {
                // Still say so when the skipped bytes are not even one DER value: garbage in a
                // DSS is worth reporting, not silently ignoring.
                if !is_single_der_value(der) {
                    problems.push(RevocationError::Malformed {
                        kind: EvidenceKind::Ocsp,
                        detail: "not a DER-encoded OCSPResponse".into(),
                    });
                }
                continue;
            }
        }
        match ocsp_finding(cert, issuer, der, now) {
            Ok(Some(f)) => findings.push(f),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    decide(cert, findings, problems, at)
}

fn decide(
    cert: &X509Ref,
    findings: Vec<Finding>,
    mut problems: Vec<RevocationError>,
    at: OffsetDateTime,
) -> RevocationStatus {
    // 1. Any verified revocation at or before `at` wins (the earliest).
    let mut revoked: Option<(OffsetDateTime, Option<RevocationReason>, &Evidence)> = None;
    let mut later: Option<LaterRevocation> = None;
    for f in &findings {
        if let Verdict::RevokedAt(t, reason) = f.verdict {
            if t <= at {
                if revoked.as_ref().is_none_or(|(r, _, _)| t < *r) {
                    revoked = Some((t, reason, &f.evidence));
                }
            } else if later.as_ref().is_none_or(|l| t < l.revoked_at) {
                later = Some(LaterRevocation {
                    revoked_at: t,
                    reason,
                });
            }
        }
    }
    if let Some((revoked_at, reason, evidence)) = revoked {
        return RevocationStatus::Revoked {
            revoked_at,
            reason,
            evidence: evidence.clone(),
        };
    }
    // 2. Not revoked at `at`: pick the best evidence (fresh before within-validity, then latest).
    let not_after = asn1_to_offset(cert.not_after());
    let mut best: Option<(Freshness, &Evidence)> = None;
    for f in &findings {
        let e = &f.evidence;
        let revoked_after_at = matches!(f.verdict, Verdict::RevokedAt(..));
        if !revoked_after_at {
            if let Some(na) = not_after {
                if e.this_update > na {
                    problems.push(RevocationError::IssuedAfterExpiry {
                        kind: e.kind,
                        this_update: e.this_update,
                        not_after: na,
                    });
                    continue;
                }
            }
        }
        let freshness = if e.this_update >= at {
            Freshness::Fresh
        } else if e.next_update.is_some_and(|n| at <= n) {
            Freshness::WithinValidity
        } else {
            problems.push(RevocationError::Stale {
                kind: e.kind,
                this_update: e.this_update,
                next_update: e.next_update,
            });
            continue;
        };
        let better = match &best {
            None => true,
            Some((bf, be)) => match (freshness, bf) {
                (Freshness::Fresh, Freshness::WithinValidity) => true,
                (Freshness::WithinValidity, Freshness::Fresh) => false,
                _ => e.this_update > be.this_update,
            },
        };
        if better {
            best = Some((freshness, e));
        }
    }
    if let Some((freshness, evidence)) = best {
        return RevocationStatus::Good {
            freshness,
            revoked_later: later,
            evidence: evidence.clone(),
        };
    }
    problems.sort_by_key(|p| std::cmp::Reverse(p.weight()));
    let mut it = problems.into_iter();
    let reason = it.next().unwrap_or(RevocationError::NoEvidence);
    RevocationStatus::Unknown {
        reason,
        others: it.collect(),
    }
}

fn sha256(der: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(der)
}

fn serial_hex(cert: &X509Ref) -> String {
    cert.serial_number()
        .to_bn()
        .ok()
        .and_then(|b| b.to_hex_str().ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn same_name(a: &openssl::x509::X509NameRef, b: &openssl::x509::X509NameRef) -> bool {
    a.try_cmp(b).ok() == Some(std::cmp::Ordering::Equal)
}

const OID_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
const OID_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";
const OID_EXPIRED_CERTS_ON_CRL: &str = "2.5.29.60";
const OID_FRESHEST_CRL: &str = "2.5.29.46";
const OID_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";

/// Checks the CRL's scope against the certificate (RFC 5280 6.3.3 (b)); `Ok(false)` when the CRL
/// does not cover this certificate.
fn crl_scope_covers(cert: &X509Ref, crl: &X509Crl) -> Result<bool, RevocationError> {
    use x509_cert::ext::pkix::crl::IssuingDistributionPoint;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let malformed = |e: der::Error| RevocationError::Malformed {
        kind: EvidenceKind::Crl,
        detail: e.to_string(),
    };
    for ext in ossl_ffi::crl_extensions(crl) {
        match ext.oid.as_str() {
            OID_DELTA_CRL_INDICATOR => {
                return Err(RevocationError::UnsupportedScope {
                    detail: "delta CRL".into(),
                });
            }
            OID_ISSUING_DISTRIBUTION_POINT => {
                let idp = IssuingDistributionPoint::from_der(&ext.value).map_err(malformed)?;
                if idp.indirect_crl
                    || idp.only_some_reasons.is_some()
                    || idp.only_contains_attribute_certs
                {
                    return Err(RevocationError::UnsupportedScope {
                        detail: "indirect, reason-partitioned or attribute-certificate CRL".into(),
                    });
                }
                let is_ca = ossl_ffi::cert_is_ca(cert);
                if (idp.only_contains_user_certs && is_ca) || (idp.only_contains_ca_certs && !is_ca)
                {
                    return Ok(false);
                }
                match idp.distribution_point {
                    None => {}
                    Some(DistributionPointName::FullName(names)) => {
                        let cert_dps = crl_distribution_points(cert);
                        let hit = names.iter().any(|n| match n {
                            GeneralName::UniformResourceIdentifier(u) => {
                                cert_dps.iter().any(|d| d == u.as_str())
                            }
                            _ => false,
                        });
                        if !hit {
                            return Ok(false);
                        }
                    }
                    Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                        return Err(RevocationError::UnsupportedScope {
                            detail: "nameRelativeToCRLIssuer".into(),
                        });
                    }
                }
            }
            OID_CRL_NUMBER
            | OID_AUTHORITY_KEY_ID
            | OID_EXPIRED_CERTS_ON_CRL
            | OID_FRESHEST_CRL
            | OID_AUTHORITY_INFO_ACCESS => {}
            oid if ext.critical => {
                return Err(RevocationError::UnsupportedScope {
                    detail: format!("critical CRL extension {oid}"),
                });
            }
            _ => {}
        }
    }
    Ok(true)
}

/// What a kept signature check is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Signed {
    Crl,
    Certificate,
}

/// What a signature check is about: a CRL or a certificate (by the SHA-256 of its DER), and the
/// SHA-256 of the issuer certificate whose key checks it.
type SignatureKey = (Signed, [u8; 32], [u8; 32]);

/// Whether the object `what` identifies verifies with `issuer`'s key, by `verify`. A pure
/// function of the two, so it is kept across verifications: a licensed CA's CRL comes embedded
/// in every document its citizens sign that day and is checked for every certificate it might
/// cover; a delegated OCSP responder's certificate comes with every response. Bounded; emptied
/// when full.
fn signed_by_issuer(
    what: SignatureKey,
    issuer: &X509Ref,
    verify: impl FnOnce(&openssl::pkey::PKeyRef<openssl::pkey::Public>) -> bool,
) -> bool {
    type Cache = std::sync::Mutex<HashMap<SignatureKey, bool>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    const ENTRIES: usize = 4096;
    let cache = CACHE.get_or_init(Default::default);
    if let Some(ok) = cache.lock().ok().and_then(|m| m.get(&what).copied()) {
        return ok;
    }
    let ok = crate::pki::cms::cached_public_key(issuer)
        .ok()
        .is_some_and(|k| verify(&k));
    if let Ok(mut m) = cache.lock() {
        if m.len() >= ENTRIES {
            m.clear();
        }
        m.insert(what, ok);
    }
    ok
}

/// Whether `cert`'s signature verifies with `issuer`'s key (kept, see [`signed_by_issuer`]).
fn cert_signed_by(cert: &X509Ref, issuer: &X509Ref, issuer_sha256: &[u8; 32]) -> bool {
    let what = (
        Signed::Certificate,
        crate::pki::cert_facts::sha256(cert),
        *issuer_sha256,
    );
    signed_by_issuer(what, issuer, |k| cert.verify(k).unwrap_or(false))
}

/// Whether `crl` (whose DER has the SHA-256 `crl_sha256`) carries a valid signature by
/// `issuer`'s key (kept, see [`signed_by_issuer`]).
fn crl_signed_by(crl: &X509Crl, crl_sha256: &[u8; 32], issuer: &X509Ref) -> bool {
    let what = (
        Signed::Crl,
        *crl_sha256,
        crate::pki::cert_facts::sha256(issuer),
    );
    signed_by_issuer(what, issuer, |k| crl.verify(k).unwrap_or(false))
}

fn crl_finding(
    cert: &X509Ref,
    issuer: &X509Ref,
    crl: &X509Crl,
    now: OffsetDateTime,
) -> Result<Option<Finding>, RevocationError> {
    let kind = EvidenceKind::Crl;
    if !same_name(crl.issuer_name(), cert.issuer_name()) {
        return Ok(None);
    }
    let der = crl.to_der().map_err(|e| RevocationError::Malformed {
        kind,
        detail: e.to_string(),
    })?;
    if !crl_scope_covers(cert, crl)? {
        return Ok(None);
    }
    let issuer_name = subject_string(issuer);
    if issuer
        .key_usage()
        .is_some_and(|ku| !ku.contains(X509KeyUsage::CRL_SIGN))
    {
        return Err(RevocationError::IssuerMayNotSignCrls {
            issuer: issuer_name,
        });
    }
    let crl_sha256 = sha256(&der);
    if !crl_signed_by(crl, &crl_sha256, issuer) {
        return Err(RevocationError::BadSignature {
            kind,
            issuer: issuer_name,
        });
    }
    let malformed = |what: &str| RevocationError::Malformed {
        kind,
        detail: format!("{what} out of range"),
    };
    let this_update = asn1_to_offset(crl.last_update()).ok_or_else(|| malformed("thisUpdate"))?;
    let next_update = match crl.next_update() {
        Some(t) => Some(asn1_to_offset(t).ok_or_else(|| malformed("nextUpdate"))?),
        None => None,
    };
    if this_update > now {
        return Err(RevocationError::NotYetIssued { kind, this_update });
    }
    let owned = cert.to_owned();
    let verdict = match crl.get_by_cert(&owned) {
        CrlStatus::Revoked(entry) => {
            let t = asn1_to_offset(entry.revocation_date())
                .ok_or_else(|| malformed("revocationDate"))?;
            let reason = entry
                .extension::<openssl::x509::ReasonCode>()
                .ok()
                .flatten()
                .and_then(|(_, r)| r.get_i64().ok())
                .map(RevocationReason::from_code);
            Verdict::RevokedAt(t, reason)
        }
        CrlStatus::RemoveFromCrl(_) | CrlStatus::NotRevoked => Verdict::NotRevoked,
    };
    let evidence = Evidence {
        kind,
        sha256: crl_sha256,
        der,
        issuer: name_string(crl.issuer_name()),
        this_update,
        next_update,
        produced_at: None,
    };
    Ok(Some(Finding { evidence, verdict }))
}

/// What an OCSP response says about one certificate, once parsed and its signer checked: a pure
/// function of (response, certificate, issuer), so it is kept across verifications (the same
/// DSS responses come with every signature and every document of a batch). The checks against
/// the validation time are made on every call.
#[derive(Clone, Debug, PartialEq)]
struct OcspFacts {
    status: OcspCertStatus,
    reason: i32,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    produced_at: Option<OffsetDateTime>,
    signer: String,
}

type OcspKey = ([u8; 32], [u8; 32], [u8; 32]);
type OcspCache = std::sync::Mutex<HashMap<OcspKey, Result<Option<OcspFacts>, RevocationError>>>;

fn ocsp_cache() -> &'static OcspCache {
    static CACHE: std::sync::OnceLock<OcspCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Forgets what was learnt from OCSP responses about the certificate with this SHA-256
/// (benchmarks measure with it the cost of a signer never seen before: each citizen's
/// certificate comes with its own response).
pub fn forget_ocsp_facts_about(cert_sha256: &[u8; 32]) {
    if let Ok(mut m) = ocsp_cache().lock() {
        m.retain(|(_, cert, _), _| cert != cert_sha256);
    }
}

/// Bounds the cache; it is simply emptied when full (entries are cheap to recompute).
const OCSP_CACHE_ENTRIES: usize = 8192;

fn ocsp_finding(
    cert: &X509Ref,
    issuer: &X509Ref,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<Option<Finding>, RevocationError> {
    let kind = EvidenceKind::Ocsp;
    let key: OcspKey = (
        sha256(der),
        super::cert_facts::sha256(cert),
        super::cert_facts::sha256(issuer),
    );
    let cached = ocsp_cache().lock().ok().and_then(|m| m.get(&key).cloned());
    let facts = match cached {
        Some(f) => f,
        None => {
            let f = ocsp_facts(cert, issuer, der);
            if let Ok(mut m) = ocsp_cache().lock() {
                if m.len() >= OCSP_CACHE_ENTRIES {
                    m.clear();
                }
                m.insert(key, f.clone());
            }
            f
        }
    };
    let Some(f) = facts? else {
        return Ok(None);
    };
    let malformed = |d: String| RevocationError::Malformed { kind, detail: d };
    if f.this_update > now || f.produced_at.is_some_and(|p| p > now) {
        return Err(RevocationError::NotYetIssued {
            kind,
            this_update: f.this_update,
        });
    }
    let verdict = if f.status == OcspCertStatus::GOOD {
        Verdict::NotRevoked
    } else if f.status == OcspCertStatus::REVOKED {
        let t = f
            .revoked_at
            .ok_or_else(|| malformed("revoked without revocationTime".into()))?;
        // OCSP_REVOKED_STATUS_NOSTATUS (-1) means no reason given.
        let reason = (f.reason >= 0).then(|| RevocationReason::from_code(i64::from(f.reason)));
        Verdict::RevokedAt(t, reason)
    } else {
        return Err(RevocationError::OcspUnknown);
    };
    let evidence = Evidence {
        kind,
        der: der.to_vec(),
        sha256: sha256(der),
        issuer: f.signer,
        this_update: f.this_update,
        next_update: f.next_update,
        produced_at: f.produced_at,
    };
    Ok(Some(Finding { evidence, verdict }))
}

/// Parses the response, finds the single response about `cert`, and checks who signed it.
fn ocsp_facts(
    cert: &X509Ref,
    issuer: &X509Ref,
    der: &[u8],
) -> Result<Option<OcspFacts>, RevocationError> {
    ocsp_facts_split(cert, issuer, der, true)
}

fn ocsp_facts_split(
    cert: &X509Ref,
    issuer: &X509Ref,
    der: &[u8],
    split: bool,
) -> Result<Option<OcspFacts>, RevocationError> {
    let kind = EvidenceKind::Ocsp;
    let malformed = |d: String| RevocationError::Malformed { kind, detail: d };
    // OpenSSL decodes every certificate a response carries (~120 µs each in OpenSSL 3.0), and
    // a delegated responder sends its certificate with every response: give OpenSSL the response
    // without them (the signed part is unchanged) and take the certificates from the shared cache.
    let (stripped, carried) = match split.then(|| split_carried_certs(der)).flatten() {
        Some((stripped, carried)) => (Some(stripped), Some(carried)),
        None => (None, None),
    };
    let resp = OcspResponse::from_der(stripped.as_deref().unwrap_or(der))
        .map_err(|e| malformed(e.to_string()))?;
    if resp.status() != OcspResponseStatus::SUCCESSFUL {
        return Err(RevocationError::OcspNotSuccessful {
            status: resp.status().as_raw(),
        });
    }
    let basic = resp.basic().map_err(|e| malformed(e.to_string()))?;
    // Find the single response about this certificate (RFC 6960 4.1.1 CertID), whatever hash the
    // responder used for the CertID.
    let digests = [
        MessageDigest::sha1(),
        MessageDigest::sha256(),
        MessageDigest::sha384(),
        MessageDigest::sha512(),
    ];
    let mut found = None;
    for d in digests {
        let id = OcspCertId::from_cert(d, cert, issuer).map_err(|e| malformed(e.to_string()))?;
        if let Some(status) = basic.find_status(&id) {
            let gt = |t: &openssl::asn1::Asn1GeneralizedTimeRef| {
                asn1_to_offset(ossl_ffi::generalized_as_time(t))
            };
            let this_update = gt(status.this_update)
                .ok_or_else(|| malformed("thisUpdate out of range".into()))?;
            let next_update = match status.next_update() {
                Some(t) => Some(gt(t).ok_or_else(|| malformed("nextUpdate out of range".into()))?),
                None => None,
            };
            let revoked_at = status.revocation_time.and_then(gt);
            found = Some((
                status.status,
                status.reason.as_raw(),
                this_update,
                next_update,
                revoked_at,
            ));
            break;
        }
    }
    let Some((status, reason, this_update, next_update, revoked_at)) = found else {
        return Ok(None);
    };
    let produced_at = ossl_ffi::ocsp_produced_at(&basic).and_then(asn1_to_offset);
    let carried = carried.unwrap_or_else(|| ossl_ffi::ocsp_certs(&basic));
    let signer = ocsp_signer(issuer, &basic, &carried, produced_at)?;
    Ok(Some(OcspFacts {
        status,
        reason,
        this_update,
        next_update,
        revoked_at,
        produced_at,
        signer,
    }))
}

/// One DER value at the start of `der`: (tag, content, the whole value's length). Definite,
/// minimal lengths only (what DER allows); anything else is `None`.
fn der_tlv(der: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (header, len) = if first < 0x80 {
        (2usize, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = der.get(2..2 + n)?;
        if n == 0 || n > 4 || bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        if len < 0x80 {
            return None;
        }
        (2 + n, len)
    };
    let end = header.checked_add(len)?;
    Some((tag, der.get(header..end)?, end))
}

/// One DER value inside a constructed one: (tag, content, the whole encoding).
type DerItem<'a> = (u8, &'a [u8], &'a [u8]);

/// The DER values that fill `content` exactly, in order.
fn der_items(mut content: &[u8]) -> Option<Vec<DerItem<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, inner, len) = der_tlv(content)?;
        out.push((tag, inner, content.get(..len)?));
        content = content.get(len..)?;
    }
    Some(out)
}

fn der_wrap(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Splits a DER OCSPResponse (RFC 6960 4.2.1) whose BasicOCSPResponse carries certificates into
/// the same response without them and the certificates, decoded through the shared cache. The
/// signed tbsResponseData, the algorithm and the signature are kept byte for byte. `None` when
/// there are none to split off, or when anything is not exactly the DER expected (the caller
/// then gives OpenSSL the response as received, and its errors are reported as before).
fn split_carried_certs(der: &[u8]) -> Option<(Vec<u8>, Vec<X509>)> {
    let (0x30, outer, len) = der_tlv(der)? else {
        return None;
    };
    if len != der.len() {
        return None;
    }
    let [(0x0a, _, status), (0xa0, explicit, _)] = der_items(outer)?[..] else {
        return None;
    };
    let [(0x30, bytes, _)] = der_items(explicit)?[..] else {
        return None;
    };
    let [(0x06, _, response_type), (0x04, basic_der, _)] = der_items(bytes)?[..] else {
        return None;
    };
    let [(0x30, basic, _)] = der_items(basic_der)?[..] else {
        return None;
    };
    let items = der_items(basic)?;
    let [(0x30, _, tbs), (0x30, _, algorithm), (0x03, _, signature), (0xa0, certs, _)] = items[..]
    else {
        return None;
    };
    let [(0x30, list, _)] = der_items(certs)?[..] else {
        return None;
    };
    let mut carried = Vec::new();
    for (tag, _, cert) in der_items(list)? {
        if tag != 0x30 {
            return None;
        }
        carried.push(crate::pki::cms::cached_certificate(cert).ok()?);
    }
    let basic = der_wrap(0x30, &[tbs, algorithm, signature]);
    let octets = der_wrap(0x04, &[&basic]);
    let bytes = der_wrap(0x30, &[response_type, &octets]);
    let explicit = der_wrap(0xa0, &[&bytes]);
    Some((der_wrap(0x30, &[status, &explicit]), carried))
}

/// Finds who signed the OCSP response: the issuer itself, or a delegated responder certificate
/// (carried in the response) issued by the issuer, with id-kp-OCSPSigning, valid at producedAt
/// (RFC 6960 4.2.2.2). Returns the signer's subject.
fn ocsp_signer(
    issuer: &X509Ref,
    basic: &openssl::ocsp::OcspBasicResponseRef,
    carried: &[X509],
    produced_at: Option<OffsetDateTime>,
) -> Result<String, RevocationError> {
    let kind = EvidenceKind::Ocsp;
    let internal = |e: openssl::error::ErrorStack| RevocationError::Malformed {
        kind,
        detail: e.to_string(),
    };
    let store = X509StoreBuilder::new().map_err(internal)?.build();
    // NOINTERN: look for the signer only among the certificate we pass; NOVERIFY: check only the
    // signature with that certificate's key (authorisation is checked here, not by OpenSSL's store).
    let flags = OcspFlag::NO_INTERN | OcspFlag::NO_VERIFY;
    let signed_by = |c: &X509Ref| -> bool {
        let mut s = match Stack::new() {
            Ok(s) => s,
            Err(_) => return false,
        };
        if s.push(c.to_owned()).is_err() {
            return false;
        }
        basic.verify(&s, &store, flags).is_ok()
    };
    // A delegated responder's certificate comes with every response it signs: take the shared
    // decoded copy (its public key already decoded: OpenSSL 3.0 spends ~100 µs decoding one) and
    // try the carried certificates first, since a response that carries one is usually signed by
    // it; the issuer's own key is tried last. Either way the answer is the same: signed by the
    // issuer, or by a certificate the issuer authorised.
    let issuer_sha256 = crate::pki::cert_facts::sha256(issuer);
    let mut unauthorised = None;
    for c in carried {
        if crate::pki::cert_facts::sha256(c) == issuer_sha256 {
            continue;
        }
        if !signed_by(c) {
            continue;
        }
        let issued_by_issuer =
            issuer.issued(c).as_raw() == 0 && cert_signed_by(c, issuer, &issuer_sha256);
        let has_eku = c
            .extended_key_usage()
            .is_some_and(|e| e.contains(X509ExtendedKeyUsage::OCSP_SIGN));
        let valid_then = match produced_at {
            Some(p) => {
                asn1_to_offset(c.not_before()).is_some_and(|nb| nb <= p)
                    && asn1_to_offset(c.not_after()).is_some_and(|na| p <= na)
            }
            None => false,
        };
        if issued_by_issuer && has_eku && valid_then {
            return Ok(subject_string(c));
        }
        unauthorised = Some(subject_string(c));
    }
    if signed_by(issuer) {
        return Ok(subject_string(issuer));
    }
    Err(match unauthorised {
        Some(responder) => RevocationError::UnauthorisedResponder { responder },
        None => RevocationError::BadSignature {
            kind,
            issuer: subject_string(issuer),
        },
    })
}

/// The URIs of the certificate's CRL distribution points (RFC 5280 4.2.1.13), fullName only.
pub fn crl_distribution_points(cert: &X509Ref) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(dps) = cert.crl_distribution_points() {
        for dp in &dps {
            let names = dp.distpoint().and_then(|n| n.fullname());
            for n in names.into_iter().flatten() {
                if let Some(u) = n.uri() {
                    out.push(u.to_owned());
                }
            }
        }
    }
    out
}

/// The OCSP responder URIs of the certificate's AIA extension (RFC 5280 4.2.2.1).
pub fn ocsp_urls(cert: &X509Ref) -> Vec<String> {
    cert.ocsp_responders()
        .map(|s| s.iter().map(|u| u.to_string()).collect())
        .unwrap_or_default()
}

/// The caIssuers URIs of the certificate's AIA extension (RFC 5280 4.2.2.1).
pub fn ca_issuer_urls(cert: &X509Ref) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(aia) = cert.authority_info() {
        for ad in &aia {
            if ad.method().nid() == Nid::AD_CA_ISSUERS {
                if let Some(u) = ad.location().uri() {
                    out.push(u.to_owned());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pki::test_pki_file as pki;

    #[test]
    fn splitting_off_carried_certificates_changes_no_answer() {
        let cert = X509::from_pem(&pki("citizen-an.pem")).expect("cert");
        let issuer = X509::from_pem(&pki("licensed-ca.pem")).expect("issuer");
        let der = pki("citizen-an-good.ocsp");
        let (stripped, carried) = split_carried_certs(&der).expect("carries its responder");
        assert_eq!(carried.len(), 1);
        let whole = OcspResponse::from_der(&der).expect("ocsp");
        let whole_certs = ossl_ffi::ocsp_certs(&whole.basic().expect("basic"));
        assert_eq!(
            whole_certs[0].to_der().expect("der"),
            carried[0].to_der().expect("der")
        );
        let bare = OcspResponse::from_der(&stripped).expect("stripped parses");
        assert!(ossl_ffi::ocsp_certs(&bare.basic().expect("basic")).is_empty());
        let good = ocsp_facts_split(&cert, &issuer, &der, true);
        assert!(matches!(good, Ok(Some(_))), "{good:?}");
        assert_eq!(good, ocsp_facts_split(&cert, &issuer, &der, false));
        // Every one-bit change anywhere gets the same answer both ways (a changed signed part
        // fails the signature, a changed certificate fails its checks, broken DER is refused).
        for i in 0..der.len() {
            for bit in [0x01u8, 0x80] {
                let mut m = der.clone();
                m[i] ^= bit;
                assert_eq!(
                    ocsp_facts_split(&cert, &issuer, &m, true),
                    ocsp_facts_split(&cert, &issuer, &m, false),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }

    #[test]
    fn der_lengths_are_strict() {
        assert_eq!(der_tlv(&[0x30, 0x00]), Some((0x30, &[][..], 2)));
        // Long form for a short length, a leading zero, indefinite length, past the end.
        assert_eq!(der_tlv(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]), None);
        assert_eq!(der_tlv(&[0x30, 0x82, 0x00, 0x80]), None);
        assert_eq!(der_tlv(&[0x30, 0x80, 0x00, 0x00]), None);
        assert_eq!(der_tlv(&[0x30, 0x03, 0x00]), None);
        let long = der_wrap(0x04, &[&[7u8; 300]]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_tlv(&long), Some((0x04, &[7u8; 300][..], 304)));
    }
}
