//! A built-in OCSP responder (RFC 6960) for development and tests: [`DevOcsp`] answers requests
//! about certificates issued by the configured CAs from their `openssl ca` databases (index.txt),
//! signed by each CA's delegated responder (id-kp-OCSPSigning, RFC 6960 4.2.2.2) or by the CA
//! itself; [`router`] is its HTTP face (RFC 6960 A.1: POST, and GET with the request in base64).
//!
//! The core is pure: request bytes and `now` in, response bytes out; it never fails (anything it
//! cannot read is answered `malformedRequest`, RFC 6960 2.3). A certificate whose issuer is not
//! configured, or whose serial number the CA's index does not list, is `unknown` (RFC 6960 2.2).
//! [`DevOcsp`] is test infrastructure signing with the test PKI's keys: never use it in production.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use openssl::x509::X509;
use time::OffsetDateTime;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use crate::pki::algorithms::DigestAlgorithm;
use crate::sign::keys::{DigestAlg, FileKey, SignatureScheme, SigningKey};

/// RFC 6960 A.1 media types.
pub const REQUEST_MEDIA_TYPE: &str = "application/ocsp-request";
pub const RESPONSE_MEDIA_TYPE: &str = "application/ocsp-response";
/// At most this many bytes of OCSPRequest are read (POST body, or decoded GET path).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;
/// At most this many certificates are asked about in one request.
pub const MAX_REQUESTS: usize = 32;
/// The longest nonce echoed (RFC 8954 2.1 asks for 1..32 octets; some clients send more).
pub const MAX_NONCE_LEN: usize = 128;

/// id-pkix-ocsp-nonce (RFC 6960 4.4.1).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// Why a responder could not be set up (configuration, never requests).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevOcspError {
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    /// The signer's key does not belong to its certificate.
    #[error("the OCSP signer key does not match {0}")]
    KeyMismatch(String),
    /// A delegated responder must be issued by the CA and carry id-kp-OCSPSigning (RFC 6960
    /// 4.2.2.2); otherwise clients reject its answers.
    #[error("{responder} is not a delegated OCSP responder of {ca} (RFC 6960 4.2.2.2)")]
    NotAuthorised { responder: String, ca: String },
    /// A line of the CA's index that does not parse.
    #[error("{path} line {line}: {detail}")]
    Index {
        path: String,
        line: usize,
        detail: String,
    },
    #[error("no CA configured for the OCSP responder")]
    NoCa,
}

/// What the CA's database says about one serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexStatus {
    /// Issued and not revoked (V, or E: expired but never revoked).
    Valid,
    /// Revoked at this time, with this reason (RFC 5280 5.3.1).
    Revoked {
        at: OffsetDateTime,
        reason: Option<CrlReason>,
    },
}

/// Parses an `openssl ca` index.txt: serial number (minimal big-endian bytes) -> status.
pub fn parse_index(text: &str) -> Result<HashMap<Vec<u8>, IndexStatus>, (usize, String)> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(flag), Some(revocation), Some(serial)) = (cols.first(), cols.get(2), cols.get(3))
        else {
            return Err((n + 1, "fewer than four tab-separated columns".into()));
        };
        let serial =
            minimal(&hex::decode(serial).map_err(|_| (n + 1, "serial is not hex".into()))?);
        let status = match *flag {
            "V" | "E" => IndexStatus::Valid,
            "R" => {
                let (date, reason) = match revocation.split_once(',') {
                    Some((d, r)) => (d, Some(r)),
                    None => (*revocation, None),
                };
                let at = utc_time(date).ok_or((n + 1, format!("revocation date {date:?}")))?;
                let reason = match reason {
                    None => None,
                    Some(r) => Some(reason_from_name(r).ok_or((n + 1, format!("reason {r:?}")))?),
                };
                IndexStatus::Revoked { at, reason }
            }
            other => return Err((n + 1, format!("status {other:?} (V, R or E)"))),
        };
        out.insert(serial, status);
    }
    Ok(out)
}

/// YYMMDDHHMMSSZ (UTCTime as `openssl ca` writes it, RFC 5280 4.1.2.5.1) or YYYYMMDDHHMMSSZ.
fn utc_time(s: &str) -> Option<OffsetDateTime> {
    let digits = s.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match digits.len() {
        12 => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                digits.get(2..)?,
            )
        }
        14 => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let part = |i: usize| -> Option<u8> { rest.get(i..i + 2)?.parse().ok() };
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(part(0)?).ok()?, part(2)?)
            .ok()?;
    let t = time::Time::from_hms(part(4)?, part(6)?, part(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

fn reason_from_name(s: &str) -> Option<CrlReason> {
    Some(match s {
        "unspecified" => CrlReason::Unspecified,
        "keyCompromise" => CrlReason::KeyCompromise,
        "CACompromise" => CrlReason::CaCompromise,
        "affiliationChanged" => CrlReason::AffiliationChanged,
        "superseded" => CrlReason::Superseded,
        "cessationOfOperation" => CrlReason::CessationOfOperation,
        "certificateHold" => CrlReason::CertificateHold,
        "removeFromCRL" => CrlReason::RemoveFromCRL,
        "privilegeWithdrawn" => CrlReason::PrivilegeWithdrawn,
        "AACompromise" => CrlReason::AaCompromise,
        _ => return None,
    })
}

/// Big-endian bytes without leading zero octets (serial numbers compare by value).
fn minimal(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default().to_vec()
}

/// One CA the responder speaks for.
struct CaEntry {
    /// (hash algorithm, issuerNameHash, issuerKeyHash) for every hash a CertID may use.
    ids: Vec<(ObjectIdentifier, Vec<u8>, Vec<u8>)>,
    index: HashMap<Vec<u8>, IndexStatus>,
    signer: Arc<Signer>,
}

/// Who signs the answers for a CA.
struct Signer {
    key: FileKey,
    responder_id: ResponderId,
    algorithm: spki::AlgorithmIdentifierOwned,
    /// The delegated responder's certificate, sent with every response (RFC 6960 4.2.2.2).
    certs: Vec<Certificate>,
}

/// A test OCSP responder. See the module documentation.
pub struct DevOcsp {
    cas: Vec<CaEntry>,
    /// nextUpdate - thisUpdate of every answer.
    validity: Duration,
}

impl fmt::Debug for DevOcsp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevOcsp")
            .field("cas", &self.cas.len())
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// One CA, as loaded from files.
pub struct CaSource {
    pub ca: X509,
    /// The `openssl ca` index.txt text.
    pub index: String,
    /// The responder's certificate: a delegated responder issued by `ca`, or `ca` itself.
    pub responder: X509,
    pub responder_key: FileKey,
}

fn x509_cert(c: &X509) -> Result<Certificate, DevOcspError> {
    let der = c.to_der().map_err(|e| DevOcspError::File {
        path: "(certificate)".into(),
        detail: e.to_string(),
    })?;
    Certificate::from_der(&der).map_err(|e| DevOcspError::File {
        path: "(certificate)".into(),
        detail: e.to_string(),
    })
}

fn signature_algorithm(scheme: SignatureScheme) -> spki::AlgorithmIdentifierOwned {
    let (oid, null) = match (scheme.is_ecdsa(), scheme.digest()) {
        (false, DigestAlg::Sha256) => (SHA256_WITH_RSA, true),
        (false, DigestAlg::Sha384) => (SHA384_WITH_RSA, true),
        (false, DigestAlg::Sha512) => (SHA512_WITH_RSA, true),
        (true, DigestAlg::Sha256) => (ECDSA_WITH_SHA256, false),
        (true, DigestAlg::Sha384) => (ECDSA_WITH_SHA384, false),
        (true, DigestAlg::Sha512) => (ECDSA_WITH_SHA512, false),
    };
    spki::AlgorithmIdentifierOwned {
        oid,
        parameters: null.then(Any::null),
    }
}

impl DevOcsp {
    /// A responder for `cas`, each answer valid for `validity`.
    pub fn new(cas: Vec<CaSource>, validity: Duration) -> Result<Self, DevOcspError> {
        if cas.is_empty() {
            return Err(DevOcspError::NoCa);
        }
        let mut out = Vec::new();
        for src in cas {
            let subject = crate::pki::trust::subject_string(&src.responder);
            let ca_name = crate::pki::trust::subject_string(&src.ca);
            if !src.responder_key.matches_certificate(&src.responder) {
                return Err(DevOcspError::KeyMismatch(subject));
            }
            let ca = x509_cert(&src.ca)?;
            let responder = x509_cert(&src.responder)?;
            let is_ca = responder == ca;
            if !is_ca {
                let ca_key = src.ca.public_key().map_err(|e| DevOcspError::File {
                    path: ca_name.clone(),
                    detail: e.to_string(),
                })?;
                let delegated = src.responder.verify(&ca_key).unwrap_or(false)
                    && src.responder.extended_key_usage().is_some_and(|e| {
                        e.contains(openssl::x509::X509ExtendedKeyUsage::OCSP_SIGN)
                    });
                if !delegated {
                    return Err(DevOcspError::NotAuthorised {
                        responder: subject,
                        ca: ca_name,
                    });
                }
            }
            let name_der = ca
                .tbs_certificate
                .subject
                .to_der()
                .map_err(|e| DevOcspError::File {
                    path: ca_name.clone(),
                    detail: e.to_string(),
                })?;
            let key_bits = ca
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes()
                .to_vec();
            let mut ids = Vec::new();
            for alg in [
                DigestAlgorithm::Sha1,
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha384,
                DigestAlgorithm::Sha512,
            ] {
                let md = hash_fn(alg);
                ids.push((alg.oid(), md(&name_der), md(&key_bits)));
            }
            let responder_key_bits = responder
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes()
                .to_vec();
            let key_hash = openssl::sha::sha1(&responder_key_bits);
            let scheme = src.responder_key.scheme();
            let signer = Signer {
                responder_id: ResponderId::ByKey(OctetString::new(key_hash.to_vec()).map_err(
                    |e| DevOcspError::File {
                        path: subject.clone(),
                        detail: e.to_string(),
                    },
                )?),
                algorithm: signature_algorithm(scheme),
                key: src.responder_key,
                certs: if is_ca { Vec::new() } else { vec![responder] },
            };
            out.push(CaEntry {
                ids,
                index: parse_index(&src.index).map_err(|(line, detail)| DevOcspError::Index {
                    path: ca_name,
                    line,
                    detail,
                })?,
                signer: Arc::new(signer),
            });
        }
        Ok(DevOcsp { cas: out, validity })
    }

    /// Loads the CAs named in the configuration.
    pub fn from_config(cfg: &crate::config::SignConfig) -> Result<Self, DevOcspError> {
        let file = |p: &Path| {
            std::fs::read(p).map_err(|e| DevOcspError::File {
                path: p.display().to_string(),
                detail: e.to_string(),
            })
        };
        let cert = |p: &Path| -> Result<X509, DevOcspError> {
            let bytes = file(p)?;
            X509::from_pem(&bytes)
                .or_else(|_| X509::from_der(&bytes))
                .map_err(|e| DevOcspError::File {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })
        };
        let mut cas = Vec::new();
        for c in &cfg.dev_ocsp_cas {
            let index = String::from_utf8_lossy(&file(&c.index)?).into_owned();
            let key_pem = file(&c.responder_key)?;
            let key = FileKey::from_pem(&key_pem, None, None).map_err(|e| DevOcspError::File {
                path: c.responder_key.display().to_string(),
                detail: e.to_string(),
            })?;
            // RSA keys sign PKCS#1 v1.5 here: every OCSP client verifies sha256WithRSAEncryption.
            let key = if key.scheme().is_rsa() {
                FileKey::from_pem(&key_pem, None, Some(SignatureScheme::RsaPkcs1Sha256)).map_err(
                    |e| DevOcspError::File {
                        path: c.responder_key.display().to_string(),
                        detail: e.to_string(),
                    },
                )?
            } else {
                key
            };
            cas.push(CaSource {
                ca: cert(&c.ca)?,
                index,
                responder: cert(&c.responder_cert)?,
                responder_key: key,
            });
        }
        Self::new(cas, Duration::from_secs(cfg.dev_ocsp_validity_secs.max(1)))
    }

    /// Answers a DER OCSPRequest with a DER OCSPResponse. Never fails: unreadable requests get
    /// `malformedRequest`, signing failures `internalError` (RFC 6960 2.3).
    pub fn respond(&self, request_der: &[u8], now: OffsetDateTime) -> Vec<u8> {
        let encoded = match self.answer(request_der, now) {
            Ok(r) => r.to_der(),
            Err(r) => r.to_der(),
        };
        // Encoding a status-only response cannot fail; the fallback is its fixed DER.
        encoded.unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, 0x02])
    }

    fn answer(
        &self,
        request_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<OcspResponse, OcspResponse> {
        let req = parse_request(request_der).map_err(|_| OcspResponse::malformed_request())?;
        fn internal<E>(_: E) -> OcspResponse {
            OcspResponse::internal_error()
        }
        let secs = u64::try_from(now.unix_timestamp()).map_err(internal)?;
        let gt = |s: u64| {
            GeneralizedTime::from_unix_duration(Duration::from_secs(s))
                .map(OcspGeneralizedTime)
                .map_err(|_| OcspResponse::internal_error())
        };
        let this_update = gt(secs)?;
        let next_update = gt(secs.saturating_add(self.validity.as_secs()))?;
        // One signer per response: the first known CA's. Certificates of CAs it does not speak
        // for are `unknown` in the same response.
        let found: Vec<Option<&CaEntry>> = req.cert_ids.iter().map(|id| self.ca_for(id)).collect();
        let signer = found
            .iter()
            .flatten()
            .next()
            .map(|ca| ca.signer.clone())
            .or_else(|| self.cas.first().map(|c| c.signer.clone()))
            .ok_or_else(OcspResponse::internal_error)?;
        let mut responses = Vec::with_capacity(req.cert_ids.len());
        for (id, ca) in req.cert_ids.iter().zip(&found) {
            let status = match ca.filter(|c| Arc::ptr_eq(&c.signer, &signer)) {
                None => CertStatus::Unknown(Null),
                Some(ca) => match ca.index.get(&minimal(id.serial_number.as_bytes())) {
                    None => CertStatus::Unknown(Null),
                    Some(IndexStatus::Valid) => CertStatus::Good(Null),
                    Some(IndexStatus::Revoked { at, reason }) => {
                        let t = u64::try_from(at.unix_timestamp()).map_err(internal)?;
                        CertStatus::Revoked(RevokedInfo {
                            revocation_time: gt(t)?,
                            revocation_reason: *reason,
                        })
                    }
                },
            };
            responses.push(SingleResponse {
                cert_id: id.clone(),
                cert_status: status,
                this_update,
                next_update: Some(next_update),
                single_extensions: None,
            });
        }
        let response_extensions = match &req.nonce {
            None => None,
            Some(value) => Some(vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(value.clone()).map_err(internal)?,
            }]),
        };
        let tbs = ResponseData {
            version: Version::V1,
            responder_id: signer.responder_id.clone(),
            produced_at: this_update,
            responses,
            response_extensions,
        };
        let tbs_der = tbs.to_der().map_err(internal)?;
        let sig = signer.key.sign(&tbs_der).map_err(internal)?;
        let basic = BasicOcspResponse {
            tbs_response_data: tbs,
            signature_algorithm: signer.algorithm.clone(),
            signature: BitString::from_bytes(&sig).map_err(internal)?,
            certs: (!signer.certs.is_empty()).then(|| signer.certs.clone()),
        };
        OcspResponse::successful(basic).map_err(internal)
    }

    fn ca_for(&self, id: &CertId) -> Option<&CaEntry> {
        self.cas.iter().find(|ca| {
            ca.ids.iter().any(|(alg, name, key)| {
                *alg == id.hash_algorithm.oid
                    && name.as_slice() == id.issuer_name_hash.as_bytes()
                    && key.as_slice() == id.issuer_key_hash.as_bytes()
            })
        })
    }
}

fn hash_fn(alg: DigestAlgorithm) -> fn(&[u8]) -> Vec<u8> {
    match alg {
        DigestAlgorithm::Sha1 => |d| openssl::sha::sha1(d).to_vec(),
        DigestAlgorithm::Sha384 => |d| openssl::sha::sha384(d).to_vec(),
        DigestAlgorithm::Sha512 => |d| openssl::sha::sha512(d).to_vec(),
        _ => |d| openssl::sha::sha256(d).to_vec(),
    }
}

/// An OCSPRequest as the responder uses it (RFC 6960 4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    pub cert_ids: Vec<CertId>,
    /// The nonce extension's value (the DER OCTET STRING inside extnValue), echoed verbatim.
    pub nonce: Option<Vec<u8>>,
}

/// Why a request is refused as `malformedRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("the request is larger than {MAX_REQUEST_LEN} bytes")]
    TooLarge,
    #[error("not a DER OCSPRequest: {0}")]
    Der(String),
    #[error("the request asks about no certificate")]
    Empty,
    #[error("the request asks about more than {MAX_REQUESTS} certificates")]
    TooMany,
    #[error("the nonce is empty or longer than {MAX_NONCE_LEN} bytes")]
    BadNonce,
    /// A critical extension the responder does not know (RFC 5280 4.2 applies to requests too).
    #[error("unsupported critical extension {0}")]
    CriticalExtension(String),
}

/// Parses and bounds an OCSPRequest: the untrusted-input parser of the responder (fuzzed).
pub fn parse_request(der: &[u8]) -> Result<ParsedRequest, RequestError> {
    if der.len() > MAX_REQUEST_LEN {
        return Err(RequestError::TooLarge);
    }
    let req = OcspRequest::from_der(der).map_err(|e| RequestError::Der(e.to_string()))?;
    let list = &req.tbs_request.request_list;
    if list.is_empty() {
        return Err(RequestError::Empty);
    }
    if list.len() > MAX_REQUESTS {
        return Err(RequestError::TooMany);
    }
    let mut nonce = None;
    for ext in req.tbs_request.request_extensions.iter().flatten() {
        if ext.extn_id == ID_PKIX_OCSP_NONCE {
            let v = ext.extn_value.as_bytes();
            // RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)), carried DER-encoded in extnValue.
            let inner = OctetString::from_der(v).map_err(|_| RequestError::BadNonce)?;
            if inner.as_bytes().is_empty() || inner.as_bytes().len() > MAX_NONCE_LEN {
                return Err(RequestError::BadNonce);
            }
            nonce = Some(v.to_vec());
        } else if ext.critical {
            return Err(RequestError::CriticalExtension(ext.extn_id.to_string()));
        }
    }
    for r in list {
        if let Some(ext) = r
            .single_request_extensions
            .iter()
            .flatten()
            .find(|e| e.critical)
        {
            return Err(RequestError::CriticalExtension(ext.extn_id.to_string()));
        }
    }
    Ok(ParsedRequest {
        cert_ids: list.iter().map(|r| r.req_cert.clone()).collect(),
        nonce,
    })
}

/// Decodes the request of a GET (RFC 6960 A.1: `url-encoding of base-64 encoding of the DER`).
pub fn decode_get_path(path: &str) -> Option<Vec<u8>> {
    if path.len() > MAX_REQUEST_LEN * 2 {
        return None;
    }
    let mut text = Vec::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            text.push(v);
            i += 3;
        } else {
            text.push(b);
            i += 1;
        }
    }
    use base64::Engine as _;
    let trimmed: Vec<u8> = text
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&trimmed))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&trimmed))
        .ok()
}

/// A DER OCSPRequest (RFC 6960 4.1.1) about `cert` issued by `issuer`: a SHA-1 CertID (what
/// every responder supports; an identifier here, not a signature) and an optional nonce.
pub fn request_der(
    cert: &openssl::x509::X509Ref,
    issuer: &openssl::x509::X509Ref,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, der::Error> {
    let issuer_cert = Certificate::from_der(&issuer.to_der().map_err(|_| der::ErrorKind::Failed)?)?;
    let cert_parsed = Certificate::from_der(&cert.to_der().map_err(|_| der::ErrorKind::Failed)?)?;
    let name_der = issuer_cert.tbs_certificate.subject.to_der()?;
    let key_bits = issuer_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let cert_id = CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: DigestAlgorithm::Sha1.oid(),
            parameters: Some(Any::null()),
        },
        issuer_name_hash: OctetString::new(openssl::sha::sha1(&name_der).to_vec())?,
        issuer_key_hash: OctetString::new(openssl::sha::sha1(key_bits).to_vec())?,
        serial_number: cert_parsed.tbs_certificate.serial_number.clone(),
    };
    let request_extensions = match nonce {
        None => None,
        Some(n) => Some(vec![Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        }]),
    };
    OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
}

/// The nonce a successful OCSPResponse echoes (RFC 6960 4.4.1), if any.
pub fn response_nonce(response_der: &[u8]) -> Option<Vec<u8>> {
    let resp = OcspResponse::from_der(response_der).ok()?;
    let basic = BasicOcspResponse::from_der(resp.response_bytes?.response.as_bytes()).ok()?;
    let ext = basic
        .tbs_response_data
        .response_extensions?
        .into_iter()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)?;
    OctetString::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|o| o.as_bytes().to_vec())
}

/// The HTTP face of a [`DevOcsp`] (RFC 6960 A.1): `POST /` with the DER request (at most
/// [`MAX_REQUEST_LEN`] bytes) and `GET /{base64}`, both answered with `application/ocsp-response`.
pub fn router(ocsp: Arc<DevOcsp>) -> axum::Router {
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};

    fn reply(body: Vec<u8>) -> Response {
        ([(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], body).into_response()
    }

    async fn post(
        State(ocsp): State<Arc<DevOcsp>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> Response {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match content_type.as_deref() {
            None | Some(REQUEST_MEDIA_TYPE) => {}
            Some(_) => return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response(),
        }
        reply(ocsp.respond(&body, OffsetDateTime::now_utc()))
    }

    async fn get(State(ocsp): State<Arc<DevOcsp>>, uri: Uri) -> Response {
        let path = uri.path().trim_start_matches('/');
        match decode_get_path(path) {
            Some(der) => reply(ocsp.respond(&der, OffsetDateTime::now_utc())),
            None => reply(
                OcspResponse::malformed_request()
                    .to_der()
                    .unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, 0x01]),
            ),
        }
    }

    axum::Router::new()
        .route("/", axum::routing::post(post))
        .route("/{*request}", axum::routing::get(get))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_LEN))
        .with_state(ocsp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lines() {
        let text = "V\t360101000000Z\t\t2000\tunknown\t/CN=a\n\
                    R\t360101000000Z\t260301000000Z,keyCompromise\t2005\tunknown\t/CN=b\n";
        let idx = parse_index(text).unwrap();
        assert_eq!(idx.get(&vec![0x20, 0x00]), Some(&IndexStatus::Valid));
        assert_eq!(
            idx.get(&vec![0x20, 0x05]),
            Some(&IndexStatus::Revoked {
                at: time::macros::datetime!(2026-03-01 00:00 UTC),
                reason: Some(CrlReason::KeyCompromise)
            })
        );
        assert!(parse_index("X\t1\t\t20\n").is_err());
        assert!(parse_index("R\t1\tyesterday\t20\n").is_err());
        assert!(parse_index("V\t1\n").is_err());
    }

    #[test]
    fn get_paths() {
        assert_eq!(
            decode_get_path("MAM%3D").as_deref(),
            Some(&[0x30, 0x03][..])
        );
        assert_eq!(decode_get_path("MAM="), Some(vec![0x30, 0x03]));
        assert_eq!(decode_get_path("%zz"), None);
        assert_eq!(decode_get_path("%4"), None);
    }

    fn pki(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("certs/test-pki")
            .join(name)
    }

    fn cert(name: &str) -> X509 {
        X509::from_pem(&std::fs::read(pki(name)).unwrap()).unwrap()
    }

    fn responder() -> DevOcsp {
        let key = FileKey::from_pem(
            &std::fs::read(pki("ocsp-responder.key")).unwrap(),
            None,
            Some(SignatureScheme::RsaPkcs1Sha256),
        )
        .unwrap();
        DevOcsp::new(
            vec![CaSource {
                ca: cert("licensed-ca.pem"),
                index: std::fs::read_to_string(pki("ca/licensed-ca/index.txt")).unwrap(),
                responder: cert("ocsp-responder.pem"),
                responder_key: key,
            }],
            Duration::from_secs(3600),
        )
        .unwrap()
    }

    fn status(resp: &[u8], leaf: &str, issuer: &str, now: OffsetDateTime) -> RevocationStatus {
        crate::pki::revocation::check_cert(
            &cert(leaf),
            &cert(issuer),
            &crate::pki::revocation::RevocationData {
                crls: Vec::new(),
                ocsp_responses: vec![resp.to_vec()],
            },
            now,
            now,
        )
    }

    use crate::pki::revocation::RevocationStatus;

    #[test]
    fn answers_good_revoked_and_unknown_verifiably() {
        let ocsp = responder();
        let now = time::macros::datetime!(2026-11-22 12:00 UTC);
        let (leaf, ca) = (cert("citizen-an.pem"), cert("licensed-ca.pem"));
        let req = request_der(&leaf, &ca, Some(b"0123456789abcdef")).unwrap();
        let resp = ocsp.respond(&req, now);
        assert_eq!(
            response_nonce(&resp).as_deref(),
            Some(&b"0123456789abcdef"[..])
        );
        match status(&resp, "citizen-an.pem", "licensed-ca.pem", now) {
            RevocationStatus::Good { evidence, .. } => {
                assert_eq!(evidence.this_update, now);
                assert_eq!(evidence.next_update, Some(now + time::Duration::hours(1)));
            }
            other => panic!("{other:?}"),
        }
        // Revoked per the index, with its date and reason.
        let req = request_der(&cert("revoked-dung.pem"), &ca, None).unwrap();
        let resp = ocsp.respond(&req, now);
        assert_eq!(response_nonce(&resp), None);
        match status(&resp, "revoked-dung.pem", "licensed-ca.pem", now) {
            RevocationStatus::Revoked { revoked_at, .. } => {
                assert_eq!(revoked_at, time::macros::datetime!(2026-03-01 00:00 UTC))
            }
            other => panic!("{other:?}"),
        }
        // Another CA's certificate: unknown.
        let req = request_der(&cert("gov-agency.pem"), &cert("gov-ca.pem"), None).unwrap();
        let resp = ocsp.respond(&req, now);
        assert!(matches!(
            status(&resp, "gov-agency.pem", "gov-ca.pem", now),
            RevocationStatus::Unknown { .. }
        ));
        // Not a request: malformedRequest (RFC 6960 2.3), status 1.
        for junk in [&b""[..], b"garbage", b"\x30\x03\x30\x01\x00"] {
            let resp = ocsp.respond(junk, now);
            assert_eq!(
                OcspResponse::from_der(&resp).unwrap().response_status,
                x509_ocsp::OcspResponseStatus::MalformedRequest,
                "{junk:?}"
            );
        }
    }

    #[test]
    fn refuses_a_responder_the_ca_did_not_delegate() {
        // gov-ocsp-responder was issued by gov-ca, not licensed-ca.
        let key = FileKey::from_pem(
            &std::fs::read(pki("gov-ocsp-responder.key")).unwrap(),
            None,
            None,
        )
        .unwrap();
        let err = DevOcsp::new(
            vec![CaSource {
                ca: cert("licensed-ca.pem"),
                index: String::new(),
                responder: cert("gov-ocsp-responder.pem"),
                responder_key: key,
            }],
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(matches!(err, DevOcspError::NotAuthorised { .. }), "{err}");
    }

    #[test]
    fn requests_are_bounded() {
        assert_eq!(
            parse_request(&vec![0u8; MAX_REQUEST_LEN + 1]),
            Err(RequestError::TooLarge)
        );
        assert!(matches!(
            parse_request(b"\x30\x00"),
            Err(RequestError::Der(_))
        ));
    }
}
