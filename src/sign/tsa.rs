//! RFC 3161 timestamps, both sides: [`TsaClient`] asks a Time-Stamp Authority over HTTP
//! (RFC 3161 3.4) and returns a token only after verifying it answers *this* request; [`DevTsa`]
//! is a built-in TSA for development and tests, with an axum [`router`].
//!
//! The client checks the token's CMS signature, the TSA certificate's EKU, the imprint and the
//! nonce. It does not validate the TSA certificate's path or revocation: that is the verifier's
//! job at validation time (`pki::path`), with the validation data a B-LT signature carries.
//! [`DevTsa`] is test infrastructure: never point production signing at it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, Uint};
use der::{Any, Decode, Encode, Sequence};
use openssl::x509::X509;
use ring::rand::SecureRandom;
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TspVersion, TstInfo};

use crate::pki::algorithms::{AlgorithmPolicy, DigestAlgorithm};
use crate::pki::cms::{self as pki_cms, der_walk, oids};
use crate::pki::tsp::{self, TsaEkuCheck};
use crate::sign::cms::{build, Build};
pub use crate::sign::keys::DigestAlg;
use crate::sign::keys::{FileKey, KeyError, SigningKey};

/// RFC 3161 3.4 media types.
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";
/// At most this many bytes of TimeStampResp are read.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;
/// At most this many bytes of TimeStampReq are accepted by [`router`].
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// Why no verified token could be had. Never accompanied by a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// No complete answer within the timeout.
    #[error("the TSA did not answer within {after:?}")]
    Timeout { after: Duration },
    /// The connection failed (refused, reset, DNS, TLS).
    #[error("cannot reach the TSA: {0}")]
    Transport(String),
    /// The TSA answered with an HTTP status other than 200 (RFC 3161 3.4).
    #[error("the TSA answered HTTP {0}")]
    Http(u16),
    /// PKIStatus is neither granted (0) nor grantedWithMods (1) (RFC 3161 2.4.2).
    #[error("the TSA refused (status {status}{}): {text}", fail_info.map(|f| format!(", failInfo {f:#x}")).unwrap_or_default())]
    Rejected {
        status: u32,
        text: String,
        /// PKIFailureInfo bits, bit 0 (badAlg) as the least significant.
        fail_info: Option<u32>,
    },
    /// The answer is not a TimeStampResp carrying a readable token (RFC 3161 2.4.2).
    #[error("the TSA's answer is unusable: {0}")]
    Garbage(String),
    /// The token is for another request: imprint, hash algorithm or nonce differ (RFC 3161 2.4.2).
    #[error("the token does not answer the request: {0}")]
    Mismatch(String),
    /// The token's signature, algorithms or TSA certificate fail (RFC 3161 2.3, 2.4.2).
    #[error("the token does not verify: {0}")]
    InvalidToken(String),
    /// The imprint given has the wrong length for its digest algorithm (caller error).
    #[error("imprint has {got} bytes, {algorithm} needs {expected}")]
    BadImprint {
        algorithm: DigestAlg,
        expected: usize,
        got: usize,
    },
    /// No random numbers for the nonce.
    #[error("no random number generator available")]
    Random,
}

/// The content octets of a positive, minimally encoded INTEGER (X.690 8.3.2).
fn positive_int_content(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    let mut out = Vec::with_capacity(be.len() + 1);
    match be.get(start..) {
        None | Some([]) => out.push(0),
        Some(rest) => {
            if rest.first().is_some_and(|b| b & 0x80 != 0) {
                out.push(0);
            }
            out.extend_from_slice(rest);
        }
    }
    out
}

fn random_int_content(len: usize) -> Result<Vec<u8>, TsaError> {
    let mut bytes = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TsaError::Random)?;
    Ok(positive_int_content(&bytes))
}

fn imprint_algorithm(digest: DigestAlg) -> spki::AlgorithmIdentifier<Any> {
    // NULL parameters, as `openssl ts -query` and most TSAs send them.
    spki::AlgorithmIdentifier {
        oid: digest.oid(),
        parameters: Some(Any::null()),
    }
}

fn check_imprint_len(digest: DigestAlg, imprint: &[u8]) -> Result<(), TsaError> {
    if imprint.len() != digest.output_len() {
        return Err(TsaError::BadImprint {
            algorithm: digest,
            expected: digest.output_len(),
            got: imprint.len(),
        });
    }
    Ok(())
}

/// A DER TimeStampReq v1 (RFC 3161 2.4.1) with certReq TRUE. `nonce` is INTEGER content octets.
pub fn request_der(
    digest: DigestAlg,
    imprint: &[u8],
    nonce: &[u8],
    req_policy: Option<ObjectIdentifier>,
) -> Result<Vec<u8>, TsaError> {
    check_imprint_len(digest, imprint)?;
    let garbage = |e: der::Error| TsaError::Garbage(format!("cannot encode the request: {e}"));
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: imprint_algorithm(digest),
            hashed_message: der::asn1::OctetString::new(imprint).map_err(garbage)?,
        },
        req_policy,
        nonce: Some(Int::new(nonce).map_err(garbage)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(garbage)
}

/// Keeps what a remote party wrote printable and short before it goes into an error.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(256)
        .collect()
}

/// PKIFailureInfo as bits with badAlg (bit 0) least significant.
fn fail_info_bits(bit_string_value: &[u8]) -> Option<u32> {
    let (_unused, bytes) = bit_string_value.split_first()?;
    let mut out = 0u32;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                out |= 1 << (i * 8 + bit);
            }
        }
    }
    Some(out)
}

/// Checks a TimeStampResp (RFC 3161 2.4.2) against the request it answers and returns the token
/// (DER ContentInfo) only if it is granted, verifies, and covers `imprint` with `nonce`.
pub fn verify_response(
    response_der: &[u8],
    digest: DigestAlg,
    imprint: &[u8],
    nonce: &[u8],
    policy: &AlgorithmPolicy,
) -> Result<Vec<u8>, TsaError> {
    check_imprint_len(digest, imprint)?;
    let garbage = |what: &str| TsaError::Garbage(what.to_owned());
    let mut input = response_der;
    let resp = der_walk::expect(&mut input, der_walk::SEQUENCE)
        .map_err(|_| garbage("not a DER TimeStampResp"))?;
    if !input.is_empty() {
        return Err(garbage("bytes after the TimeStampResp"));
    }
    let mut fields = resp.value;
    let status_info = der_walk::expect(&mut fields, der_walk::SEQUENCE)
        .map_err(|_| garbage("no PKIStatusInfo"))?;
    let mut si = status_info.value;
    let status = der_walk::expect(&mut si, der_walk::INTEGER)
        .ok()
        .and_then(|s| der_walk::small_uint(s.value))
        .ok_or_else(|| garbage("bad PKIStatus"))?;
    let mut texts = Vec::new();
    if let Some(free_text) =
        der_walk::optional(&mut si, der_walk::SEQUENCE).map_err(|_| garbage("bad statusString"))?
    {
        for t in der_walk::children(free_text.value, 16).map_err(|_| garbage("bad statusString"))? {
            texts.push(sanitize(&String::from_utf8_lossy(t.value)));
        }
    }
    let fail_info = der_walk::optional(&mut si, 0x03)
        .map_err(|_| garbage("bad failInfo"))?
        .and_then(|b| fail_info_bits(b.value));
    if !si.is_empty() {
        return Err(garbage("unexpected fields in PKIStatusInfo"));
    }
    // RFC 3161 2.4.2: granted (0) and grantedWithMods (1) carry a token.
    if status > 1 {
        return Err(TsaError::Rejected {
            status,
            text: texts.join("; "),
            fail_info,
        });
    }
    let token = der_walk::expect(&mut fields, der_walk::SEQUENCE)
        .map_err(|_| garbage("granted but no timeStampToken"))?
        .raw
        .to_vec();
    if !fields.is_empty() {
        return Err(garbage("unexpected fields in TimeStampResp"));
    }
    verify_token(&token, digest, imprint, nonce, policy)?;
    Ok(token)
}

/// TSTInfo.messageImprint.hashedMessage of a token (RFC 3161 2.4.2).
fn token_imprint(token: &[u8]) -> Result<Vec<u8>, TsaError> {
    let bad = |_| TsaError::Garbage("malformed TSTInfo".to_owned());
    let parsed = pki_cms::parse_signed_data(token).map_err(|e| TsaError::Garbage(e.to_string()))?;
    let econtent = parsed
        .econtent
        .ok_or_else(|| TsaError::Garbage("no TSTInfo".to_owned()))?;
    let mut input = econtent.as_slice();
    let seq = der_walk::expect(&mut input, der_walk::SEQUENCE).map_err(bad)?;
    let mut f = seq.value;
    der_walk::expect(&mut f, der_walk::INTEGER).map_err(bad)?;
    der_walk::expect(&mut f, der_walk::OID).map_err(bad)?;
    let mi = der_walk::expect(&mut f, der_walk::SEQUENCE).map_err(bad)?;
    let mut m = mi.value;
    der_walk::next(&mut m).map_err(bad)?;
    let hashed = der_walk::expect(&mut m, der_walk::OCTET_STRING).map_err(bad)?;
    Ok(hashed.value.to_vec())
}

/// Verifies a token with antin's verifier (`pki::tsp`) and matches it to the request.
fn verify_token(
    token: &[u8],
    digest: DigestAlg,
    imprint: &[u8],
    nonce: &[u8],
    policy: &AlgorithmPolicy,
) -> Result<(), TsaError> {
    // `verify_timestamp_token` wants the imprinted data; we have only its digest, so the data
    // check there (imprint_ok) is replaced by comparing the hashedMessage directly below.
    let v = tsp::verify_timestamp_token(token, &[], policy)
        .map_err(|e| TsaError::Garbage(e.to_string()))?;
    if !v.cms.is_valid() {
        let problems: Vec<String> = v.cms.problems.iter().map(ToString::to_string).collect();
        return Err(TsaError::InvalidToken(if problems.is_empty() {
            "the token's signature does not verify".to_owned()
        } else {
            problems.join("; ")
        }));
    }
    if let Err(e) = &v.imprint_policy {
        return Err(TsaError::InvalidToken(e.to_string()));
    }
    match v.tsa_eku {
        TsaEkuCheck::Ok | TsaEkuCheck::NotCritical => {}
        other => {
            return Err(TsaError::InvalidToken(format!(
                "the signer is not a TSA certificate (RFC 3161 2.3): {other:?}"
            )))
        }
    }
    if v.imprint_algorithm != digest.algorithm() {
        return Err(TsaError::Mismatch(format!(
            "imprint algorithm {} instead of {digest}",
            v.imprint_algorithm
        )));
    }
    if token_imprint(token)? != imprint {
        return Err(TsaError::Mismatch("the imprint differs".to_owned()));
    }
    match v.nonce.as_deref() {
        Some(n) if n == nonce => Ok(()),
        Some(_) => Err(TsaError::Mismatch("the nonce differs".to_owned())),
        None => Err(TsaError::Mismatch("the nonce is missing".to_owned())),
    }
}

/// An RFC 3161 client over HTTP (RFC 3161 3.4).
pub struct TsaClient {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
    req_policy: Option<ObjectIdentifier>,
    policy: AlgorithmPolicy,
}

impl fmt::Debug for TsaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry credentials (user:password@): show only scheme, host and path.
        let shown = match reqwest::Url::parse(&self.url) {
            Ok(u) => format!(
                "{}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.path()
            ),
            Err(_) => "<unparsable url>".to_owned(),
        };
        f.debug_struct("TsaClient")
            .field("url", &shown)
            .field("timeout", &self.timeout)
            .field("req_policy", &self.req_policy)
            .finish_non_exhaustive()
    }
}

impl TsaClient {
    /// A client with its own HTTP client (no proxy from the environment, no redirects).
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, TsaError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| TsaError::Transport(e.to_string()))?;
        Ok(Self::with_http_client(url, http, timeout))
    }

    /// A client over a configured HTTP client (TLS roots, proxy); `timeout` bounds each call.
    pub fn with_http_client(
        url: impl Into<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Self {
        TsaClient {
            url: url.into(),
            http,
            timeout,
            req_policy: None,
            policy: AlgorithmPolicy::default(),
        }
    }

    /// Asks for a specific TSA policy (reqPolicy, RFC 3161 2.4.1).
    pub fn with_req_policy(mut self, oid: ObjectIdentifier) -> Self {
        self.req_policy = Some(oid);
        self
    }

    /// Timestamps `imprint`, the `digest` hash of the data (for a signature timestamp: of the
    /// SignerInfo signature value). Returns the verified token, a DER ContentInfo.
    pub async fn timestamp(&self, digest: DigestAlg, imprint: &[u8]) -> Result<Vec<u8>, TsaError> {
        // RFC 3161 2.4.1: a large random nonce ties the answer to this request.
        let nonce = random_int_content(8)?;
        let body = request_der(digest, imprint, &nonce, self.req_policy)?;
        let after = self.timeout;
        let response = match tokio::time::timeout(after, self.post(body)).await {
            Ok(r) => r?,
            Err(_) => return Err(TsaError::Timeout { after }),
        };
        verify_response(&response, digest, imprint, &nonce, &self.policy)
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, TsaError> {
        let after = self.timeout;
        let net = |e: reqwest::Error| {
            if e.is_timeout() {
                TsaError::Timeout { after }
            } else {
                TsaError::Transport(e.to_string())
            }
        };
        let mut resp = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, QUERY_MEDIA_TYPE)
            .header(reqwest::header::ACCEPT, REPLY_MEDIA_TYPE)
            .body(body)
            .send()
            .await
            .map_err(net)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(TsaError::Http(resp.status().as_u16()));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        // Some TSAs still send the pre-RFC "application/timestamp-response".
        match content_type.as_deref() {
            Some(REPLY_MEDIA_TYPE) | Some("application/timestamp-response") => {}
            other => {
                return Err(TsaError::Garbage(format!(
                    "content type {} instead of {REPLY_MEDIA_TYPE}",
                    sanitize(other.unwrap_or("(none)"))
                )))
            }
        }
        if resp
            .content_length()
            .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_RESPONSE_LEN))
        {
            return Err(TsaError::Garbage("response larger than 1 MiB".to_owned()));
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            if out.len() + chunk.len() > MAX_RESPONSE_LEN {
                return Err(TsaError::Garbage("response larger than 1 MiB".to_owned()));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// PKIFailureInfo bits (RFC 3161 2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    SystemFailure = 25,
}

impl FailInfo {
    /// The named BIT STRING in DER: trailing zero bits removed (X.690 11.2.2).
    fn bit_string(self) -> Result<BitString, der::Error> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        if let Some(b) = bytes.get_mut(bit / 8) {
            *b = 0x80 >> (bit % 8);
        }
        // At most 7: the cast cannot truncate.
        BitString::new((7 - bit % 8) as u8, bytes)
    }
}

/// PKIStatusInfo (RFC 3161 2.4.2, RFC 4210 5.2.3).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

/// TimeStampResp (RFC 3161 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampRespOut {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<Any>,
}

/// rejection, statusString empty: the answer when even encoding a refusal fails.
const REJECTION_FALLBACK: [u8; 7] = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];

/// A test TSA (RFC 3161) for development and tests: answers every well-formed request with a
/// token signed by the given certificate and key. Serial numbers are random (128 bits).
pub struct DevTsa {
    cert: X509,
    key: FileKey,
    chain: Vec<X509>,
}

impl fmt::Debug for DevTsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevTsa")
            .field("key", &self.key)
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl DevTsa {
    /// The TSA policy of every token: a test OID under a private enterprise arc.
    pub const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");

    /// `cert` should carry EKU timeStamping (critical) or clients refuse its tokens; `chain` is
    /// included with it when a request asks for certificates.
    pub fn new(cert: X509, key: FileKey, chain: Vec<X509>) -> Result<Self, KeyError> {
        if !key.matches_certificate(&cert) {
            return Err(KeyError::CertificateMismatch);
        }
        Ok(DevTsa { cert, key, chain })
    }

    /// Answers a DER TimeStampReq with a DER TimeStampResp: granted with a token, or rejection
    /// with the reason. Never fails.
    pub fn respond(&self, request_der: &[u8], now: OffsetDateTime) -> Vec<u8> {
        let (status, token, fail) = match self.grant(request_der, now) {
            Ok(token) => (0, Some(token), None),
            Err((fail, text)) => (2, None, Some((fail, text))),
        };
        let encoded = (|| -> Result<Vec<u8>, der::Error> {
            let (status_string, fail_info) = match fail {
                None => (None, None),
                Some((fail, text)) => (Some(vec![text.to_owned()]), Some(fail.bit_string()?)),
            };
            TimeStampRespOut {
                status: PkiStatusInfo {
                    status,
                    status_string,
                    fail_info,
                },
                time_stamp_token: token.map(|t| Any::from_der(&t)).transpose()?,
            }
            .to_der()
        })();
        encoded.unwrap_or_else(|_| REJECTION_FALLBACK.to_vec())
    }

    fn grant(
        &self,
        request_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, (FailInfo, &'static str)> {
        let req = TimeStampReq::from_der(request_der)
            .map_err(|_| (FailInfo::BadRequest, "malformed TimeStampReq"))?;
        let digest = DigestAlgorithm::from_oid(&req.message_imprint.hash_algorithm.oid)
            .and_then(DigestAlg::from_algorithm)
            .ok_or((FailInfo::BadAlg, "hash algorithm not accepted"))?;
        if req.message_imprint.hashed_message.as_bytes().len() != digest.output_len() {
            return Err((
                FailInfo::BadDataFormat,
                "imprint length does not fit its algorithm",
            ));
        }
        if req.req_policy.is_some_and(|p| p != Self::POLICY) {
            return Err((FailInfo::UnacceptedPolicy, "policy not supported"));
        }
        if req.extensions.is_some() {
            return Err((FailInfo::UnacceptedExtension, "extensions not supported"));
        }
        fn system<E>(_: E) -> (FailInfo, &'static str) {
            (FailInfo::SystemFailure, "internal error")
        }
        let secs = u64::try_from(now.unix_timestamp()).map_err(system)?;
        let gen_time =
            GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map_err(system)?;
        let serial = random_int_content(16).map_err(system)?;
        let subject =
            x509_cert::name::Name::from_der(&self.cert.subject_name().to_der().map_err(system)?)
                .map_err(system)?;
        let tst = TstInfo {
            version: TspVersion::V1,
            policy: Self::POLICY,
            message_imprint: req.message_imprint.clone(),
            serial_number: Int::from(Uint::new(&serial).map_err(system)?),
            gen_time,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: req.nonce.clone(),
            tsa: Some(GeneralName::DirectoryName(subject)),
            extensions: None,
        };
        let tst_der = tst.to_der().map_err(system)?;
        let sign_digest = self.key.scheme().digest();
        build(
            Build {
                econtent_type: oids::ID_CT_TST_INFO,
                message_digest: sign_digest.digest(&[&tst_der]),
                econtent: Some(tst_der),
                digest: sign_digest,
                signer_cert: &self.cert,
                chain: &self.chain,
                include_certificates: req.cert_req,
                signing_time: None,
                extra_signed_attrs: Vec::new(),
            },
            &self.key,
        )
        .map_err(|_| (FailInfo::SystemFailure, "signing failed"))
    }
}

/// The HTTP face of a [`DevTsa`] (RFC 3161 3.4): `POST /` with `application/timestamp-query`,
/// at most 64 KiB, answered with `application/timestamp-reply`.
pub fn router(tsa: Arc<DevTsa>) -> axum::Router {
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};

    async fn handle(
        State(tsa): State<Arc<DevTsa>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> Response {
        let is_query = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(QUERY_MEDIA_TYPE))
            });
        if !is_query {
            return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
        }
        let reply = tsa.respond(&body, OffsetDateTime::now_utc());
        ([(header::CONTENT_TYPE, REPLY_MEDIA_TYPE)], reply).into_response()
    }

    axum::Router::new()
        .route("/", axum::routing::post(handle))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_LEN))
        .with_state(tsa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(positive_int_content(&[0, 0, 0x12]), vec![0x12]);
        assert_eq!(positive_int_content(&[0, 0x80]), vec![0, 0x80]);
        assert_eq!(positive_int_content(&[0, 0]), vec![0]);
        assert_eq!(positive_int_content(&[0xFF, 1]), vec![0, 0xFF, 1]);
    }

    #[test]
    fn fail_info_round_trip() {
        for (f, bit) in [
            (FailInfo::BadAlg, 0),
            (FailInfo::BadRequest, 2),
            (FailInfo::UnacceptedPolicy, 15),
            (FailInfo::SystemFailure, 25),
        ] {
            let der = f.bit_string().unwrap().to_der().unwrap();
            assert_eq!(fail_info_bits(&der[2..]), Some(1 << bit), "{f:?}");
        }
        // badRequest: one octet 0x20, five unused bits.
        assert_eq!(
            FailInfo::BadRequest.bit_string().unwrap().to_der().unwrap(),
            vec![0x03, 0x02, 0x05, 0x20]
        );
    }

    #[test]
    fn request_shape() {
        let imprint = [7u8; 32];
        let der = request_der(DigestAlg::Sha256, &imprint, &[0x01, 0x02], None).unwrap();
        let req = TimeStampReq::from_der(&der).unwrap();
        assert!(req.cert_req);
        assert_eq!(req.nonce.unwrap().as_bytes(), &[0x01, 0x02]);
        assert_eq!(req.message_imprint.hashed_message.as_bytes(), &imprint);
        assert!(matches!(
            request_der(DigestAlg::Sha384, &imprint, &[1], None),
            Err(TsaError::BadImprint { .. })
        ));
    }

    #[test]
    fn garbage_and_rejections() {
        let p = AlgorithmPolicy::default();
        let imprint = [0u8; 32];
        for junk in [
            &b""[..],
            b"\x30",
            b"hello",
            b"\x30\x00",
            b"\x30\x03\x30\x01\x02",
        ] {
            assert!(
                matches!(
                    verify_response(junk, DigestAlg::Sha256, &imprint, &[1], &p),
                    Err(TsaError::Garbage(_))
                ),
                "{junk:?}"
            );
        }
        // status rejection with failInfo badRequest and a text.
        let resp = TimeStampRespOut {
            status: PkiStatusInfo {
                status: 2,
                status_string: Some(vec!["không\u{7}".to_owned()]),
                fail_info: Some(FailInfo::BadRequest.bit_string().unwrap()),
            },
            time_stamp_token: None,
        }
        .to_der()
        .unwrap();
        assert_eq!(
            verify_response(&resp, DigestAlg::Sha256, &imprint, &[1], &p),
            Err(TsaError::Rejected {
                status: 2,
                text: "không ".to_owned(),
                fail_info: Some(1 << 2),
            })
        );
        // granted without a token
        let resp = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00];
        assert!(matches!(
            verify_response(&resp, DigestAlg::Sha256, &imprint, &[1], &p),
            Err(TsaError::Garbage(_))
        ));
    }
}
