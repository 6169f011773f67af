//! Validation of one CMS signature (from a PDF or detached): cryptography, signature timestamp,
//! certification path, revocation at the signing time, identity. Pure: everything comes in as
//! arguments, and the result is a `SignatureReport` plus what would help (revocation data to fetch).
//!
//! Times, per ETSI EN 319 102-1: a verified signature timestamp is a proof of existence (POE), and
//! the certificate is judged at that time. Without a POE the signature is judged at the validation
//! time. A time the signer merely claims (/M, signingTime) can make the verdict worse (a claimed
//! time after revocation or expiry fails the signature), never better.

use openssl::x509::{X509Crl, X509};
use time::OffsetDateTime;

use super::report::{
    AlgorithmReport, CertReport, Check, Checks, IdentifierReport, Indication, Note,
    RevocationReport, RevocationStatusReport, SignatureKind, SignatureReport, SignerReport,
    SubIndication, TimeSource, TimestampReport,
};
use crate::config::RevocationMode;
use crate::pki::algorithms::AlgorithmPolicy;
use crate::pki::cert_facts;
use crate::pki::cms::{self, CmsVerification};
use crate::pki::identity;
use crate::pki::path::{self, PathInputs, PathPolicy, Purpose};
use crate::pki::revocation::{self, EvidenceKind, Freshness, RevocationData, RevocationStatus};
use crate::pki::trust::TrustStore;
use crate::pki::tsp;
use crate::timefmt::vietnam;

/// Revocation data and certificates available for a document, with where each came from.
#[derive(Default)]
pub struct Pool {
    pub certs: Vec<X509>,
    pub revocation: RevocationData,
    /// sha256 hex of a CRL/OCSP DER -> origin (embedded | supplied | fetched).
    pub origins: std::collections::HashMap<String, &'static str>,
}

impl Pool {
    pub fn add_crl(&mut self, crl: X509Crl, origin: &'static str) {
        if let Ok(der) = crl.to_der() {
            let h = sha256_hex(&der);
            if self.origins.contains_key(&h) {
                return;
            }
            self.origins.insert(h, origin);
            self.revocation.crls.push(crl);
        }
    }

    pub fn add_ocsp(&mut self, der: Vec<u8>, origin: &'static str) {
        let h = sha256_hex(&der);
        if self.origins.contains_key(&h) {
            return;
        }
        self.origins.insert(h, origin);
        self.revocation.ocsp_responses.push(der);
    }

    pub fn add_cert(&mut self, cert: X509) {
        let der = cert.to_der().unwrap_or_default();
        if !self
            .certs
            .iter()
            .any(|c| c.to_der().map(|d| d == der).unwrap_or(false))
        {
            self.certs.push(cert);
        }
    }
}

/// The inputs that differ between a PDF signature and a detached one.
pub struct SignatureInput<'a> {
    pub index: usize,
    pub kind: SignatureKind,
    pub field_name: Option<String>,
    pub sub_filter: Option<String>,
    pub contents: &'a [u8],
    /// The signed bytes, in order.
    pub pieces: Vec<&'a [u8]>,
    pub claimed_time: Option<OffsetDateTime>,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub docmdp: Option<u8>,
    /// A POE from a later document timestamp that covers this signature, if any.
    pub later_poe: Option<OffsetDateTime>,
}

pub struct Settings<'a> {
    pub trust: &'a TrustStore,
    pub policy: &'a AlgorithmPolicy,
    pub revocation_mode: RevocationMode,
    pub validation_time: OffsetDateTime,
}

/// What checking one signature produced besides its report.
#[derive(Default)]
pub struct Side {
    /// Certificates (with their issuer) whose revocation status was missing.
    pub missing: Vec<(X509, X509)>,
    /// sha256 -> (kind, der) of every piece of evidence used.
    pub evidence: Vec<(String, &'static str, Vec<u8>)>,
    /// The verified time of an ETSI.RFC3161 document timestamp.
    pub document_timestamp_time: Option<OffsetDateTime>,
}

/// Starts a report with nothing checked.
fn empty_report(input: &SignatureInput<'_>) -> SignatureReport {
    SignatureReport {
        index: input.index,
        kind: input.kind,
        field_name: input.field_name.clone(),
        sub_filter: input.sub_filter.clone(),
        indication: Indication::Indeterminate,
        sub_indication: None,
        signer: None,
        chain: Vec::new(),
        signing_time: None,
        signing_time_source: TimeSource::ValidationTime,
        claimed_signing_time: input.claimed_time.map(vietnam),
        timestamp: None,
        revocation: Vec::new(),
        coverage: None,
        algorithms: None,
        checks: Checks::default(),
        docmdp: input.docmdp,
        modifications: None,
        level: None,
        reason: input.reason.clone(),
        location: input.location.clone(),
        errors: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Records the first failure; later ones are kept as errors but do not override it, except that
/// a TOTAL_FAILED always wins over an INDETERMINATE (EN 319 102-1 5.1.3: failed is definitive).
pub fn fail(
    report: &mut SignatureReport,
    sub: SubIndication,
    code: &str,
    detail: impl Into<String>,
) {
    report.errors.push(Note::new(code, detail));
    let replace = match report.sub_indication {
        None => true,
        Some(existing) => {
            existing.indication() == Indication::Indeterminate
                && sub.indication() == Indication::TotalFailed
        }
    };
    if replace {
        report.sub_indication = Some(sub);
        report.indication = sub.indication();
    }
}

/// Checks one signature.
pub fn check(
    input: &SignatureInput<'_>,
    pool: &Pool,
    settings: &Settings<'_>,
) -> (SignatureReport, Side) {
    let mut report = empty_report(input);
    let mut side = Side::default();

    if input.kind == SignatureKind::DocumentTimestamp {
        check_document_timestamp(input, pool, settings, &mut report, &mut side);
        finish(&mut report);
        return (report, side);
    }

    let parsed = match cms::parse_signed_data(input.contents) {
        Ok(p) => p,
        Err(e) => {
            fail(
                &mut report,
                SubIndication::FormatFailure,
                "CMS_UNREADABLE",
                e.to_string(),
            );
            report.checks.integrity = Check::NotChecked;
            finish(&mut report);
            return (report, side);
        }
    };
    let verification = cms::verify_signer_with(
        &parsed,
        0,
        cms::SignedContent::Pieces(&input.pieces),
        settings.policy,
        &pool.certs,
    );
    apply_cms(
        &verification,
        &mut report,
        input.sub_filter.as_deref() == Some("ETSI.CAdES.detached"),
    );
    let Some(signer) = verification.signer_cert.clone() else {
        finish(&mut report);
        return (report, side);
    };
    report.signer = Some(signer_report(&signer));

    // Certificates for path building: the CMS's own, then the document's.
    let mut untrusted: Vec<X509> = parsed.certificates.clone();
    untrusted.extend(pool.certs.iter().cloned());

    // Revocation data inside the CMS (adbe-revocationInfoArchival and the SignedData crls), added
    // to the document's; most signatures carry none, so the common case copies nothing.
    let mut origins_storage = None;
    let mut extra_crls = Vec::new();
    let mut extra_ocsps = Vec::new();
    for crl in verification
        .revocation_archival
        .crls
        .iter()
        .chain(parsed.crls.iter())
    {
        if let Ok(der) = crl.to_der() {
            let h = sha256_hex(&der);
            if !pool.origins.contains_key(&h) {
                origins_storage
                    .get_or_insert_with(|| pool.origins.clone())
                    .insert(h, "embedded");
                extra_crls.extend(clone_crl(crl));
            }
        }
    }
    for der in &verification.revocation_archival.ocsp {
        let h = sha256_hex(der);
        if !pool.origins.contains_key(&h) {
            origins_storage
                .get_or_insert_with(|| pool.origins.clone())
                .insert(h, "embedded");
            extra_ocsps.push(der.clone());
        }
    }
    let local_storage;
    let local: &RevocationData = if extra_crls.is_empty() && extra_ocsps.is_empty() {
        &pool.revocation
    } else {
        local_storage = RevocationData {
            crls: pool
                .revocation
                .crls
                .iter()
                .filter_map(clone_crl)
                .chain(extra_crls)
                .collect(),
            ocsp_responses: pool
                .revocation
                .ocsp_responses
                .iter()
                .cloned()
                .chain(extra_ocsps)
                .collect(),
        };
        &local_storage
    };
    let origins = origins_storage.as_ref().unwrap_or(&pool.origins);

    // Signature timestamp: its verified time is a proof of existence.
    let mut poe: Option<OffsetDateTime> = None;
    for token in &verification.signature_timestamps {
        let ts = check_timestamp_token(
            token,
            &[&verification.signature_value_bytes],
            &untrusted,
            local,
            origins,
            settings,
            &mut side,
            input.later_poe,
        );
        if ts.indication == Indication::TotalPassed {
            if let Some(t) = crate::timefmt::parse_rfc3339(&ts.time) {
                poe = Some(poe.map_or(t, |p: OffsetDateTime| p.min(t)));
            }
        } else {
            report.warnings.push(Note::new(
                "SIGNATURE_TIMESTAMP_INVALID",
                format!(
                    "the signature timestamp does not verify ({}); it is not used as proof of time",
                    ts.sub_indication.map(|s| s.as_str()).unwrap_or("?")
                ),
            ));
        }
        if report.timestamp.is_none() {
            report.timestamp = Some(ts);
        }
    }
    // EN 319 102-1 5.6.2.4: a signature timestamp must precede every document timestamp that
    // covers the signature; otherwise the order of the evidence is impossible.
    if let (Some(sig_ts), Some(later)) = (poe, input.later_poe) {
        if sig_ts > later + time::Duration::minutes(5) {
            fail(
                &mut report,
                SubIndication::TimestampOrderFailure,
                "TIMESTAMP_ORDER_FAILURE",
                format!(
                    "the signature timestamp {} is after the document timestamp {} that covers it",
                    vietnam(sig_ts),
                    vietnam(later)
                ),
            );
        }
    }
    if poe.is_none() {
        if let Some(later) = input.later_poe {
            poe = Some(later);
        }
    }
    let claimed = input.claimed_time.or(verification.signing_time_attr);
    if verification.signing_time_attr.is_some()
        && input.sub_filter.as_deref() == Some("ETSI.CAdES.detached")
    {
        report.warnings.push(Note::new(
            "SIGNING_TIME_ATTRIBUTE_IN_PADES",
            "PAdES forbids the signingTime attribute; the time is taken from /M or a timestamp",
        ));
    }
    let judged_at = poe.unwrap_or(settings.validation_time);
    match (poe, claimed) {
        (Some(t), _) => {
            report.signing_time = Some(vietnam(t));
            report.signing_time_source = TimeSource::Timestamp;
        }
        (None, Some(c)) => {
            report.signing_time = Some(vietnam(c));
            report.signing_time_source = TimeSource::Claimed;
        }
        (None, None) => {
            report.signing_time = Some(vietnam(settings.validation_time));
            report.signing_time_source = TimeSource::ValidationTime;
        }
    }
    if let (Some(p), Some(c)) = (poe, claimed) {
        // A claimed time after the proven one cannot be true (allow clock skew of 5 minutes).
        if c > p + time::Duration::minutes(5) {
            report.warnings.push(Note::new(
                "CLAIMED_TIME_AFTER_TIMESTAMP",
                format!(
                    "the claimed signing time {} is after the timestamp {}",
                    vietnam(c),
                    vietnam(p)
                ),
            ));
        }
    }

    // A content timestamp (id-aa-ets-contentTimestamp, a signed attribute) proves the signature
    // was made after its time.
    let mut content_time = None;
    for token in &verification.content_timestamps {
        if let Ok(v) = tsp::verify_timestamp_token(token, &input.pieces, settings.policy) {
            if v.is_valid() {
                content_time = Some(v.gen_time);
            }
        }
    }

    // Certification path, judged at the POE or the validation time.
    let chain = check_path(
        &signer,
        &untrusted,
        settings,
        judged_at,
        poe.is_some(),
        claimed,
        Purpose::DocumentSigning,
        &mut report,
    );
    if let Some(chain) = chain {
        check_revocation(
            &chain,
            local,
            origins,
            settings,
            judged_at,
            content_time,
            &mut report,
            &mut side,
        );
    }
    finish(&mut report);
    (report, side)
}

fn apply_cms(v: &CmsVerification, report: &mut SignatureReport, cades: bool) {
    report.algorithms = Some(AlgorithmReport {
        digest: v
            .digest_algorithm
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|| "?".into()),
        signature: v
            .signature_algorithm
            .as_ref()
            .map(|s| s.name())
            .unwrap_or_else(|| "?".into()),
        public_key: v
            .key_info
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".into()),
    });
    for problem in &v.problems {
        report.warnings.push(Note::new("CMS", problem.to_string()));
    }
    if v.signer_cert.is_none() {
        fail(
            report,
            SubIndication::NoSigningCertificateFound,
            "NO_SIGNING_CERTIFICATE",
            "the signer's certificate is neither in the signature nor in the document",
        );
        return;
    }
    report.checks.integrity = match v.message_digest {
        cms::DigestCheck::Ok => Check::Passed,
        cms::DigestCheck::Mismatch => {
            fail(
                report,
                SubIndication::HashFailure,
                "DIGEST_MISMATCH",
                "the signed bytes do not match the messageDigest attribute",
            );
            Check::Failed
        }
        cms::DigestCheck::Missing => {
            fail(
                report,
                SubIndication::FormatFailure,
                "NO_MESSAGE_DIGEST",
                "the signed attributes carry no messageDigest",
            );
            Check::Failed
        }
        // Without signed attributes the signature value itself covers the content.
        cms::DigestCheck::NotApplicable => Check::NotChecked,
        cms::DigestCheck::NotChecked => {
            fail(
                report,
                SubIndication::FormatFailure,
                "DIGEST_NOT_COMPUTED",
                "the content digest could not be computed",
            );
            Check::Failed
        }
    };
    if let Some(cms::DigestCheck::Mismatch) = v.embedded_sha1 {
        fail(
            report,
            SubIndication::HashFailure,
            "DIGEST_MISMATCH",
            "the SHA-1 digest inside the signature does not match the signed bytes",
        );
        report.checks.integrity = Check::Failed;
    }
    report.checks.signature_value = match v.signature_value {
        cms::SignatureCheck::Ok => Check::Passed,
        cms::SignatureCheck::Invalid => {
            fail(
                report,
                SubIndication::SigCryptoFailure,
                "SIGNATURE_INVALID",
                "the signature value does not verify with the signer's public key",
            );
            Check::Failed
        }
        cms::SignatureCheck::Unsupported => {
            fail(
                report,
                SubIndication::CryptoConstraintsFailure,
                "ALGORITHM_UNSUPPORTED",
                "the signature algorithm is not supported",
            );
            Check::Failed
        }
        cms::SignatureCheck::NotChecked => {
            fail(
                report,
                SubIndication::FormatFailure,
                "SIGNATURE_NOT_CHECKED",
                "the signature value could not be checked",
            );
            Check::Failed
        }
    };
    if report.checks.integrity == Check::NotChecked
        && report.checks.signature_value == Check::Passed
    {
        report.checks.integrity = Check::Passed;
    }
    if matches!(v.content_type, cms::ContentTypeCheck::Mismatch) {
        fail(
            report,
            SubIndication::FormatFailure,
            "CONTENT_TYPE_MISMATCH",
            "the contentType attribute does not match the encapsulated content type",
        );
    }
    report.checks.signing_certificate_binding = match v.ess {
        cms::EssCheck::V2Match | cms::EssCheck::V1Match => Check::Passed,
        cms::EssCheck::Mismatch => {
            fail(
                report,
                SubIndication::NoSigningCertificateFound,
                "ESS_MISMATCH",
                "the signing-certificate attribute names a different certificate",
            );
            Check::Failed
        }
        cms::EssCheck::Absent if cades => {
            fail(
                report,
                SubIndication::NoSigningCertificateFound,
                "ESS_ABSENT",
                "ETSI.CAdES.detached requires a signing-certificate-v2 attribute binding the certificate (EN 319 122-1 5.2.2)",
            );
            Check::Failed
        }
        cms::EssCheck::Absent => {
            report.warnings.push(Note::new(
                "ESS_ABSENT",
                "no signing-certificate(-v2) attribute binds the certificate to the signature (required by PAdES/CAdES)",
            ));
            Check::Warning
        }
    };
    report.checks.algorithms = match &v.policy {
        Ok(()) => Check::Passed,
        Err(rejected) => {
            fail(
                report,
                SubIndication::CryptoConstraintsFailure,
                "ALGORITHM_REJECTED",
                rejected.to_string(),
            );
            Check::Failed
        }
    };
}

/// Validates the path; returns the chain when it is good enough to check revocation on.
#[allow(clippy::too_many_arguments)]
fn check_path(
    leaf: &X509,
    untrusted: &[X509],
    settings: &Settings<'_>,
    judged_at: OffsetDateTime,
    has_poe: bool,
    claimed: Option<OffsetDateTime>,
    purpose: Purpose,
    report: &mut SignatureReport,
) -> Option<Vec<X509>> {
    let run = |time: OffsetDateTime| {
        path::validate_path(&PathInputs {
            leaf,
            untrusted,
            trust: settings.trust,
            time,
            purpose,
            policy: PathPolicy::default(),
            native_crls: None,
        })
    };
    let result = run(judged_at);
    report.chain = chain_report(&result.chain, settings.trust);
    match &result.result {
        Ok(()) => {
            report.checks.certificate_path = Check::Passed;
            report.checks.validity_at_signing_time = Check::Passed;
            Some(result.chain)
        }
        Err(e) if e.is_time_failure() => {
            // Outside the validity period at the judged time. Is everything else right?
            let not_before = path::asn1_to_offset(leaf.not_before());
            let not_after = path::asn1_to_offset(leaf.not_after());
            report.checks.validity_at_signing_time = Check::Failed;
            let inside = match (not_before, not_after) {
                (Some(nb), Some(na)) => {
                    let probe = claimed.filter(|c| *c >= nb && *c <= na).unwrap_or(na);
                    Some(probe.max(nb))
                }
                _ => None,
            };
            // A time failure of another certificate at the probe time is expected (the shell
            // model judges all certificates at one time); other failures are real.
            let second = inside.map(run);
            match second.as_ref().map(|r| &r.result) {
                Some(Ok(())) => report.checks.certificate_path = Check::Passed,
                Some(Err(other)) if !other.is_time_failure() => {
                    report.checks.certificate_path = Check::Failed;
                    fail(
                        report,
                        sub_from_path(other),
                        "PATH_INVALID",
                        other.to_string(),
                    );
                }
                _ => {}
            }
            if let Some(r) = second.as_ref().filter(|r| !r.chain.is_empty()) {
                report.chain = chain_report(&r.chain, settings.trust);
            }
            // Expired at a proven time fails; expired only at the validation time, with nothing
            // proving the signature existed while the certificate was valid, is indeterminate.
            let expired = e.sub_indication() == "EXPIRED";
            let sub = match (expired, has_poe) {
                (true, true) => SubIndication::Expired,
                (true, false) => SubIndication::OutOfBoundsNoPoe,
                (false, _) => SubIndication::NotYetValid,
            };
            fail(report, sub, "CERTIFICATE_OUT_OF_VALIDITY", e.to_string());
            None
        }
        Err(e) => {
            report.checks.certificate_path = Check::Failed;
            fail(report, sub_from_path(e), "PATH_INVALID", e.to_string());
            None
        }
    }
}

fn sub_from_path(e: &path::PathError) -> SubIndication {
    match e.sub_indication() {
        "NO_CERTIFICATE_CHAIN_FOUND" => SubIndication::NoCertificateChainFound,
        "CHAIN_CONSTRAINTS_FAILURE" => SubIndication::ChainConstraintsFailure,
        "SIG_CONSTRAINTS_FAILURE" => SubIndication::SigConstraintsFailure,
        "EXPIRED" => SubIndication::Expired,
        "NOT_YET_VALID" => SubIndication::NotYetValid,
        "OUT_OF_BOUNDS_NO_POE" => SubIndication::OutOfBoundsNoPoe,
        "REVOKED" => SubIndication::Revoked,
        "CRYPTO_CONSTRAINTS_FAILURE" => SubIndication::CryptoConstraintsFailure,
        _ => SubIndication::CertificateChainGeneralFailure,
    }
}

/// Revocation of every certificate of the chain but the anchor, at the judged time.
#[allow(clippy::too_many_arguments)]
fn check_revocation(
    chain: &[X509],
    data: &RevocationData,
    origins: &std::collections::HashMap<String, &'static str>,
    settings: &Settings<'_>,
    judged_at: OffsetDateTime,
    made_after: Option<OffsetDateTime>,
    report: &mut SignatureReport,
    side: &mut Side,
) {
    if settings.revocation_mode == RevocationMode::Skip {
        report.checks.revocation = Check::NotChecked;
        report.warnings.push(Note::new(
            "REVOCATION_NOT_CHECKED",
            "revocation checking was skipped by policy (dangerous): the certificate may be revoked",
        ));
        for cert in chain.iter().take(chain.len().saturating_sub(1)) {
            report.revocation.push(RevocationReport {
                subject: identity::format_dn(cert.subject_name()),
                serial: serial_hex(cert),
                status: RevocationStatusReport::NotChecked,
                source: None,
                origin: None,
                this_update: None,
                next_update: None,
                revoked_at: None,
                reason: None,
                fresh: false,
                evidence_sha256: None,
                detail: None,
            });
        }
        return;
    }
    let results = revocation::check_chain(chain, data, judged_at, settings.validation_time);
    let mut unknown = false;
    for r in results {
        let cert = chain.get(r.depth);
        let mut rep = RevocationReport {
            subject: r.subject.clone(),
            serial: r.serial.clone(),
            status: RevocationStatusReport::Unknown,
            source: None,
            origin: None,
            this_update: None,
            next_update: None,
            revoked_at: None,
            reason: None,
            fresh: false,
            evidence_sha256: None,
            detail: None,
        };
        let evidence = match &r.status {
            RevocationStatus::Good { evidence, .. }
            | RevocationStatus::Revoked { evidence, .. } => Some(evidence),
            _ => None,
        };
        if let Some(ev) = evidence {
            let h = hex::encode(ev.sha256);
            let kind = match ev.kind {
                EvidenceKind::Crl => "crl",
                EvidenceKind::Ocsp => "ocsp",
            };
            rep.source = Some(kind.to_owned());
            rep.origin = Some(origins.get(&h).copied().unwrap_or("embedded").to_owned());
            rep.this_update = Some(vietnam(ev.this_update));
            rep.next_update = ev.next_update.map(vietnam);
            rep.fresh = ev.this_update >= judged_at;
            side.evidence.push((h.clone(), kind, ev.der.clone()));
            rep.evidence_sha256 = Some(h);
        }
        let is_leaf = r.depth == 0;
        match &r.status {
            RevocationStatus::Good {
                freshness,
                revoked_later,
                ..
            } => {
                rep.status = RevocationStatusReport::Good;
                if *freshness == Freshness::WithinValidity {
                    rep.detail = Some(
                        "the evidence predates the signing time but was still current then".into(),
                    );
                }
                if let Some(later) = revoked_later {
                    rep.revoked_at = Some(vietnam(later.revoked_at));
                    rep.reason = later.reason.map(|r| format!("{r:?}"));
                    report.warnings.push(Note::new(
                        "REVOKED_AFTER_SIGNING",
                        format!(
                            "{} was revoked at {}, after the signing time",
                            r.subject,
                            vietnam(later.revoked_at)
                        ),
                    ));
                }
            }
            RevocationStatus::Exempt => {
                rep.status = RevocationStatusReport::NotChecked;
                rep.detail =
                    Some("OCSP responder with id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1)".into());
            }
            RevocationStatus::Revoked {
                revoked_at, reason, ..
            } => {
                rep.status = RevocationStatusReport::Revoked;
                rep.revoked_at = Some(vietnam(*revoked_at));
                rep.reason = reason.map(|r| format!("{r:?}"));
                // Revoked at or before the judged time. Only a proof that the signature was made
                // after the revocation (a content timestamp) makes this a definitive failure;
                // otherwise nothing proves it existed before (EN 319 102-1 5.2.6).
                let made_after = made_after.is_some_and(|t| t >= *revoked_at);
                let sub = match (is_leaf, made_after) {
                    (true, true) => SubIndication::Revoked,
                    (true, false) => SubIndication::RevokedNoPoe,
                    (false, _) => SubIndication::RevokedCaNoPoe,
                };
                fail(
                    report,
                    sub,
                    "CERTIFICATE_REVOKED",
                    format!(
                        "{} was revoked at {}{}",
                        r.subject,
                        vietnam(*revoked_at),
                        if made_after {
                            "; a content timestamp proves the signature was made after that"
                        } else {
                            "; nothing proves the signature existed before"
                        }
                    ),
                );
            }
            RevocationStatus::Unknown { reason, others } => {
                unknown = true;
                let mut detail = reason.to_string();
                for o in others {
                    detail.push_str("; ");
                    detail.push_str(&o.to_string());
                }
                rep.detail = Some(detail);
                if let (Some(cert), Some(issuer)) = (cert, chain.get(r.depth + 1)) {
                    side.missing.push((cert.clone(), issuer.clone()));
                }
            }
        }
        report.revocation.push(rep);
    }
    report.checks.revocation = if report
        .revocation
        .iter()
        .any(|r| r.status == RevocationStatusReport::Revoked)
    {
        Check::Failed
    } else if unknown {
        match settings.revocation_mode {
            RevocationMode::Require => {
                fail(
                    report,
                    SubIndication::TryLater,
                    "REVOCATION_UNKNOWN",
                    "the revocation status of a certificate in the path could not be established",
                );
                Check::Failed
            }
            _ => {
                report.warnings.push(Note::new(
                    "REVOCATION_UNKNOWN",
                    "the revocation status of a certificate in the path could not be established",
                ));
                Check::Warning
            }
        }
    } else {
        Check::Passed
    };
}

/// An RFC 3161 token over `imprinted`: its own crypto, then its TSA's path and revocation.
#[allow(clippy::too_many_arguments)]
fn check_timestamp_token(
    token: &[u8],
    imprinted: &[&[u8]],
    untrusted: &[X509],
    data: &RevocationData,
    origins: &std::collections::HashMap<String, &'static str>,
    settings: &Settings<'_>,
    side: &mut Side,
    later_poe: Option<OffsetDateTime>,
) -> TimestampReport {
    let mut ts = TimestampReport {
        time: String::new(),
        tsa: None,
        serial: None,
        indication: Indication::Indeterminate,
        sub_indication: None,
        chain: Vec::new(),
        errors: Vec::new(),
    };
    let v = match tsp::verify_timestamp_token(token, imprinted, settings.policy) {
        Ok(v) => v,
        Err(e) => {
            ts.indication = Indication::TotalFailed;
            ts.sub_indication = Some(SubIndication::FormatFailure);
            ts.errors
                .push(Note::new("TIMESTAMP_UNREADABLE", e.to_string()));
            return ts;
        }
    };
    ts.time = vietnam(v.gen_time);
    ts.serial = Some(hex::encode(&v.serial));
    ts.tsa = v
        .tsa_cert
        .as_ref()
        .map(|c| identity::format_dn(c.subject_name()))
        .or_else(|| v.tsa_name.clone());
    // Reuse the signature check on the token's own CMS.
    let mut inner = SignatureReport {
        ..empty_report(&SignatureInput {
            index: 0,
            kind: SignatureKind::Signature,
            field_name: None,
            sub_filter: None,
            contents: &[],
            pieces: Vec::new(),
            claimed_time: None,
            reason: None,
            location: None,
            docmdp: None,
            later_poe: None,
        })
    };
    if !v.imprint_ok {
        fail(
            &mut inner,
            SubIndication::HashFailure,
            "TIMESTAMP_IMPRINT_MISMATCH",
            "the timestamp's message imprint does not match",
        );
    }
    if let Err(rejected) = &v.imprint_policy {
        fail(
            &mut inner,
            SubIndication::CryptoConstraintsFailure,
            "ALGORITHM_REJECTED",
            rejected.to_string(),
        );
    }
    match v.tsa_eku {
        tsp::TsaEkuCheck::Ok => {}
        tsp::TsaEkuCheck::NotCritical => inner.warnings.push(Note::new(
            "TSA_EKU_NOT_CRITICAL",
            "the TSA certificate's extendedKeyUsage is not critical (RFC 3161 2.3)",
        )),
        other => fail(
            &mut inner,
            SubIndication::SigConstraintsFailure,
            "TSA_EKU",
            format!("the TSA certificate may not issue timestamps ({other:?}, RFC 3161 2.3)"),
        ),
    }
    apply_cms(&v.cms, &mut inner, false);
    if let Some(tsa) = v.tsa_cert.as_ref() {
        let mut all: Vec<X509> = v.certificates.clone();
        all.extend(untrusted.iter().cloned());
        // The TSA is judged at the validation time, or earlier when a later document timestamp
        // proves the token existed then (the B-LTA chain: EN 319 102-1 5.6.3, 5.6.2.3).
        let judged_at = later_poe
            .filter(|p| *p >= v.gen_time)
            .map_or(settings.validation_time, |p| {
                p.min(settings.validation_time)
            });
        if let Some(chain) = check_path(
            tsa,
            &all,
            settings,
            judged_at,
            false,
            None,
            Purpose::Timestamping,
            &mut inner,
        ) {
            // Its revocation status too is needed at the time it is judged: a token is proof of
            // its own time only while its TSA is known not to be revoked (or, for an archived
            // token, at the time a later timestamp proves). A CRL that was current at genTime
            // but has expired since proves nothing about a key compromised later.
            check_revocation(
                &chain, data, origins, settings, judged_at, None, &mut inner, side,
            );
        }
    }
    finish(&mut inner);
    ts.chain = inner.chain;
    ts.indication = inner.indication;
    ts.sub_indication = inner.sub_indication;
    ts.errors = inner.errors;
    ts.errors.extend(inner.warnings);
    ts
}

fn check_document_timestamp(
    input: &SignatureInput<'_>,
    pool: &Pool,
    settings: &Settings<'_>,
    report: &mut SignatureReport,
    side: &mut Side,
) {
    let ts = check_timestamp_token(
        input.contents,
        &input.pieces,
        &pool.certs,
        &pool.revocation,
        &pool.origins,
        settings,
        side,
        input.later_poe,
    );
    report.indication = ts.indication;
    report.sub_indication = ts.sub_indication;
    report.errors.extend(ts.errors.iter().cloned());
    report.chain = ts.chain.clone();
    report.signing_time = Some(ts.time.clone());
    report.signing_time_source = TimeSource::Timestamp;
    if ts.indication == Indication::TotalPassed {
        side.document_timestamp_time = crate::timefmt::parse_rfc3339(&ts.time);
        report.checks.integrity = Check::Passed;
        report.checks.signature_value = Check::Passed;
        report.checks.certificate_path = Check::Passed;
    }
    report.timestamp = Some(ts);
}

/// A signature with no failure recorded has passed.
pub fn finish(report: &mut SignatureReport) {
    if report.sub_indication.is_none() {
        report.indication = Indication::TotalPassed;
    }
}

fn chain_report(chain: &[X509], trust: &TrustStore) -> Vec<CertReport> {
    chain
        .iter()
        .map(|c| {
            let f = cert_facts::of(c);
            CertReport {
                subject: f.subject.clone(),
                issuer: f.issuer.clone(),
                serial: f.serial_hex.clone(),
                not_before: f.not_before.map(vietnam).unwrap_or_default(),
                not_after: f.not_after.map(vietnam).unwrap_or_default(),
                sha256: hex::encode(f.sha256),
                trust_anchor: trust.is_anchor(c),
            }
        })
        .collect()
}

fn signer_report(cert: &X509) -> SignerReport {
    let id = identity::identity_of(cert);
    SignerReport {
        name: id.common_name.clone(),
        organization: id.organization.clone(),
        identifiers: id
            .identifiers
            .iter()
            .map(|i| IdentifierReport {
                kind: i.kind.prefix().to_owned(),
                value: i.value.clone(),
            })
            .collect(),
        subject: id.subject_dn.clone(),
        issuer: identity::format_dn(cert.issuer_name()),
        serial: serial_hex(cert),
        not_before: path::asn1_to_offset(cert.not_before())
            .map(vietnam)
            .unwrap_or_default(),
        not_after: path::asn1_to_offset(cert.not_after())
            .map(vietnam)
            .unwrap_or_default(),
        certificate_sha256: hex::encode(cert_facts::sha256(cert)),
    }
}

fn serial_hex(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
        .unwrap_or_default()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// OpenSSL CRL handles cannot be cloned; a DER round trip makes an owned copy.
pub fn clone_crl(crl: &X509Crl) -> Option<X509Crl> {
    crl.to_der().ok().and_then(|d| X509Crl::from_der(&d).ok())
}
