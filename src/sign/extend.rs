//! Bringing an existing signed PDF (ours or anyone's) up to B-LT or B-LTA, and renewing B-LTA
//! archives (ETSI EN 319 142-1 5.4, 6.4-6.5; EN 319 102-1 5.6.3): a DSS update with the
//! certificates and revocation data that validate every signature and timestamp already in the
//! file, then (B-LTA) a document timestamp over it all.
//!
//! Fail closed. The document is verified first (antin's verifier, revocation aside): a file with
//! no signature, or with one signature or timestamp that does not verify, is refused, because
//! archiving a broken signature would make it look trustworthy. The gathered data must then make
//! every signature pass with revocation required, and the result is verified again, offline,
//! before it is returned. The original bytes are never changed: both steps are incremental
//! updates, so earlier signatures stay valid.

use openssl::x509::X509;
use time::OffsetDateTime;

use super::keys::DigestAlg;
use super::ltv::{Gatherer, Refs};
use super::pdf::{self, DssData, Placement, SignatureKind, SignatureRequest};
use super::service::{Level, Profile, SignError};
use crate::config::{AlgorithmPolicyName, RevocationMode};
use crate::pki::revocation::RevocationData;
use crate::verify::engine::Context;
use crate::verify::report::{Indication, SignatureKind as ReportKind, SignatureReport};
use crate::verify::{Input, Report, VerifyOptions};

/// What to extend to.
#[derive(Debug, Clone, Copy)]
pub struct ExtendOptions {
    /// B-LT or B-LTA.
    pub level: Level,
    /// Only renew when the last document timestamp's TSA certificate expires within this
    /// window (the archive-renewal check an operator runs from cron); `None`: always extend.
    pub if_expiring_within: Option<time::Duration>,
}

/// The result of [`extend`].
#[derive(Debug, Clone)]
pub enum Extended {
    /// The extended document; `level` is the lowest level its PAdES signatures now reach.
    Done { bytes: Vec<u8>, level: Level },
    /// `if_expiring_within` was given and the last document timestamp is not yet due.
    NothingToDo {
        /// The TSA certificate's notAfter.
        tsa_not_after: OffsetDateTime,
    },
}

/// Why a document was not extended. Nothing is returned with any of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtendError {
    /// Only the long-term levels add validation data.
    #[error("--extend brings a document to B-LT or B-LTA, not {0}")]
    Level(&'static str),
    /// Encrypted, broken or otherwise not updatable (`sign::pdf`).
    #[error("the PDF cannot be extended: {0}")]
    Pdf(#[from] pdf::SignPdfError),
    #[error("the PDF cannot be read: {0}")]
    Unreadable(String),
    /// There is nothing to extend.
    #[error("the PDF has no signature to extend")]
    NoSignature,
    /// A signature or timestamp already in the file does not verify (revocation aside): extending
    /// it would make a broken signature look archived.
    #[error("{what} {field} does not verify ({indication}): {detail}")]
    InvalidSignature {
        what: &'static str,
        field: String,
        indication: String,
        detail: String,
    },
    /// The validation data that could be had does not make every signature pass.
    #[error("{what} {field} cannot be validated with the revocation data available ({indication}): {detail}")]
    NoValidationData {
        what: &'static str,
        field: String,
        indication: String,
        detail: String,
    },
    /// B-LTA needs a timestamp authority.
    #[error("level B-LTA needs a timestamp authority, and profile {0} has none")]
    NoTsa(String),
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The new document timestamp's validation data could not be had.
    #[error("validation data for the document timestamp: {0}")]
    Ltv(#[from] super::ltv::LtvError),
    /// The extended document did not verify at the level asked for: nothing is returned.
    #[error("the extended document does not validate: {0}")]
    SelfCheck(String),
}

fn options(revocation: RevocationMode, now: OffsetDateTime) -> VerifyOptions {
    VerifyOptions {
        revocation,
        offline: true,
        at: Some(now),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: Vec::new(),
    }
}

fn run(
    context: &Context,
    bytes: &[u8],
    revocation: RevocationMode,
    data: &RevocationData,
    now: OffsetDateTime,
) -> Result<Report, ExtendError> {
    context
        .run(
            &Input::Pdf(bytes.to_vec()),
            &options(revocation, now),
            now,
            data,
        )
        .map(|r| r.outcome.report)
        .map_err(|e| ExtendError::Unreadable(e.to_string()))
}

fn what(s: &SignatureReport) -> &'static str {
    match s.kind {
        ReportKind::Signature => "signature",
        ReportKind::DocumentTimestamp => "document timestamp",
    }
}

fn field(s: &SignatureReport) -> String {
    s.field_name
        .clone()
        .unwrap_or_else(|| format!("#{}", s.index + 1))
}

fn errors(s: &SignatureReport) -> String {
    let mut parts: Vec<String> = s
        .errors
        .iter()
        .map(|e| format!("[{}] {}", e.code, e.detail))
        .collect();
    if let Some(ts) = &s.timestamp {
        parts.extend(
            ts.errors
                .iter()
                .map(|e| format!("timestamp: [{}] {}", e.code, e.detail)),
        );
    }
    if parts.is_empty() {
        parts.push(
            s.sub_indication
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default(),
        );
    }
    parts.join("; ")
}

fn indication(s: &SignatureReport) -> String {
    format!(
        "{}{}",
        s.indication.as_str(),
        s.sub_indication
            .map(|x| format!(" / {}", x.as_str()))
            .unwrap_or_default()
    )
}

/// Every certificate the document carries (CMS certificate sets, timestamp tokens, DSS) and the
/// trust store's, by SHA-256, to turn the verifier's paths back into certificates.
fn certificate_pool(
    context: &Context,
    fields: &[crate::pdf::SignatureField],
    dss_certs: &[Vec<u8>],
) -> Vec<X509> {
    let mut pool: Vec<X509> = Vec::new();
    let mut add = |c: X509| {
        let der = c.to_der().ok();
        if !pool.iter().any(|x| x.to_der().ok() == der) {
            pool.push(c);
        }
    };
    for f in fields {
        let Ok(parsed) = crate::pki::cms::parse_signed_data(&f.contents) else {
            continue;
        };
        for c in &parsed.certificates {
            add(c.clone());
        }
        for si in &parsed.signer_infos {
            for a in &si.unsigned_attrs {
                // id-aa-signatureTimeStampToken (RFC 3161 appendix A).
                if a.oid.to_string() != "1.2.840.113549.1.9.16.2.14" {
                    continue;
                }
                for v in &a.values {
                    if let Ok(t) = crate::pki::cms::parse_signed_data(v) {
                        for c in t.certificates {
                            add(c);
                        }
                    }
                }
            }
        }
    }
    for d in dss_certs {
        if let Ok(c) = X509::from_der(d) {
            add(c);
        }
    }
    for a in context.trust.anchors() {
        add(a.cert().clone());
    }
    for c in context.trust.intermediates() {
        add(c.clone());
    }
    pool
}

fn by_sha256(pool: &[X509], chain: &[crate::verify::report::CertReport]) -> Vec<X509> {
    chain
        .iter()
        .filter_map(|c| {
            pool.iter()
                .find(|x| {
                    x.to_der()
                        .map(|d| hex::encode(openssl::sha::sha256(&d)) == c.sha256)
                        .unwrap_or(false)
                })
                .cloned()
        })
        .collect()
}

/// The TSA certificate of the document's last document timestamp, if it has one.
fn last_doc_timestamp_tsa(fields: &[crate::pdf::SignatureField]) -> Option<X509> {
    let last = fields
        .iter()
        .filter(|f| f.kind == crate::pdf::SignatureKind::DocTimestamp)
        .max_by_key(|f| f.revision.unwrap_or(0))?;
    let policy = crate::pki::algorithms::AlgorithmPolicy::default();
    crate::pki::tsp::verify_timestamp_token(&last.contents, &[], &policy)
        .ok()?
        .tsa_cert
}

/// Extends `input` with `profile`'s revocation sources and TSA, as of `now`. See the module
/// documentation for what is refused.
pub async fn extend(
    context: &Context,
    profile: &Profile,
    input: &[u8],
    opts: &ExtendOptions,
    now: OffsetDateTime,
) -> Result<Extended, ExtendError> {
    if opts.level < Level::BLT {
        return Err(ExtendError::Level(opts.level.as_str()));
    }
    // Encrypted, broken xref, trailing garbage: refused before anything is fetched.
    pdf::add_dss(input, &DssData::default())?;
    let doc = crate::pdf::parse(input, &context.limits)
        .map_err(|e| ExtendError::Unreadable(e.to_string()))?;
    let fields = doc
        .signatures()
        .map_err(|e| ExtendError::Unreadable(e.to_string()))?;
    if fields.is_empty() {
        return Err(ExtendError::NoSignature);
    }
    let existing_dss = doc.dss().ok().flatten();
    let dss_certs = existing_dss
        .as_ref()
        .map(|d| d.certs.clone())
        .unwrap_or_default();
    // VRI entries already written stay as they are (a validator may treat a changed VRI entry as
    // a suspicious modification: pyHanko's DSS rule does); new data still goes into the DSS.
    let vri_keys: Vec<String> = existing_dss
        .as_ref()
        .map(|d| d.vri.keys().map(|k| k.to_ascii_uppercase()).collect())
        .unwrap_or_default();

    if let Some(window) = opts.if_expiring_within {
        if let Some(tsa) = last_doc_timestamp_tsa(&fields) {
            let not_after = crate::pki::path::asn1_to_offset(tsa.not_after())
                .ok_or_else(|| ExtendError::Unreadable("TSA certificate notAfter".into()))?;
            if not_after > now + window {
                return Ok(Extended::NothingToDo {
                    tsa_not_after: not_after,
                });
            }
        }
    }
    let tsa = profile.tsa();

    // 1. Everything in the file must verify, revocation aside (that is what we are adding).
    let first = run(
        context,
        input,
        RevocationMode::Skip,
        &RevocationData::default(),
        now,
    )?;
    if let Some(bad) = first
        .signatures
        .iter()
        .find(|s| s.indication != Indication::TotalPassed)
    {
        return Err(ExtendError::InvalidSignature {
            what: what(bad),
            field: field(bad),
            indication: indication(bad),
            detail: errors(bad),
        });
    }
    let needs_poe = first.signatures.iter().any(|s| {
        s.kind == ReportKind::Signature
            && s.sub_filter.as_deref() == Some("ETSI.CAdES.detached")
            && s.level.as_deref() == Some("B-B")
    });
    let level = if needs_poe { Level::BLTA } else { opts.level };
    if level == Level::BLTA && tsa.is_none() {
        return Err(ExtendError::NoTsa(profile.name.clone()));
    }

    // 2. The chains the verifier built, and their revocation data now.
    let pool = certificate_pool(context, &fields, &dss_certs);
    let (crls, ocsp) = profile.revocation_sources();
    let mut gatherer = Gatherer::new(crls, ocsp, now);
    let mut vri: Vec<(Vec<u8>, Refs)> = Vec::new();
    for s in &first.signatures {
        let Some(f) = fields.get(s.index) else {
            continue;
        };
        let mut refs = gatherer.chain(&by_sha256(&pool, &s.chain)).await;
        if let Some(ts) = &s.timestamp {
            let r = gatherer.chain(&by_sha256(&pool, &ts.chain)).await;
            refs.extend(&r);
        }
        let key = hex::encode_upper(openssl::sha::sha1(&f.contents));
        if !vri_keys.contains(&key) {
            vri.push((f.contents.clone(), refs));
        }
    }
    let gathered = RevocationData {
        crls: gatherer
            .material
            .crls
            .iter()
            .filter_map(|d| openssl::x509::X509Crl::from_der(d).ok())
            .collect(),
        ocsp_responses: gatherer.material.ocsps.clone(),
    };

    // 3. With that data every signature must pass, revocation required.
    let second = run(context, input, RevocationMode::Require, &gathered, now)?;
    if let Some(bad) = second
        .signatures
        .iter()
        .find(|s| s.indication != Indication::TotalPassed)
    {
        let mut detail = errors(bad);
        for p in &gatherer.problems {
            detail.push_str("; ");
            detail.push_str(&p.to_string());
        }
        return Err(ExtendError::NoValidationData {
            what: what(bad),
            field: field(bad),
            indication: indication(bad),
            detail,
        });
    }
    let problems = gatherer.problems.clone();
    let dss = gatherer.material.into_dss(vri);
    let mut bytes = pdf::add_dss(input, &dss)?;

    // 4. B-LTA: a document timestamp over the document and its new DSS.
    if level == Level::BLTA {
        let Some(tsa) = tsa else {
            return Err(ExtendError::NoTsa(profile.name.clone()));
        };
        let mut req = SignatureRequest::new(SignatureKind::DocumentTimestamp, now);
        req.field_name = "DocTimeStamp1".to_owned();
        req.placement = Placement::Invisible;
        let chain_len: usize = profile
            .tsa_chain()
            .iter()
            .map(|c| c.to_der().map(|d| d.len()).unwrap_or(2048))
            .sum();
        req.contents_capacity = 16 * 1024 + chain_len;
        let prepared = pdf::prepare(&bytes, &req)?;
        let imprint = DigestAlg::Sha256.digest(&prepared.signed_parts());
        let token = tsa.timestamp(DigestAlg::Sha256, &imprint, now).await?;
        bytes = prepared.finish(&token)?;
        // The new timestamp's own validation data, in a DSS update after it.
        let mut extra = profile.tsa_chain().to_vec();
        extra.extend(pool.iter().cloned());
        let dss =
            super::ltv::timestamp_dss(profile.revocation_sources(), &token, &extra, now).await?;
        bytes = pdf::add_dss(&bytes, &dss)?;
    }

    // 5. The result must verify at the level reached, from its own validation data.
    let report = run(
        context,
        &bytes,
        RevocationMode::Require,
        &RevocationData::default(),
        now,
    )?;
    let want: &[&str] = if level == Level::BLTA {
        &["B-LTA"]
    } else {
        &["B-LT", "B-LTA"]
    };
    for s in &report.signatures {
        let pades = s.kind == ReportKind::Signature
            && s.sub_filter.as_deref() == Some("ETSI.CAdES.detached");
        let level_ok = !pades || s.level.as_deref().is_some_and(|l| want.contains(&l));
        if s.indication != Indication::TotalPassed || !level_ok {
            let mut detail = format!(
                "{} {}: {}, level {}: {}",
                what(s),
                field(s),
                indication(s),
                s.level.as_deref().unwrap_or("-"),
                errors(s)
            );
            for p in &problems {
                detail.push_str("; ");
                detail.push_str(&p.to_string());
            }
            return Err(ExtendError::SelfCheck(detail));
        }
    }
    Ok(Extended::Done { bytes, level })
}

/// The transparency-log entry of an extension: what came in, what went out, with which profile.
pub fn log_entry(
    input: &[u8],
    output: &[u8],
    profile: &str,
    level: Level,
    actor: &str,
    now: OffsetDateTime,
) -> crate::store::LogInput {
    let out_sha = hex::encode(openssl::sha::sha256(output));
    crate::audit::record::admin(
        "document_extended",
        serde_json::json!({
            "input_sha256": hex::encode(openssl::sha::sha256(input)),
            "output_sha256": out_sha,
            "profile": profile,
            "level": level.as_str(),
        }),
        actor,
        now,
    )
    .subject(format!("sha256:{out_sha}"))
}
