//! Validation data for the long-term levels (ETSI EN 319 142-1 5.4: the DSS of B-LT and B-LTA):
//! the certificates of each chain and, for every certificate but the anchor, a CRL or an OCSP
//! response that shows it good now.
//!
//! Evidence comes from the profile's CRL files and from an OCSP source: the built-in dev
//! responder (`ocsp = "dev"`, asked in process with a nonce) or the network (`ocsp = "fetch"`,
//! the certificates' AIA OCSP and CRL DP URLs through `pki::fetch`). Nothing is embedded before
//! `pki::revocation` has verified it: signed by the CA or its delegated responder, about this
//! certificate, status good, and fresh. Revocation data that fails any check is reported and
//! left out; it never reaches the PDF.

use std::sync::Arc;

use der::Decode;
use openssl::x509::{X509Crl, X509Ref, X509};
use time::OffsetDateTime;

use super::ocsp::DevOcsp;
use super::pdf::{DssData, VriEntry};
use crate::pki::fetch::Fetcher;
use crate::pki::revocation::{self, EvidenceKind, Freshness, RevocationData, RevocationStatus};
use crate::pki::trust::subject_string;

/// OCSP responses older than this (thisUpdate before now - the limit) are not embedded as fresh.
pub const MAX_OCSP_AGE: time::Duration = time::Duration::days(7);

/// Where OCSP responses come from.
pub enum OcspSource {
    /// No OCSP: the profile's CRLs only.
    Off,
    /// The built-in test responder, in process (development and tests).
    Dev(Arc<DevOcsp>),
    /// The certificates' AIA OCSP URLs, then their CRL distribution points (`pki::fetch`).
    Fetch(Arc<Fetcher>),
}

impl std::fmt::Debug for OcspSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OcspSource::Off => "off",
            OcspSource::Dev(_) => "dev",
            OcspSource::Fetch(_) => "fetch",
        })
    }
}

/// Why validation data could not be gathered for a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LtvError {
    /// No CRL or OCSP response shows the certificate good now (RFC 5280 6.3; EN 319 142-1 6.3
    /// requires the revocation data of every certificate of the chain for B-LT).
    #[error("no usable revocation data for {subject}: {detail}")]
    NoRevocationData { subject: String, detail: String },
    /// Verified evidence says the certificate is revoked: no long-term data is made for it.
    #[error("{subject} is revoked ({detail})")]
    Revoked { subject: String, detail: String },
}

/// The DER items of a DSS, each once.
#[derive(Debug, Default, Clone)]
pub struct Material {
    pub certs: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
}

fn index_of(list: &mut Vec<Vec<u8>>, der: Vec<u8>) -> usize {
    match list.iter().position(|d| *d == der) {
        Some(i) => i,
        None => {
            list.push(der);
            list.len() - 1
        }
    }
}

/// Indices into a [`Material`] that validate one signature or timestamp.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refs {
    pub certs: Vec<usize>,
    pub crls: Vec<usize>,
    pub ocsps: Vec<usize>,
}

impl Refs {
    /// Adds `other`'s items (a second chain of the same signature: its timestamp's).
    pub fn extend(&mut self, other: &Refs) {
        for (mine, theirs) in [
            (&mut self.certs, &other.certs),
            (&mut self.crls, &other.crls),
            (&mut self.ocsps, &other.ocsps),
        ] {
            for i in theirs {
                if !mine.contains(i) {
                    mine.push(*i);
                }
            }
        }
    }
}

impl Material {
    /// The DSS with one VRI entry per `(signature /Contents, refs)`.
    pub fn into_dss(self, vri: Vec<(Vec<u8>, Refs)>) -> DssData {
        DssData {
            vri: vri
                .into_iter()
                .map(|(contents, r)| VriEntry {
                    signature_contents: contents,
                    certs: r.certs,
                    crls: r.crls,
                    ocsps: r.ocsps,
                })
                .collect(),
            certs: self.certs,
            crls: self.crls,
            ocsps: self.ocsps,
        }
    }
}

/// Gathers verified validation data for chains, as of `now`.
pub struct Gatherer<'a> {
    crls: Vec<Vec<u8>>,
    ocsp: &'a OcspSource,
    now: OffsetDateTime,
    pub material: Material,
    /// What could not be had, per certificate (kept for the error message of a caller that then
    /// finds the document does not validate).
    pub problems: Vec<LtvError>,
}

impl<'a> Gatherer<'a> {
    /// `crls` are DER (the profile's files); unreadable ones are skipped (they were read once
    /// already when the profile loaded).
    pub fn new(crls: &[Vec<u8>], ocsp: &'a OcspSource, now: OffsetDateTime) -> Self {
        Gatherer {
            crls: crls.to_vec(),
            ocsp,
            now,
            material: Material::default(),
            problems: Vec::new(),
        }
    }

    /// The certificates of `chain` (leaf first, as far up as known) and, for each certificate
    /// with its issuer next in the chain, the verified evidence that it is good now. A
    /// certificate without any is an error in [`Gatherer::problems`]; the chain's other data is
    /// still returned.
    pub async fn chain(&mut self, chain: &[X509]) -> Refs {
        let mut refs = Refs::default();
        for c in chain {
            if let Ok(der) = c.to_der() {
                let i = index_of(&mut self.material.certs, der);
                if !refs.certs.contains(&i) {
                    refs.certs.push(i);
                }
            }
        }
        for w in chain.windows(2) {
            let (Some(cert), Some(issuer)) = (w.first(), w.get(1)) else {
                continue;
            };
            if let Err(e) = self.one(cert, issuer, &mut refs).await {
                if !self.problems.contains(&e) {
                    self.problems.push(e);
                }
            }
        }
        refs
    }

    async fn one(&mut self, cert: &X509, issuer: &X509, refs: &mut Refs) -> Result<(), LtvError> {
        let subject = subject_string(cert);
        // RFC 6960 4.2.2.2.1: a delegated responder with id-pkix-ocsp-nocheck is not checked.
        if revocation::check_chain(
            &[cert.clone(), issuer.clone()],
            &RevocationData::default(),
            self.now,
            self.now,
        )
        .first()
        .is_some_and(|r| r.status == RevocationStatus::Exempt)
        {
            return Ok(());
        }
        let mut notes: Vec<String> = Vec::new();
        let mut found = false;
        // The profile's CRLs that cover the certificate.
        let crls: Vec<X509Crl> = self
            .crls
            .iter()
            .filter_map(|d| X509Crl::from_der(d).ok())
            .collect();
        for crl in crls {
            let data = RevocationData {
                crls: vec![crl],
                ocsp_responses: Vec::new(),
            };
            match self.judge(cert, issuer, &data, EvidenceKind::Crl)? {
                Ok(der) => {
                    let i = index_of(&mut self.material.crls, der);
                    push(&mut refs.crls, i);
                    found = true;
                }
                Err(note) => {
                    if !note.is_empty() {
                        notes.push(note);
                    }
                }
            }
        }
        // OCSP, and for "fetch" the CRL distribution points when OCSP does not settle it.
        let mut fetched = RevocationData::default();
        match self.ocsp {
            OcspSource::Off => {}
            OcspSource::Dev(dev) => match dev_ask(dev, cert, issuer, self.now) {
                Ok(der) => fetched.ocsp_responses.push(der),
                Err(e) => notes.push(format!("the dev OCSP responder: {e}")),
            },
            OcspSource::Fetch(fetcher) => {
                let (data, failures) = fetcher
                    .fetch_for_chain_with_failures(&[cert.clone(), issuer.clone()])
                    .await;
                for f in failures {
                    notes.push(f.error.to_string());
                }
                fetched = data;
            }
        }
        for der in fetched.ocsp_responses {
            let data = RevocationData {
                crls: Vec::new(),
                ocsp_responses: vec![der],
            };
            match self.judge(cert, issuer, &data, EvidenceKind::Ocsp)? {
                Ok(der) => {
                    for c in ocsp_certs(&der) {
                        let i = index_of(&mut self.material.certs, c);
                        push(&mut refs.certs, i);
                    }
                    let i = index_of(&mut self.material.ocsps, der);
                    push(&mut refs.ocsps, i);
                    found = true;
                }
                Err(note) => notes.push(note),
            }
        }
        for crl in fetched.crls {
            let data = RevocationData {
                crls: vec![crl],
                ocsp_responses: Vec::new(),
            };
            match self.judge(cert, issuer, &data, EvidenceKind::Crl)? {
                Ok(der) => {
                    let i = index_of(&mut self.material.crls, der);
                    push(&mut refs.crls, i);
                    found = true;
                }
                Err(note) => notes.push(note),
            }
        }
        if found {
            return Ok(());
        }
        Err(LtvError::NoRevocationData {
            subject,
            detail: if notes.is_empty() {
                "no CRL configured covers it and OCSP is off".into()
            } else {
                notes.join("; ")
            },
        })
    }

    /// Verifies one piece of evidence (`pki::revocation`): `Ok(Ok(der))` when it shows the
    /// certificate good and fresh, `Ok(Err(why))` when it is unusable (empty: it is about another
    /// certificate), `Err` when it shows the certificate revoked.
    fn judge(
        &self,
        cert: &X509Ref,
        issuer: &X509Ref,
        data: &RevocationData,
        kind: EvidenceKind,
    ) -> Result<Result<Vec<u8>, String>, LtvError> {
        match revocation::check_cert(cert, issuer, data, self.now, self.now) {
            RevocationStatus::Good {
                freshness,
                evidence,
                ..
            } => {
                let fresh = match (kind, freshness) {
                    (_, Freshness::Fresh) => true,
                    // A CRL within its validity period is what its CA publishes for now.
                    (EvidenceKind::Crl, Freshness::WithinValidity) => true,
                    (EvidenceKind::Ocsp, Freshness::WithinValidity) => {
                        evidence.this_update >= self.now - MAX_OCSP_AGE
                    }
                };
                Ok(if fresh {
                    Ok(evidence.der)
                } else {
                    Err(format!(
                        "the OCSP response of {} is older than {} days",
                        evidence.this_update,
                        MAX_OCSP_AGE.whole_days()
                    ))
                })
            }
            RevocationStatus::Revoked {
                revoked_at, reason, ..
            } => Err(LtvError::Revoked {
                subject: subject_string(cert),
                detail: format!(
                    "since {}{}",
                    crate::timefmt::vietnam(revoked_at),
                    reason.map(|r| format!(", {r:?}")).unwrap_or_default()
                ),
            }),
            RevocationStatus::Unknown { reason, .. } => {
                Ok(Err(if reason == revocation::RevocationError::NoEvidence {
                    String::new()
                } else {
                    reason.to_string()
                }))
            }
            RevocationStatus::Exempt => Ok(Err(String::new())),
        }
    }
}

fn push(list: &mut Vec<usize>, i: usize) {
    if !list.contains(&i) {
        list.push(i);
    }
}

/// Asks the in-process responder with a fresh nonce; the answer must echo it (RFC 6960 4.4.1).
fn dev_ask(
    dev: &DevOcsp,
    cert: &X509Ref,
    issuer: &X509Ref,
    now: OffsetDateTime,
) -> Result<Vec<u8>, String> {
    let mut nonce = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| "the system random generator failed".to_owned())?;
    let req = super::ocsp::request_der(cert, issuer, Some(&nonce)).map_err(|e| e.to_string())?;
    let resp = dev.respond(&req, now);
    match super::ocsp::response_nonce(&resp) {
        Some(n) if n == nonce => Ok(resp),
        Some(_) => Err("the response carries another nonce".into()),
        None => Err("the response carries no nonce (or is not a successful response)".into()),
    }
}

/// The certificates a BasicOCSPResponse carries (the delegated responder's), DER.
fn ocsp_certs(response_der: &[u8]) -> Vec<Vec<u8>> {
    use der::Encode;
    let Ok(resp) = x509_ocsp::OcspResponse::from_der(response_der) else {
        return Vec::new();
    };
    let Some(bytes) = resp.response_bytes else {
        return Vec::new();
    };
    let Ok(basic) = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()) else {
        return Vec::new();
    };
    basic
        .certs
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.to_der().ok())
        .collect()
}

/// Orders `leaf` and its issuers from `candidates` (subject/issuer names and signatures), up to
/// a self-signed certificate or the last issuer found. Path *validation* is the verifier's; this
/// only decides which certificates a DSS should carry.
pub fn order_chain(leaf: &X509, candidates: &[X509]) -> Vec<X509> {
    let mut chain = vec![leaf.clone()];
    while chain.len() < 16 {
        let Some(last) = chain.last() else { break };
        if last.issued(last).as_raw() == 0 && self_signed(last) {
            break;
        }
        let next = candidates.iter().find(|c| {
            last.issuer_name().try_cmp(c.subject_name()).ok() == Some(std::cmp::Ordering::Equal)
                && c.public_key()
                    .ok()
                    .is_some_and(|k| last.verify(&k).unwrap_or(false))
                && !chain.iter().any(|x| x.to_der().ok() == c.to_der().ok())
        });
        match next {
            Some(c) => chain.push(c.clone()),
            None => break,
        }
    }
    chain
}

fn self_signed(c: &X509Ref) -> bool {
    c.public_key()
        .ok()
        .is_some_and(|k| c.verify(&k).unwrap_or(false))
}

/// The TSA chain of a timestamp token: its signer, ordered with the token's own certificates and
/// `extra` (configured TSA chain, trust store).
pub fn token_chain(token: &[u8], extra: &[X509]) -> Vec<X509> {
    let policy = crate::pki::algorithms::AlgorithmPolicy::default();
    let Ok(v) = crate::pki::tsp::verify_timestamp_token(token, &[], &policy) else {
        return Vec::new();
    };
    let Some(tsa) = v.tsa_cert.clone() else {
        return Vec::new();
    };
    let mut candidates = v.certificates.clone();
    candidates.extend(extra.iter().cloned());
    order_chain(&tsa, &candidates)
}

/// The DSS of a new B-LT signature: the signer's chain (`chain`, leaf first), the TSA chain of its
/// signature timestamp (`token`, ordered with `tsa_extra`), the verified revocation data of both,
/// and one VRI entry for the signature (`contents`, its CMS).
pub async fn signature_dss(
    (crls, ocsp): (&[Vec<u8>], &OcspSource),
    chain: &[X509],
    token: Option<&[u8]>,
    tsa_extra: &[X509],
    contents: &[u8],
    now: OffsetDateTime,
) -> Result<DssData, LtvError> {
    let mut g = Gatherer::new(crls, ocsp, now);
    let mut refs = g.chain(chain).await;
    if let Some(t) = token {
        let tsa_chain = token_chain(t, tsa_extra);
        let r = g.chain(&tsa_chain).await;
        refs.extend(&r);
    }
    if let Some(e) = g.problems.first() {
        return Err(e.clone());
    }
    Ok(g.material.into_dss(vec![(contents.to_vec(), refs)]))
}

/// The DSS update that follows a document timestamp (`token`): its TSA chain and that chain's
/// verified revocation data, with a VRI entry for the timestamp, so that the archive validates
/// from its own data until the next renewal (what pyHanko writes after a B-LTA timestamp too).
pub async fn timestamp_dss(
    (crls, ocsp): (&[Vec<u8>], &OcspSource),
    token: &[u8],
    tsa_extra: &[X509],
    now: OffsetDateTime,
) -> Result<DssData, LtvError> {
    let mut g = Gatherer::new(crls, ocsp, now);
    let refs = g.chain(&token_chain(token, tsa_extra)).await;
    if let Some(e) = g.problems.first() {
        return Err(e.clone());
    }
    Ok(g.material.into_dss(vec![(token.to_vec(), refs)]))
}
