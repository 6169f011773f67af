//! The verification engine. `Context::run` is pure: the document, the trust store, the time and the
//! revocation data come in, a report comes out. It never reads the clock or the network; the
//! `Verifier` (mod.rs) fetches what `run` says is missing and calls it again.

use std::path::PathBuf;
use std::time::Duration;

use openssl::x509::{X509Crl, X509};
use time::OffsetDateTime;

use super::diff::Level;
use super::report::{
    CoverageReport, DocumentInfo, ExpectedSignerId, Indication, Note, PolicyInfo, Report,
    SignatureKind, SignatureReport, SubIndication, Verdict,
};
use super::signature::{self, Pool, Settings, SignatureInput};
use super::{Input, Outcome, VerifyError, VerifyOptions};
use crate::config::{AlgorithmPolicyName, Config};
use crate::pdf;
use crate::pki::algorithms::AlgorithmPolicy;
use crate::pki::fetch::{FetchConfig, Fetcher};
use crate::pki::revocation::RevocationData;
use crate::pki::trust::{TrustError, TrustStore};
use crate::store::EvidenceItem;
use crate::timefmt::vietnam;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    #[error("trust store: {0}")]
    Trust(#[from] TrustError),
    #[error("revocation fetcher: {0}")]
    Fetcher(String),
}

/// Certificates whose revocation status the engine could not establish, with their issuers.
pub type Missing = Vec<(X509, X509)>;

pub struct RunResult {
    pub outcome: Outcome,
    pub missing_revocation: Missing,
}

/// What the engine needs besides the document: trust and (at the edge) a fetcher.
pub struct Context {
    pub trust: TrustStore,
    fetcher: Fetcher,
    pub limits: pdf::Limits,
}

/// Loads anchors (the `override_anchors` if any, else the configured ones and the installed ones)
/// and intermediates (configured and installed).
pub fn load_trust_store(
    config: &Config,
    override_anchors: &[PathBuf],
) -> Result<TrustStore, ContextError> {
    let mut store = TrustStore::new();
    if override_anchors.is_empty() {
        for p in &config.trust.anchors {
            store.load_anchors(p)?;
        }
        if has_files(&config.trust.anchor_dir) {
            store.load_anchors(&config.trust.anchor_dir)?;
        }
    } else {
        for p in override_anchors {
            store.load_anchors(p)?;
        }
    }
    for p in &config.trust.intermediates {
        // Intermediates only help path building: a missing file is worth a warning, not a stop.
        if let Err(e) = store.load_intermediates(p) {
            tracing::warn!(error = %e, "intermediates not loaded");
        }
    }
    if has_files(&config.trust.intermediate_dir) {
        store.load_intermediates(&config.trust.intermediate_dir)?;
    }
    Ok(store)
}

/// The install folders start empty (or absent): that is not an error.
fn has_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

impl Context {
    pub fn from_config(
        config: &Config,
        override_anchors: &[PathBuf],
    ) -> Result<Self, ContextError> {
        let trust = load_trust_store(config, override_anchors)?;
        let fetcher = Fetcher::new(FetchConfig {
            timeout: Duration::from_secs(config.verify.fetch_timeout_secs),
            max_bytes: config.verify.max_fetch_bytes,
            ..FetchConfig::default()
        })
        .map_err(|e| ContextError::Fetcher(e.to_string()))?;
        Ok(Context {
            trust,
            fetcher,
            limits: pdf::Limits::default(),
        })
    }

    /// A context over an explicit trust store, with default fetch settings.
    pub fn new(trust: TrustStore) -> Result<Self, ContextError> {
        let fetcher = Fetcher::new(FetchConfig::default())
            .map_err(|e| ContextError::Fetcher(e.to_string()))?;
        Ok(Context {
            trust,
            fetcher,
            limits: pdf::Limits::default(),
        })
    }

    /// Fetches revocation data for the certificates `run` could not decide on.
    pub async fn fetch_missing(&self, missing: &Missing) -> RevocationData {
        let mut out = RevocationData::default();
        for (cert, issuer) in missing {
            let got = self
                .fetcher
                .fetch_for_chain(&[cert.clone(), issuer.clone()])
                .await;
            out.crls.extend(got.crls);
            out.ocsp_responses.extend(got.ocsp_responses);
        }
        out
    }

    /// Verifies a document. `fetched` is revocation data obtained by the caller since a first run.
    pub fn run(
        &self,
        input: &Input,
        options: &VerifyOptions,
        now: OffsetDateTime,
        fetched: &RevocationData,
    ) -> Result<RunResult, VerifyError> {
        let validation_time = options.at.unwrap_or(now);
        let policy = match options.algorithm_policy {
            AlgorithmPolicyName::Default => AlgorithmPolicy::default(),
            AlgorithmPolicyName::DangerousAcceptLegacy => {
                AlgorithmPolicy::dangerous_accept_legacy()
            }
        };
        let settings = Settings {
            trust: &self.trust,
            policy: &policy,
            revocation_mode: options.revocation,
            validation_time,
        };
        let mut pool = Pool::default();
        for der in &options.extra_crls {
            let crl = X509Crl::from_der(der)
                .or_else(|_| X509Crl::from_pem(der))
                .map_err(|_| {
                    VerifyError::Unreadable("a supplied CRL is neither DER nor PEM".into())
                })?;
            pool.add_crl(crl, "supplied");
        }
        for crl in &fetched.crls {
            if let Some(crl) = signature::clone_crl(crl) {
                pool.add_crl(crl, "fetched");
            }
        }
        for ocsp in &fetched.ocsp_responses {
            pool.add_ocsp(ocsp.clone(), "fetched");
        }

        let (document, mut signatures, sides, mut warnings) = match input {
            Input::Pdf(bytes) => self.run_pdf(bytes, &mut pool, &settings)?,
            Input::Detached { data, signature } => run_detached(data, signature, &pool, &settings)?,
        };

        let mut missing = Vec::new();
        let mut evidence: Vec<EvidenceItem> = Vec::new();
        for side in sides {
            missing.extend(side.missing);
            for (sha256, kind, der) in side.evidence {
                if !evidence.iter().any(|e| e.sha256 == sha256) {
                    evidence.push(EvidenceItem {
                        sha256,
                        kind: kind.to_owned(),
                        der,
                    });
                }
            }
        }

        let expected = options
            .expected_signer_id
            .as_ref()
            .map(|want| ExpectedSignerId {
                value: want.clone(),
                found: signatures.iter().any(|s| {
                    s.kind == SignatureKind::Signature
                        && s.signer.as_ref().is_some_and(|signer| {
                            signer
                                .identifiers
                                .iter()
                                .any(|id| id_matches(&id.kind, &id.value, want))
                        })
                }),
            });
        let mut verdict = aggregate(&signatures);
        if let Some(e) = &expected {
            if !e.found && verdict != Verdict::NoSignature {
                verdict = Verdict::TotalFailed;
                warnings.push(Note::new(
                    SubIndication::SignerIdMismatch.as_str(),
                    format!("no signature carries the identifier {}", e.value),
                ));
            }
        }
        for s in &mut signatures {
            if s.sub_indication == Some(SubIndication::TryLater) && options.offline {
                s.warnings.push(Note::new(
                    "OFFLINE",
                    "revocation data was not fetched: offline mode",
                ));
            }
        }
        let report = Report {
            verdict,
            validation_time: vietnam(validation_time),
            document,
            policy: PolicyInfo {
                revocation: options.revocation,
                offline: options.offline,
                algorithm_policy: match options.algorithm_policy {
                    AlgorithmPolicyName::Default => "circular-15-2025".into(),
                    AlgorithmPolicyName::DangerousAcceptLegacy => "dangerous-accept-legacy".into(),
                },
            },
            expected_signer_id: expected,
            signatures,
            warnings,
            summary: Default::default(),
        };
        let report = Report {
            summary: super::report::Summary {
                vi: super::text::summary(&report, crate::i18n::Lang::Vi),
                en: super::text::summary(&report, crate::i18n::Lang::En),
            },
            ..report
        };
        Ok(RunResult {
            outcome: Outcome { report, evidence },
            missing_revocation: missing,
        })
    }

    #[allow(clippy::type_complexity)]
    fn run_pdf(
        &self,
        bytes: &[u8],
        pool: &mut Pool,
        settings: &Settings<'_>,
    ) -> Result<
        (
            DocumentInfo,
            Vec<SignatureReport>,
            Vec<signature::Side>,
            Vec<Note>,
        ),
        VerifyError,
    > {
        let doc =
            pdf::parse(bytes, &self.limits).map_err(|e| VerifyError::Unreadable(e.to_string()))?;
        let fields = doc
            .signatures()
            .map_err(|e| VerifyError::Unreadable(e.to_string()))?;
        let mut warnings: Vec<Note> = doc
            .warnings()
            .iter()
            .map(|w| Note::new("PDF", format!("{w:?}")))
            .collect();
        if let Ok(Some(dss)) = doc.dss() {
            for der in &dss.certs {
                if let Ok(c) = crate::pki::cms::cached_certificate(der) {
                    pool.add_cert(c);
                }
            }
            for der in &dss.crls {
                if let Ok(c) = X509Crl::from_der(der) {
                    pool.add_crl(c, "embedded");
                }
            }
            for der in &dss.ocsps {
                pool.add_ocsp(der.clone(), "embedded");
            }
        }
        let revisions = doc.revisions().len();
        let (doc_sha256, known_digests) = hash_once(bytes, &fields);
        let document = DocumentInfo {
            sha256: doc_sha256,
            size: bytes.len() as u64,
            detached: false,
            revisions: Some(revisions),
            changes: Vec::new(),
        };

        // Document timestamps first: a valid one is a proof of existence for every signature in
        // the revisions it covers (B-LTA).
        let mut reports = Vec::with_capacity(fields.len());
        let mut sides = Vec::with_capacity(fields.len());
        let mut doc_ts: Vec<(usize, OffsetDateTime)> = Vec::new();
        let order: Vec<usize> = {
            let mut o: Vec<usize> = (0..fields.len()).collect();
            // Document timestamps first, the latest first: each one's proof of existence then
            // reaches the earlier ones it covers (the B-LTA chain, EN 319 102-1 5.6.3).
            o.sort_by_key(|&i| {
                let ts = fields[i].kind == pdf::SignatureKind::DocTimestamp;
                (
                    !ts,
                    if ts {
                        usize::MAX - fields[i].revision.unwrap_or(0)
                    } else {
                        i
                    },
                )
            });
            o
        };
        let mut slots: Vec<Option<(SignatureReport, signature::Side)>> =
            (0..fields.len()).map(|_| None).collect();
        // The signed ranges' digests were computed with the document's (one pass over the file).
        crate::pki::digest_memo::with_known(&known_digests, || {
            for i in order {
                let f = &fields[i];
                // For a standard ByteRange, its two ranges; otherwise whatever the ByteRange
                // designates inside the file, so that the report can say the cryptography is intact
                // while the coverage fails (the coverage alone decides the verdict then).
                let pieces: Vec<&[u8]> = match pdf::signed_bytes(bytes, f) {
                    Some(p) => p.to_vec(),
                    None => designated_ranges(bytes, f.byte_range.as_deref().unwrap_or(&[])),
                };
                let covered_rev = f.revision;
                let later_poe = covered_rev.and_then(|r| {
                    doc_ts
                        .iter()
                        .filter(|(rev, _)| *rev > r)
                        .map(|(_, t)| *t)
                        .min()
                });
                let kind = match f.kind {
                    pdf::SignatureKind::DocTimestamp => SignatureKind::DocumentTimestamp,
                    _ => SignatureKind::Signature,
                };
                let input = SignatureInput {
                    index: i,
                    kind,
                    field_name: f.field_name.clone(),
                    sub_filter: f.sub_filter.clone(),
                    contents: &f.contents,
                    pieces,
                    claimed_time: f.claimed_time,
                    reason: f.reason.clone(),
                    location: f.location.clone(),
                    docmdp: f.docmdp,
                    later_poe,
                };
                let (mut report, side) = if let Some(problem) = unsupported_sub_filter(f) {
                    let mut r = signature::check(&input, pool, settings).0;
                    signature::fail(
                        &mut r,
                        SubIndication::FormatFailure,
                        "SUBFILTER_UNSUPPORTED",
                        problem,
                    );
                    (r, signature::Side::default())
                } else {
                    signature::check(&input, pool, settings)
                };
                report.coverage = Some(coverage_report(f));
                match &f.coverage {
                    pdf::Coverage::NonStandard(defect) => {
                        report.checks.coverage = super::report::Check::Failed;
                        signature::fail(
                            &mut report,
                            SubIndication::FormatFailure,
                            "COVERAGE_NON_STANDARD",
                            format!("{defect:?}"),
                        );
                        // The coverage defect is the reason, whatever else failed.
                        report.sub_indication = Some(SubIndication::FormatFailure);
                        report.indication = Indication::TotalFailed;
                    }
                    _ => report.checks.coverage = super::report::Check::Passed,
                }
                if f.unreachable_in_latest {
                    report.warnings.push(Note::new(
                        "SIGNATURE_REMOVED",
                        "this signature is no longer reachable in the latest revision of the document",
                    ));
                }
                if let (Some(t), Some(r)) = (side.document_timestamp_time, covered_rev) {
                    doc_ts.push((r, t));
                }
                slots[i] = Some((report, side));
            }
        });
        for (report, side) in slots.into_iter().flatten() {
            reports.push(report);
            sides.push(side);
        }

        // What every update after a signed revision changed, against the whitelist.
        let diffs = super::diff::analyse(&doc, &fields);
        for d in diffs.iter().filter(|d| d.level == Level::Disallowed) {
            warnings.push(Note::new(
                SubIndication::ModifiedAfterSigning.as_str(),
                describe_disallowed(d),
            ));
        }
        for r in reports.iter_mut() {
            let Some(rev) = r.coverage.as_ref().and_then(|c| c.revision) else {
                continue;
            };
            let later: Vec<&super::diff::RevisionDiff> =
                diffs.iter().filter(|d| d.revision > rev).collect();
            let worst = later.iter().map(|d| d.level).max().unwrap_or(Level::None);
            r.modifications = Some(worst);
            match worst {
                Level::Disallowed => {
                    if let Some(first) = later.iter().find(|d| d.level == Level::Disallowed) {
                        signature::fail(
                            r,
                            SubIndication::ModifiedAfterSigning,
                            "MODIFIED_AFTER_SIGNING",
                            describe_disallowed(first),
                        );
                    }
                }
                Level::Permitted => {
                    let kinds: Vec<String> = later
                        .iter()
                        .flat_map(|d| d.changes.iter())
                        .filter(|c| c.kind != super::diff::ChangeKind::Structure)
                        .map(|c| c.detail.clone())
                        .fold(Vec::new(), |mut acc: Vec<String>, d| {
                            if !acc.contains(&d) {
                                acc.push(d);
                            }
                            acc
                        })
                        .into_iter()
                        .take(10)
                        .collect();
                    r.warnings.push(Note::new(
                        "CHANGES_PERMITTED",
                        format!("permitted changes after signing: {}", kinds.join("; ")),
                    ));
                }
                Level::None => {}
            }
        }
        let mut document = document;
        document.changes = diffs;
        set_levels(&doc, &fields, &mut reports);
        Ok((document, reports, sides, warnings))
    }
}

#[allow(clippy::type_complexity)]
fn run_detached(
    data: &[u8],
    signature_bytes: &[u8],
    pool: &Pool,
    settings: &Settings<'_>,
) -> Result<
    (
        DocumentInfo,
        Vec<SignatureReport>,
        Vec<signature::Side>,
        Vec<Note>,
    ),
    VerifyError,
> {
    let der = decode_pem_or_der(signature_bytes)?;
    let input = SignatureInput {
        index: 0,
        kind: SignatureKind::Signature,
        field_name: None,
        sub_filter: None,
        contents: &der,
        pieces: vec![data],
        claimed_time: None,
        reason: None,
        location: None,
        docmdp: None,
        later_poe: None,
    };
    let (report, side) = signature::check(&input, pool, settings);
    let document = DocumentInfo {
        sha256: signature::sha256_hex(data),
        size: data.len() as u64,
        detached: true,
        revisions: None,
        changes: Vec::new(),
    };
    Ok((document, vec![report], vec![side], Vec::new()))
}

/// A detached signature may be DER or PEM (`-----BEGIN PKCS7-----` / `CMS`).
fn decode_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let trimmed = bytes.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(trimmed)
        .map_err(|_| VerifyError::Unreadable("the PEM signature is not text".into()))?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| VerifyError::Unreadable("the PEM signature is not valid base64".into()))
}

fn unsupported_sub_filter(f: &pdf::SignatureField) -> Option<String> {
    match (f.kind, f.sub_filter.as_deref()) {
        (pdf::SignatureKind::DocTimestamp, Some("ETSI.RFC3161")) => None,
        (
            pdf::SignatureKind::Signature,
            Some("adbe.pkcs7.detached" | "ETSI.CAdES.detached" | "adbe.pkcs7.sha1"),
        ) => None,
        (_, Some(other)) => Some(format!("unsupported /SubFilter /{other}")),
        (_, None) => Some("the signature dictionary has no /SubFilter".into()),
    }
}

/// The PAdES baseline level of each PAdES signature (ETSI EN 319 142-1 6.2-6.5, as a validator can
/// see it): B-T needs a valid signature timestamp or a valid document timestamp in a later
/// revision; B-LT a DSS in a later revision (or the signed one) carrying certificates and
/// revocation data; B-LTA a valid document timestamp in a revision at or after the DSS's.
fn set_levels(
    doc: &pdf::PdfDocument<'_>,
    fields: &[pdf::SignatureField],
    reports: &mut [SignatureReport],
) {
    let revisions = doc.revisions().len();
    // The revisions that wrote the DSS (a new or rewritten DSS dictionary, or a catalog with a
    // direct one): validation data added after a signature is in one at or after its revision.
    let mut dss_revs: Vec<usize> = (0..revisions)
        .filter_map(|r| {
            let cat = doc.catalog(r).ok()?;
            let dss = cat.get(b"DSS")?;
            let holder = match dss.as_ref() {
                Some(id) => id,
                None => doc.revisions().get(r)?.trailer.get(b"Root")?.as_ref()?,
            };
            doc.entry(r, holder.0).ok().flatten().map(|(d, _)| d)
        })
        .collect();
    dss_revs.sort_unstable();
    dss_revs.dedup();
    let dss_useful = doc
        .dss()
        .ok()
        .flatten()
        .is_some_and(|d| !d.certs.is_empty() && (!d.crls.is_empty() || !d.ocsps.is_empty()));
    // Valid document timestamps by the (0-based) revision they cover.
    let doc_ts: Vec<usize> = reports
        .iter()
        .zip(fields)
        .filter(|(r, f)| {
            f.kind == pdf::SignatureKind::DocTimestamp && r.indication == Indication::TotalPassed
        })
        .filter_map(|(r, _)| r.coverage.as_ref().and_then(|c| c.revision).map(|x| x - 1))
        .collect();
    for r in reports.iter_mut() {
        if r.kind != SignatureKind::Signature
            || r.sub_filter.as_deref() != Some("ETSI.CAdES.detached")
        {
            continue;
        }
        let Some(rev) = r.coverage.as_ref().and_then(|c| c.revision).map(|x| x - 1) else {
            continue;
        };
        let sig_ts = r
            .timestamp
            .as_ref()
            .is_some_and(|t| t.indication == Indication::TotalPassed);
        let later_ts = doc_ts.iter().any(|t| *t > rev);
        let mut level = "B-B";
        if sig_ts || later_ts {
            level = "B-T";
            if let (Some(&d), true) = (dss_revs.iter().find(|d| **d >= rev), dss_useful) {
                {
                    level = "B-LT";
                    if doc_ts.iter().any(|t| *t >= d && *t > rev) {
                        level = "B-LTA";
                    }
                }
            }
        }
        r.level = Some(level.to_owned());
    }
}

/// One line for a disallowed update: its revision and the first changes not on the whitelist.
fn describe_disallowed(d: &super::diff::RevisionDiff) -> String {
    let bad: Vec<&str> = d.disallowed().map(|c| c.detail.as_str()).collect();
    let shown: Vec<&str> = bad.iter().take(10).copied().collect();
    format!(
        "revision {} makes {} change(s) not permitted after signing: {}{}",
        d.revision,
        bad.len(),
        shown.join("; "),
        if bad.len() > shown.len() { "; ..." } else { "" }
    )
}

fn coverage_report(f: &pdf::SignatureField) -> CoverageReport {
    let (status, revision, later, detail) = match &f.coverage {
        pdf::Coverage::WholeFile => ("whole_file", f.revision.map(|r| r + 1), 0, None),
        pdf::Coverage::Revision {
            revision,
            later_revisions,
        } => ("revision", Some(revision + 1), *later_revisions, None),
        pdf::Coverage::NonStandard(defect) => {
            ("non_standard", None, 0, Some(format!("{defect:?}")))
        }
    };
    CoverageReport {
        byte_range: f.byte_range.clone(),
        status: status.to_owned(),
        revision,
        later_revisions: later,
        detail,
    }
}

/// The document's verdict from its signatures' indications.
fn aggregate(signatures: &[SignatureReport]) -> Verdict {
    if signatures.is_empty() {
        return Verdict::NoSignature;
    }
    if signatures
        .iter()
        .any(|s| s.indication == Indication::TotalFailed)
    {
        Verdict::TotalFailed
    } else if signatures
        .iter()
        .any(|s| s.indication == Indication::Indeterminate)
    {
        Verdict::Indeterminate
    } else {
        Verdict::TotalPassed
    }
}

/// `want` is `KIND:VALUE` (kind compared case-insensitively) or a bare value.
fn id_matches(kind: &str, value: &str, want: &str) -> bool {
    let want = want.trim();
    match want.split_once(':') {
        Some((k, v)) => k.trim().eq_ignore_ascii_case(kind) && v.trim() == value,
        None => want == value,
    }
}

/// The byte ranges a (possibly malformed) /ByteRange designates, clamped to the file.
fn designated_ranges<'a>(bytes: &'a [u8], byte_range: &[i64]) -> Vec<&'a [u8]> {
    byte_range
        .chunks_exact(2)
        .filter_map(|pair| {
            let start = usize::try_from(pair[0]).ok()?;
            let len = usize::try_from(pair[1]).ok()?;
            let end = start.checked_add(len)?.min(bytes.len());
            bytes.get(start..end)
        })
        .collect()
}

/// The file's SHA-256 and those of every signature's standard ByteRange ([0, a] and [b, b + c]),
/// in one pass: a running hash of the file, forked at the end of each signature's first range
/// (which starts at 0) and finished with its second. For the usual file, whose signatures' second
/// ranges are short, that is one hash of the file instead of one per signature plus one.
fn hash_once<'a>(
    bytes: &'a [u8],
    fields: &[pdf::SignatureField],
) -> (String, Vec<crate::pki::digest_memo::Known<'a>>) {
    use ring::digest::{Context, SHA256};
    let mut spans: Vec<[&'a [u8]; 2]> = fields
        .iter()
        .filter_map(|f| pdf::signed_bytes(bytes, f))
        .filter(|p| p[0].as_ptr() == bytes.as_ptr())
        .collect();
    spans.sort_by_key(|p| p[0].len());
    let mut doc = Context::new(&SHA256);
    let mut pos = 0;
    let mut known = Vec::with_capacity(spans.len());
    for p in spans {
        let a = p[0].len();
        doc.update(bytes.get(pos..a).unwrap_or_default());
        pos = pos.max(a);
        let mut fork = doc.clone();
        fork.update(p[1]);
        if let Ok(d) = <[u8; 32]>::try_from(fork.finish().as_ref()) {
            known.push((p.to_vec(), d));
        }
    }
    doc.update(bytes.get(pos..).unwrap_or_default());
    (hex::encode(doc.finish().as_ref()), known)
}
