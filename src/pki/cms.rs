//! CMS SignedData (RFC 5652): parse once, then verify one SignerInfo against the signed content.
//!
//! Used for PAdES (ETSI.CAdES.detached), CAdES detached signatures, legacy PKCS#7
//! (adbe.pkcs7.detached, adbe.pkcs7.sha1) and RFC 3161 timestamp tokens. Every check is reported
//! as a separate field of [`CmsVerification`] so the report can show them and the engine can map
//! them to ETSI EN 319 102-1 sub-indications ([`CmsVerification::sub_indication_hint`]).
//!
//! Parsing walks the DER with [`der`] (no re-encoding): the signed attributes are verified over
//! their original bytes with the implicit `[0]` tag replaced by SET OF (RFC 5652 5.4), and each
//! certificate is handed to OpenSSL exactly once. Input is bounded (see the `MAX_*` limits).
//!
//! This module never validates certificate paths or revocation (see `pki::path`,
//! `pki::revocation`), never reads the clock, files or the network, and never panics on input.

use std::fmt;

use der::asn1::ObjectIdentifier;
use openssl::error::ErrorStack;
use openssl::hash::{DigestBytes, Hasher};
use openssl::pkey::{PKeyRef, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::x509::{X509Crl, X509Name, X509Ref, X509};
use time::OffsetDateTime;

use crate::pki::algorithms::{
    AlgorithmError, AlgorithmPolicy, AlgorithmRejected, AlgorithmUse, DigestAlgorithm, KeyInfo,
    SignatureAlgorithm,
};
use crate::pki::identity;

/// At most this many bytes of CMS (PDF /Contents with embedded CRLs can be several MB).
pub const MAX_CMS_LEN: usize = 64 * 1024 * 1024;
/// At most this many certificates in the SignedData.
pub const MAX_CERTIFICATES: usize = 256;
/// At most this many CRLs in the SignedData or in adbe-revocationInfoArchival.
pub const MAX_CRLS: usize = 64;
/// At most this many OCSP responses in adbe-revocationInfoArchival.
pub const MAX_OCSP: usize = 64;
/// At most this many SignerInfos.
pub const MAX_SIGNER_INFOS: usize = 16;
/// At most this many attributes in signedAttrs or unsignedAttrs, and values per attribute.
pub const MAX_ATTRIBUTES: usize = 64;

/// OIDs (RFC 5652 11, RFC 5035, RFC 3161, Adobe PDF 1.7 12.8.3.3.2).
pub mod oids {
    use der::asn1::ObjectIdentifier as Oid;

    pub const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
    pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    pub const SIGNATURE_TIME_STAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
    pub const CONTENT_TIME_STAMP: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.20");
    pub const ADBE_REVOCATION_INFO_ARCHIVAL: Oid = Oid::new_unwrap("1.2.840.113583.1.1.8");
    pub const CMS_ALGORITHM_PROTECTION: Oid = Oid::new_unwrap("1.2.840.113549.1.9.52");
}

/// A minimal DER walker over borrowed bytes, built on [`der::Header`] (definite lengths only,
/// minimal length encoding, single-byte tags). Shared with `tsp` and `identity`.
pub(crate) mod der_walk {
    use der::{Decode, Header, Reader, SliceReader};

    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// One TLV: its first tag octet, its value, and the whole encoding.
    #[derive(Debug, Clone, Copy)]
    pub struct Tlv<'a> {
        pub tag: u8,
        pub value: &'a [u8],
        pub raw: &'a [u8],
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct WalkError;

    impl From<der::Error> for WalkError {
        fn from(_: der::Error) -> Self {
            WalkError
        }
    }

    /// Reads one TLV from the front of `input` and advances it.
    pub fn next<'a>(input: &mut &'a [u8]) -> Result<Tlv<'a>, WalkError> {
        let bytes: &'a [u8] = input;
        let mut reader = SliceReader::new(bytes)?;
        let header = Header::decode(&mut reader)?;
        let header_len = usize::try_from(u32::from(reader.position())).map_err(|_| WalkError)?;
        let value_len = usize::try_from(u32::from(header.length)).map_err(|_| WalkError)?;
        let total = header_len.checked_add(value_len).ok_or(WalkError)?;
        let raw = bytes.get(..total).ok_or(WalkError)?;
        let value = raw.get(header_len..).ok_or(WalkError)?;
        *input = bytes.get(total..).ok_or(WalkError)?;
        Ok(Tlv {
            tag: header.tag.octet(),
            value,
            raw,
        })
    }

    /// Reads one TLV that must have tag `tag`.
    pub fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Result<Tlv<'a>, WalkError> {
        let tlv = next(input)?;
        if tlv.tag != tag {
            return Err(WalkError);
        }
        Ok(tlv)
    }

    /// Reads an optional TLV with tag `tag`.
    pub fn optional<'a>(input: &mut &'a [u8], tag: u8) -> Result<Option<Tlv<'a>>, WalkError> {
        if input.first() == Some(&tag) {
            next(input).map(Some)
        } else {
            Ok(None)
        }
    }

    /// All TLVs in `value`, at most `limit` of them.
    pub fn children(mut value: &[u8], limit: usize) -> Result<Vec<Tlv<'_>>, WalkError> {
        let mut out = Vec::new();
        while !value.is_empty() {
            if out.len() >= limit {
                return Err(WalkError);
            }
            out.push(next(&mut value)?);
        }
        Ok(out)
    }

    pub fn oid(tlv: &Tlv<'_>) -> Result<der::asn1::ObjectIdentifier, WalkError> {
        if tlv.tag != OID {
            return Err(WalkError);
        }
        der::asn1::ObjectIdentifier::from_bytes(tlv.value).map_err(|_| WalkError)
    }

    /// AlgorithmIdentifier (RFC 5280 4.1.1.2): the OID and the raw parameters TLV, if any
    /// (an explicit NULL counts as absent).
    pub fn algorithm_identifier(
        raw: &[u8],
    ) -> Result<(der::asn1::ObjectIdentifier, Option<&[u8]>), WalkError> {
        let mut input = raw;
        let seq = expect(&mut input, SEQUENCE)?;
        if !input.is_empty() {
            return Err(WalkError);
        }
        algorithm_fields(seq.value)
    }

    /// The fields of an AlgorithmIdentifier (also under an IMPLICIT tag).
    pub fn algorithm_fields(
        mut fields: &[u8],
    ) -> Result<(der::asn1::ObjectIdentifier, Option<&[u8]>), WalkError> {
        let oid = oid(&next(&mut fields)?)?;
        let params = if fields.is_empty() {
            None
        } else {
            let p = next(&mut fields)?;
            if !fields.is_empty() {
                return Err(WalkError);
            }
            (p.tag != NULL).then_some(p.raw)
        };
        Ok((oid, params))
    }

    /// A small non-negative INTEGER value.
    pub fn small_uint(value: &[u8]) -> Option<u32> {
        if value.is_empty() || value.len() > 5 || value.first().is_some_and(|b| b & 0x80 != 0) {
            return None;
        }
        value
            .iter()
            .try_fold(0u64, |acc, b| Some((acc << 8) | u64::from(*b)))
            .and_then(|v| u32::try_from(v).ok())
    }
}

use der_walk::{Tlv, WalkError};

/// Why a CMS could not be parsed or a check failed. Each variant maps to an ETSI EN 319 102-1
/// sub-indication through [`CmsError::sub_indication_hint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The bytes are not a DER ContentInfo / SignedData (RFC 5652 3, 5.1): FORMAT_FAILURE.
    #[error("malformed CMS: {context}")]
    Malformed { context: &'static str },
    /// ContentInfo holds something other than SignedData (RFC 5652 3): FORMAT_FAILURE.
    #[error("CMS content type {content_type} is not SignedData")]
    NotSignedData { content_type: ObjectIdentifier },
    /// A bound on the input was exceeded: FORMAT_FAILURE.
    #[error("CMS has too many {what} (limit {limit})")]
    TooMany { what: &'static str, limit: usize },
    /// A certificate in the SignedData does not parse (RFC 5652 10.2.2): FORMAT_FAILURE.
    #[error("certificate {index} in the CMS does not parse")]
    BadCertificate { index: usize },
    /// A CRL in the SignedData or the revocation archival does not parse: FORMAT_FAILURE.
    #[error("CRL {index} in the CMS does not parse")]
    BadCrl { index: usize },
    /// No SignerInfo at the requested index (RFC 5652 5.1): FORMAT_FAILURE.
    #[error("no SignerInfo at index {index} (the CMS has {count})")]
    NoSignerInfo { index: usize, count: usize },
    /// A signed attribute that must occur once with one value does not (RFC 5652 11): FORMAT_FAILURE.
    #[error("signed attribute {oid} is malformed or repeated")]
    BadAttribute { oid: ObjectIdentifier },
    /// Detached signature with no content supplied, or encapsulated content expected but absent
    /// (RFC 5652 5.2): SIGNED_DATA_NOT_FOUND, reported as FORMAT_FAILURE.
    #[error("the signed content is missing")]
    NoContent,
    /// A precomputed digest has the wrong length for the SignerInfo's digest algorithm.
    #[error("precomputed digest has {got} bytes, {algorithm} needs {expected}")]
    DigestLength {
        algorithm: DigestAlgorithm,
        expected: usize,
        got: usize,
    },
    /// Unknown digest or signature algorithm (EN 319 102-1 5.2.8): CRYPTO_CONSTRAINTS_FAILURE.
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    /// The policy rejects an algorithm or key size (EN 319 102-1 5.2.8): CRYPTO_CONSTRAINTS_FAILURE.
    #[error(transparent)]
    Rejected(#[from] AlgorithmRejected),
    /// No certificate matches the SignerIdentifier (RFC 5652 5.3; EN 319 102-1 5.2.3):
    /// NO_SIGNING_CERTIFICATE_FOUND.
    #[error("no certificate matches the signer identifier {signer_id}")]
    SignerCertificateNotFound { signer_id: String },
    /// The ESS signing-certificate(-v2) attribute does not identify the signer's certificate
    /// (RFC 5035 3; EN 319 102-1 5.2.3.4): NO_SIGNING_CERTIFICATE_FOUND.
    #[error("ESS signing-certificate attribute does not match the signer certificate")]
    EssMismatch,
    /// messageDigest is absent though signedAttrs are present (RFC 5652 5.3, 11.2): FORMAT_FAILURE.
    #[error("messageDigest attribute is missing")]
    MessageDigestMissing,
    /// messageDigest differs from the digest of the content (RFC 5652 5.4): HASH_FAILURE.
    #[error("messageDigest does not match the content")]
    MessageDigestMismatch,
    /// adbe.pkcs7.sha1: the encapsulated SHA-1 differs from the SHA-1 of the data: HASH_FAILURE.
    #[error("encapsulated SHA-1 does not match the data (adbe.pkcs7.sha1)")]
    EmbeddedDigestMismatch,
    /// contentType attribute absent though signedAttrs are present (RFC 5652 11.1): FORMAT_FAILURE.
    #[error("contentType attribute is missing")]
    ContentTypeMissing,
    /// contentType attribute differs from eContentType (RFC 5652 11.1): FORMAT_FAILURE.
    #[error("contentType attribute {attribute} differs from eContentType {econtent_type}")]
    ContentTypeMismatch {
        attribute: ObjectIdentifier,
        econtent_type: ObjectIdentifier,
    },
    /// CMSAlgorithmProtection names other algorithms than the SignerInfo (RFC 6211 4):
    /// FORMAT_FAILURE.
    #[error("CMSAlgorithmProtection does not match the SignerInfo algorithms")]
    AlgorithmProtectionMismatch,
    /// The signature algorithm does not fit the signer's key: SIG_CRYPTO_FAILURE.
    #[error("signature algorithm {algorithm} does not fit the {key} key")]
    KeyMismatch { algorithm: String, key: String },
    /// The signature value does not verify (RFC 5652 5.6): SIG_CRYPTO_FAILURE.
    #[error("the signature value does not verify")]
    SignatureInvalid,
    /// The signature could not be checked with this combination (e.g. Ed25519 over a digest).
    #[error("cannot verify: {detail}")]
    Unsupported { detail: &'static str },
    /// OpenSSL failed for a reason unrelated to the input.
    #[error("crypto library error: {detail}")]
    Crypto { detail: String },
}

/// ETSI EN 319 102-1 sub-indications a CMS problem maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubIndicationHint {
    FormatFailure,
    HashFailure,
    SigCryptoFailure,
    CryptoConstraintsFailure,
    NoSigningCertificateFound,
}

impl CmsError {
    /// The sub-indication this problem leads to (EN 319 102-1 5.2).
    pub fn sub_indication_hint(&self) -> SubIndicationHint {
        use SubIndicationHint::*;
        match self {
            Self::Malformed { .. }
            | Self::NotSignedData { .. }
            | Self::TooMany { .. }
            | Self::BadCertificate { .. }
            | Self::BadCrl { .. }
            | Self::NoSignerInfo { .. }
            | Self::BadAttribute { .. }
            | Self::NoContent
            | Self::DigestLength { .. }
            | Self::MessageDigestMissing
            | Self::ContentTypeMissing
            | Self::ContentTypeMismatch { .. }
            | Self::AlgorithmProtectionMismatch
            | Self::Crypto { .. } => FormatFailure,
            Self::Algorithm(_) | Self::Rejected(_) | Self::Unsupported { .. } => {
                CryptoConstraintsFailure
            }
            Self::SignerCertificateNotFound { .. } | Self::EssMismatch => NoSigningCertificateFound,
            Self::MessageDigestMismatch | Self::EmbeddedDigestMismatch => HashFailure,
            Self::KeyMismatch { .. } | Self::SignatureInvalid => SigCryptoFailure,
        }
    }
}

fn malformed(context: &'static str) -> impl Fn(WalkError) -> CmsError {
    move |_| CmsError::Malformed { context }
}

fn crypto(e: ErrorStack) -> CmsError {
    CmsError::Crypto {
        detail: e.to_string(),
    }
}

/// How a SignerInfo names its certificate (RFC 5652 5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// issuer Name (DER) and serialNumber (INTEGER content octets).
    IssuerAndSerial {
        issuer_der: Vec<u8>,
        serial: Vec<u8>,
    },
    /// subjectKeyIdentifier.
    SubjectKeyId(Vec<u8>),
}

impl fmt::Display for SignerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssuerAndSerial { issuer_der, serial } => {
                let issuer = identity::format_dn_der(issuer_der)
                    .unwrap_or_else(|_| "<unparsable name>".to_owned());
                write!(f, "issuer \"{issuer}\", serial {}", hex::encode(serial))
            }
            Self::SubjectKeyId(ski) => write!(f, "subject key identifier {}", hex::encode(ski)),
        }
    }
}

/// One attribute (RFC 5652 5.3): its type and the DER of each value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttribute {
    pub oid: ObjectIdentifier,
    pub values: Vec<Vec<u8>>,
}

/// An AlgorithmIdentifier: OID and the DER of the parameters (None if absent or NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAlgorithm {
    pub oid: ObjectIdentifier,
    pub params: Option<Vec<u8>>,
}

/// A parsed SignerInfo (RFC 5652 5.3), not yet verified.
#[derive(Debug, Clone)]
pub struct SignerInfo {
    pub version: u32,
    pub sid: SignerId,
    pub digest_algorithm: RawAlgorithm,
    /// The DER of signedAttrs re-tagged as SET OF (0x31): the bytes the signature covers.
    pub signed_attrs_der: Option<Vec<u8>>,
    pub signed_attrs: Vec<RawAttribute>,
    pub signature_algorithm: RawAlgorithm,
    pub signature: Vec<u8>,
    pub unsigned_attrs: Vec<RawAttribute>,
}

impl SignerInfo {
    fn signed_attr(&self, oid: ObjectIdentifier) -> Result<Option<&[u8]>, CmsError> {
        single_value(&self.signed_attrs, oid)
    }
}

/// Finds an attribute that must occur at most once with exactly one value (RFC 5652 11).
fn single_value(attrs: &[RawAttribute], oid: ObjectIdentifier) -> Result<Option<&[u8]>, CmsError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(first) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || first.values.len() != 1 {
        return Err(CmsError::BadAttribute { oid });
    }
    Ok(first.values.first().map(Vec::as_slice))
}

/// A parsed SignedData.
pub struct ParsedCms {
    /// The certificates of SignedData.certificates, parsed once.
    pub certificates: Vec<X509>,
    /// The CRLs of SignedData.crls.
    pub crls: Vec<X509Crl>,
    pub signer_infos: Vec<SignerInfo>,
    pub econtent_type: ObjectIdentifier,
    /// The content of eContent's OCTET STRING, if the content is encapsulated.
    pub econtent: Option<Vec<u8>>,
    /// The number of zero bytes after the DER (PDF /Contents padding).
    pub trailing_zeros: usize,
    /// DER and SHA-256 of each of `certificates`, for the ESS check without re-encoding.
    cert_der: Vec<Vec<u8>>,
    cert_sha256: Vec<[u8; 32]>,
}

/// A bounded, thread-safe cache of parsed certificates keyed by the SHA-256 of their DER.
///
/// OpenSSL 3.0 spends most of a verification decoding certificates (its public-key decoder is
/// slow); the CA certificates in signatures repeat across requests, so the engine keeps one cache
/// and passes it to [`parse_signed_data_with_cache`]. Equal DER means the same certificate, so
/// the cache cannot change any result. Eviction is first-in first-out.
pub struct CertCache {
    capacity: usize,
    inner: std::sync::Mutex<CertCacheInner>,
}

#[derive(Default)]
struct CertCacheInner {
    map: std::collections::HashMap<[u8; 32], X509>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl CertCache {
    /// A cache holding at most `capacity` certificates.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: std::sync::Mutex::new(CertCacheInner::default()),
        }
    }

    /// Number of cached certificates.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CertCacheInner> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn get_or_parse(&self, der: &[u8], sha256: &[u8; 32]) -> Result<X509, ErrorStack> {
        if let Some(c) = self.lock().map.get(sha256) {
            return Ok(c.clone());
        }
        let cert = X509::from_der(der)?;
        if self.capacity > 0 {
            let mut inner = self.lock();
            if !inner.map.contains_key(sha256) {
                while inner.map.len() >= self.capacity {
                    match inner.order.pop_front() {
                        Some(old) => {
                            inner.map.remove(&old);
                        }
                        None => break,
                    }
                }
                inner.map.insert(*sha256, cert.clone());
                inner.order.push_back(*sha256);
            }
        }
        Ok(cert)
    }
}

/// The certificates decoded so far in this process, by SHA-256 of their DER. OpenSSL 3.0 takes
/// ~130 µs to decode one certificate (its provider decoders), and the same CA, TSA and OCSP
/// responder certificates come with every document; a decoded `X509` is immutable and shared by
/// reference count, so the same bytes always give the same object. Bounded (FIFO eviction).
pub fn global_cert_cache() -> &'static CertCache {
    static CACHE: std::sync::OnceLock<CertCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| CertCache::new(4096))
}

type PublicKeyCache = std::sync::Mutex<
    std::collections::HashMap<[u8; 32], openssl::pkey::PKey<openssl::pkey::Public>>,
>;

/// A certificate's public key, decoded once per certificate in this process (OpenSSL 3.0 takes
/// ~100 µs to decode one; the same CA and TSA keys check every document). Keyed by the
/// certificate's SHA-256; bounded (emptied when full).
pub fn cached_public_key(
    cert: &openssl::x509::X509Ref,
) -> Result<openssl::pkey::PKey<openssl::pkey::Public>, ErrorStack> {
    static CACHE: std::sync::OnceLock<PublicKeyCache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = super::cert_facts::sha256(cert);
    if let Some(k) = cache.lock().ok().and_then(|m| m.get(&id).cloned()) {
        return Ok(k);
    }
    let key = cert.public_key()?;
    if let Ok(mut m) = cache.lock() {
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(id, key.clone());
    }
    Ok(key)
}

/// A certificate from DER through the process-wide cache.
pub fn cached_certificate(der: &[u8]) -> Result<X509, ErrorStack> {
    global_cert_cache().get_or_parse(der, &sha256(der))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl fmt::Debug for ParsedCms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedCms")
            .field("certificates", &self.certificates.len())
            .field("crls", &self.crls.len())
            .field("signer_infos", &self.signer_infos)
            .field("econtent_type", &self.econtent_type)
            .field("econtent_len", &self.econtent.as_ref().map(Vec::len))
            .finish()
    }
}

/// Parses a DER ContentInfo holding SignedData (RFC 5652 3, 5.1). Zero bytes after the DER are
/// tolerated (a PDF's /Contents is zero-padded); anything else after it is an error.
pub fn parse_signed_data(der: &[u8]) -> Result<ParsedCms, CmsError> {
    parse_inner(der, None)
}

/// [`parse_signed_data`], taking already-parsed certificates from `cache` and adding new ones.
pub fn parse_signed_data_with_cache(der: &[u8], cache: &CertCache) -> Result<ParsedCms, CmsError> {
    parse_inner(der, Some(cache))
}

fn parse_inner(der: &[u8], cache: Option<&CertCache>) -> Result<ParsedCms, CmsError> {
    if der.len() > MAX_CMS_LEN {
        return Err(CmsError::TooMany {
            what: "bytes",
            limit: MAX_CMS_LEN,
        });
    }
    let mut input = der;
    let content_info = der_walk::expect(&mut input, der_walk::SEQUENCE)
        .map_err(malformed("ContentInfo is not a DER SEQUENCE"))?;
    if input.iter().any(|b| *b != 0) {
        return Err(CmsError::Malformed {
            context: "non-zero bytes after the ContentInfo",
        });
    }
    let trailing_zeros = input.len();

    let mut ci = content_info.value;
    let content_type = der_walk::next(&mut ci)
        .and_then(|t| der_walk::oid(&t))
        .map_err(malformed("ContentInfo contentType"))?;
    if content_type != oids::ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData { content_type });
    }
    let explicit = der_walk::expect(&mut ci, 0xA0).map_err(malformed("ContentInfo content"))?;
    if !ci.is_empty() {
        return Err(CmsError::Malformed {
            context: "extra fields in ContentInfo",
        });
    }
    let mut inner = explicit.value;
    let sd = der_walk::expect(&mut inner, der_walk::SEQUENCE)
        .map_err(malformed("SignedData is not a SEQUENCE"))?;
    if !inner.is_empty() {
        return Err(CmsError::Malformed {
            context: "extra bytes after SignedData",
        });
    }
    parse_signed_data_fields(sd.value, trailing_zeros, cache)
}

fn parse_signed_data_fields(
    mut f: &[u8],
    trailing_zeros: usize,
    cache: Option<&CertCache>,
) -> Result<ParsedCms, CmsError> {
    let version = der_walk::expect(&mut f, der_walk::INTEGER).map_err(malformed("version"))?;
    if der_walk::small_uint(version.value).is_none_or(|v| v > 5) {
        return Err(CmsError::Malformed {
            context: "SignedData version",
        });
    }
    der_walk::expect(&mut f, der_walk::SET).map_err(malformed("digestAlgorithms"))?;

    // EncapsulatedContentInfo (RFC 5652 5.2).
    let eci =
        der_walk::expect(&mut f, der_walk::SEQUENCE).map_err(malformed("encapContentInfo"))?;
    let mut eci_fields = eci.value;
    let econtent_type = der_walk::next(&mut eci_fields)
        .and_then(|t| der_walk::oid(&t))
        .map_err(malformed("eContentType"))?;
    let econtent = match der_walk::optional(&mut eci_fields, 0xA0).map_err(malformed("eContent"))? {
        None => None,
        Some(explicit) => {
            let mut v = explicit.value;
            let octets = der_walk::expect(&mut v, der_walk::OCTET_STRING)
                .map_err(malformed("eContent is not a DER OCTET STRING"))?;
            if !v.is_empty() {
                return Err(CmsError::Malformed {
                    context: "extra bytes in eContent",
                });
            }
            Some(octets.value.to_vec())
        }
    };
    if !eci_fields.is_empty() {
        return Err(CmsError::Malformed {
            context: "extra fields in encapContentInfo",
        });
    }

    // certificates [0] IMPLICIT CertificateSet (RFC 5652 10.2.3).
    let mut certificates = Vec::new();
    let mut cert_der = Vec::new();
    let mut cert_sha256 = Vec::new();
    if let Some(set) = der_walk::optional(&mut f, 0xA0).map_err(malformed("certificates"))? {
        let items =
            der_walk::children(set.value, MAX_CERTIFICATES).map_err(|_| CmsError::TooMany {
                what: "certificates (or they are malformed)",
                limit: MAX_CERTIFICATES,
            })?;
        for (index, item) in items.iter().enumerate() {
            // Only X.509 certificates; attribute certificates and others are skipped.
            if item.tag == der_walk::SEQUENCE {
                let hash = sha256(item.raw);
                let cert = cache
                    .unwrap_or_else(|| global_cert_cache())
                    .get_or_parse(item.raw, &hash)
                    .map_err(|_| CmsError::BadCertificate { index })?;
                certificates.push(cert);
                cert_der.push(item.raw.to_vec());
                cert_sha256.push(hash);
            }
        }
    }
    // crls [1] IMPLICIT RevocationInfoChoices (RFC 5652 10.2.1).
    let mut crls = Vec::new();
    if let Some(set) = der_walk::optional(&mut f, 0xA1).map_err(malformed("crls"))? {
        let items = der_walk::children(set.value, MAX_CRLS).map_err(|_| CmsError::TooMany {
            what: "CRLs (or they are malformed)",
            limit: MAX_CRLS,
        })?;
        for (index, item) in items.iter().enumerate() {
            if item.tag == der_walk::SEQUENCE {
                crls.push(X509Crl::from_der(item.raw).map_err(|_| CmsError::BadCrl { index })?);
            }
        }
    }

    let sis = der_walk::expect(&mut f, der_walk::SET).map_err(malformed("signerInfos"))?;
    if !f.is_empty() {
        return Err(CmsError::Malformed {
            context: "extra fields in SignedData",
        });
    }
    let items = der_walk::children(sis.value, MAX_SIGNER_INFOS).map_err(|_| CmsError::TooMany {
        what: "SignerInfos (or they are malformed)",
        limit: MAX_SIGNER_INFOS,
    })?;
    let signer_infos = items
        .iter()
        .map(parse_signer_info)
        .collect::<Result<Vec<_>, _>>()?;

    Ok(ParsedCms {
        certificates,
        crls,
        signer_infos,
        econtent_type,
        econtent,
        trailing_zeros,
        cert_der,
        cert_sha256,
    })
}

fn parse_algorithm(tlv: &Tlv<'_>, context: &'static str) -> Result<RawAlgorithm, CmsError> {
    let (oid, params) =
        der_walk::algorithm_identifier(tlv.raw).map_err(|_| CmsError::Malformed { context })?;
    Ok(RawAlgorithm {
        oid,
        params: params.map(<[u8]>::to_vec),
    })
}

fn parse_attributes(
    set_value: &[u8],
    context: &'static str,
) -> Result<Vec<RawAttribute>, CmsError> {
    let items = der_walk::children(set_value, MAX_ATTRIBUTES).map_err(|_| CmsError::TooMany {
        what: "attributes (or they are malformed)",
        limit: MAX_ATTRIBUTES,
    })?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.tag != der_walk::SEQUENCE {
            return Err(CmsError::Malformed { context });
        }
        let mut fields = item.value;
        let oid = der_walk::next(&mut fields)
            .and_then(|t| der_walk::oid(&t))
            .map_err(malformed(context))?;
        let values = der_walk::expect(&mut fields, der_walk::SET).map_err(malformed(context))?;
        if !fields.is_empty() {
            return Err(CmsError::Malformed { context });
        }
        let values = der_walk::children(values.value, MAX_ATTRIBUTES)
            .map_err(|_| CmsError::TooMany {
                what: "attribute values (or they are malformed)",
                limit: MAX_ATTRIBUTES,
            })?
            .iter()
            .map(|v| v.raw.to_vec())
            .collect();
        out.push(RawAttribute { oid, values });
    }
    Ok(out)
}

fn parse_signer_info(tlv: &Tlv<'_>) -> Result<SignerInfo, CmsError> {
    if tlv.tag != der_walk::SEQUENCE {
        return Err(CmsError::Malformed {
            context: "SignerInfo is not a SEQUENCE",
        });
    }
    let mut f = tlv.value;
    let version = der_walk::expect(&mut f, der_walk::INTEGER)
        .ok()
        .and_then(|v| der_walk::small_uint(v.value))
        .ok_or(CmsError::Malformed {
            context: "SignerInfo version",
        })?;
    let sid_tlv = der_walk::next(&mut f).map_err(malformed("SignerInfo sid"))?;
    let sid = match sid_tlv.tag {
        der_walk::SEQUENCE => {
            let mut v = sid_tlv.value;
            let issuer =
                der_walk::expect(&mut v, der_walk::SEQUENCE).map_err(malformed("sid issuer"))?;
            let serial =
                der_walk::expect(&mut v, der_walk::INTEGER).map_err(malformed("sid serial"))?;
            if !v.is_empty() || serial.value.is_empty() {
                return Err(CmsError::Malformed {
                    context: "IssuerAndSerialNumber",
                });
            }
            SignerId::IssuerAndSerial {
                issuer_der: issuer.raw.to_vec(),
                serial: serial.value.to_vec(),
            }
        }
        0x80 => SignerId::SubjectKeyId(sid_tlv.value.to_vec()),
        _ => {
            return Err(CmsError::Malformed {
                context: "SignerInfo sid",
            })
        }
    };
    let digest_algorithm = parse_algorithm(
        &der_walk::next(&mut f).map_err(malformed("digestAlgorithm"))?,
        "digestAlgorithm",
    )?;
    let (signed_attrs_der, signed_attrs) =
        match der_walk::optional(&mut f, 0xA0).map_err(malformed("signedAttrs"))? {
            None => (None, Vec::new()),
            Some(attrs) => {
                let attrs_list = parse_attributes(attrs.value, "signedAttrs")?;
                if attrs_list.is_empty() {
                    // RFC 5652 5.3: SignedAttributes ::= SET SIZE (1..MAX).
                    return Err(CmsError::Malformed {
                        context: "empty signedAttrs",
                    });
                }
                // RFC 5652 5.4: the signature covers the DER of signedAttrs with an EXPLICIT
                // SET OF tag, i.e. the original bytes with 0xA0 replaced by 0x31.
                let mut der = attrs.raw.to_vec();
                if let Some(first) = der.first_mut() {
                    *first = der_walk::SET;
                }
                (Some(der), attrs_list)
            }
        };
    let signature_algorithm = parse_algorithm(
        &der_walk::next(&mut f).map_err(malformed("signatureAlgorithm"))?,
        "signatureAlgorithm",
    )?;
    let signature = der_walk::expect(&mut f, der_walk::OCTET_STRING)
        .map_err(malformed("signature"))?
        .value
        .to_vec();
    let unsigned_attrs =
        match der_walk::optional(&mut f, 0xA1).map_err(malformed("unsignedAttrs"))? {
            None => Vec::new(),
            Some(attrs) => parse_attributes(attrs.value, "unsignedAttrs")?,
        };
    if !f.is_empty() {
        return Err(CmsError::Malformed {
            context: "extra fields in SignerInfo",
        });
    }
    Ok(SignerInfo {
        version,
        sid,
        digest_algorithm,
        signed_attrs_der,
        signed_attrs,
        signature_algorithm,
        signature,
        unsigned_attrs,
    })
}

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum SignedContent<'a> {
    /// Detached content in pieces, hashed in order without concatenation (e.g. the two ByteRange
    /// ranges of a PDF). If the SignedData encapsulates content (adbe.pkcs7.sha1), the signature
    /// covers the eContent, and the eContent must be the SHA-1 of these pieces.
    Pieces(&'a [&'a [u8]]),
    /// The digest of the content, computed by the caller with the SignerInfo's digest algorithm.
    Digest(&'a [u8]),
    /// The content is the SignedData's eContent (attached signatures, timestamp tokens).
    Encapsulated,
}

/// The messageDigest check (RFC 5652 5.4, 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestCheck {
    Ok,
    Mismatch,
    Missing,
    /// No signedAttrs: the signature covers the content directly.
    NotApplicable,
    /// Could not be computed (unknown algorithm, no content): see the problems.
    NotChecked,
}

/// The signature value check (RFC 5652 5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    Ok,
    Invalid,
    Unsupported,
    /// Not attempted: no signer certificate or the content could not be hashed.
    NotChecked,
}

/// The contentType attribute check (RFC 5652 11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentTypeCheck {
    Ok,
    Mismatch,
    Missing,
    NotApplicable,
}

/// The ESS signing-certificate(-v2) check (RFC 2634 5.4, RFC 5035 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EssCheck {
    V2Match,
    V1Match,
    Mismatch,
    Absent,
}

/// adbe-revocationInfoArchival (signed attribute 1.2.840.113583.1.1.8, ISO 32000-1 12.8.3.3.2).
#[derive(Default)]
pub struct RevocationArchival {
    pub crls: Vec<X509Crl>,
    /// DER OCSPResponse values.
    pub ocsp: Vec<Vec<u8>>,
}

impl fmt::Debug for RevocationArchival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationArchival")
            .field("crls", &self.crls.len())
            .field("ocsp", &self.ocsp.len())
            .finish()
    }
}

/// Everything checked about one SignerInfo. `problems` lists every failure as data.
pub struct CmsVerification {
    pub signer_index: usize,
    pub signer_cert: Option<X509>,
    /// Printable SignerIdentifier.
    pub signer_id: String,
    pub digest_algorithm: Option<DigestAlgorithm>,
    pub signature_algorithm: Option<SignatureAlgorithm>,
    pub key_info: Option<KeyInfo>,
    pub message_digest: DigestCheck,
    /// adbe.pkcs7.sha1 only: the encapsulated SHA-1 against the data.
    pub embedded_sha1: Option<DigestCheck>,
    pub signature_value: SignatureCheck,
    pub content_type: ContentTypeCheck,
    pub ess: EssCheck,
    /// CMSAlgorithmProtection (RFC 6211), if present: whether it names the SignerInfo's
    /// digest and signature algorithms.
    pub algorithm_protection: Option<bool>,
    /// The signingTime attribute, if present (PAdES forbids it: the caller warns).
    pub signing_time_attr: Option<OffsetDateTime>,
    /// The algorithm policy's verdict over the digest, signature algorithm and key.
    pub policy: Result<(), AlgorithmRejected>,
    /// The SignerInfo signature value (timestamp imprints, PAdES VRI key).
    pub signature_value_bytes: Vec<u8>,
    /// id-aa-signatureTimeStampToken values (RFC 3161 Appendix A), DER ContentInfo each.
    pub signature_timestamps: Vec<Vec<u8>>,
    /// id-aa-ets-contentTimestamp values (signed attribute, EN 319 122-1 5.2.8), DER ContentInfo
    /// each; the imprint is the hash of the signed content (the same pieces as messageDigest).
    pub content_timestamps: Vec<Vec<u8>>,
    pub revocation_archival: RevocationArchival,
    pub problems: Vec<CmsError>,
}

impl fmt::Debug for CmsVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmsVerification")
            .field("signer_index", &self.signer_index)
            .field("signer_cert", &self.signer_cert.is_some())
            .field("signer_id", &self.signer_id)
            .field("digest_algorithm", &self.digest_algorithm)
            .field("signature_algorithm", &self.signature_algorithm)
            .field("key_info", &self.key_info)
            .field("message_digest", &self.message_digest)
            .field("embedded_sha1", &self.embedded_sha1)
            .field("signature_value", &self.signature_value)
            .field("content_type", &self.content_type)
            .field("ess", &self.ess)
            .field("algorithm_protection", &self.algorithm_protection)
            .field("signing_time_attr", &self.signing_time_attr)
            .field("policy", &self.policy)
            .field("signature_timestamps", &self.signature_timestamps.len())
            .field("content_timestamps", &self.content_timestamps.len())
            .field("revocation_archival", &self.revocation_archival)
            .field("problems", &self.problems)
            .finish()
    }
}

impl CmsVerification {
    /// True when the signature is cryptographically intact, bound to its certificate and
    /// acceptable to the policy. ESS `Absent` is accepted here: PAdES / CAdES baseline callers
    /// must also require `ess != EssCheck::Absent` (EN 319 122-1 5.2.2.3).
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
            && self.signature_value == SignatureCheck::Ok
            && matches!(
                self.message_digest,
                DigestCheck::Ok | DigestCheck::NotApplicable
            )
            && self.embedded_sha1.is_none_or(|c| c == DigestCheck::Ok)
            && matches!(
                self.content_type,
                ContentTypeCheck::Ok | ContentTypeCheck::NotApplicable
            )
            && self.ess != EssCheck::Mismatch
            && self.algorithm_protection != Some(false)
            && self.policy.is_ok()
    }

    /// The sub-indication the worst problem leads to, or None when [`Self::is_valid`].
    /// Precedence (EN 319 102-1 5.2): a definite failure (FORMAT, HASH, SIG_CRYPTO) before an
    /// indeterminate one (NO_SIGNING_CERTIFICATE_FOUND, CRYPTO_CONSTRAINTS).
    pub fn sub_indication_hint(&self) -> Option<SubIndicationHint> {
        use SubIndicationHint::*;
        let hints: Vec<SubIndicationHint> = self
            .problems
            .iter()
            .map(CmsError::sub_indication_hint)
            .collect();
        [
            FormatFailure,
            HashFailure,
            SigCryptoFailure,
            NoSigningCertificateFound,
            CryptoConstraintsFailure,
        ]
        .into_iter()
        .find(|h| hints.contains(h))
        .or_else(|| (!self.is_valid()).then_some(FormatFailure))
    }
}

/// Verifies SignerInfo 0 against `content` (see [`verify_signer_with`]).
pub fn verify_signer(
    cms: &ParsedCms,
    content: SignedContent<'_>,
    policy: &AlgorithmPolicy,
) -> CmsVerification {
    verify_signer_with(cms, 0, content, policy, &[])
}

/// Verifies SignerInfo `index` of `cms` against `content` (RFC 5652 5.6), looking for the
/// signer's certificate in the SignedData and then in `extra_certs` (e.g. a PDF's /DSS).
/// Never fails as a whole: every failed check is a field and an entry in `problems`.
pub fn verify_signer_with(
    cms: &ParsedCms,
    index: usize,
    content: SignedContent<'_>,
    policy: &AlgorithmPolicy,
    extra_certs: &[X509],
) -> CmsVerification {
    let mut v = CmsVerification {
        signer_index: index,
        signer_cert: None,
        signer_id: String::new(),
        digest_algorithm: None,
        signature_algorithm: None,
        key_info: None,
        message_digest: DigestCheck::NotChecked,
        embedded_sha1: None,
        signature_value: SignatureCheck::NotChecked,
        content_type: ContentTypeCheck::NotApplicable,
        ess: EssCheck::Absent,
        algorithm_protection: None,
        signing_time_attr: None,
        policy: Ok(()),
        signature_value_bytes: Vec::new(),
        signature_timestamps: Vec::new(),
        content_timestamps: Vec::new(),
        revocation_archival: RevocationArchival::default(),
        problems: Vec::new(),
    };
    let Some(si) = cms.signer_infos.get(index) else {
        v.problems.push(CmsError::NoSignerInfo {
            index,
            count: cms.signer_infos.len(),
        });
        return v;
    };
    v.signer_id = si.sid.to_string();
    v.signature_value_bytes.clone_from(&si.signature);
    collect_timestamps(si, &mut v);

    // Signer certificate (RFC 5652 5.3 sid; EN 319 102-1 5.2.3).
    let found = find_signer_cert(&si.sid, cms, extra_certs);
    let signer_cert = found.map(|f| f.cert);
    if signer_cert.is_none() {
        v.problems.push(CmsError::SignerCertificateNotFound {
            signer_id: v.signer_id.clone(),
        });
    }
    v.signer_cert = signer_cert.map(X509Ref::to_owned);
    let public_key = signer_cert.and_then(|c| cached_public_key(c).ok());
    if signer_cert.is_some() && public_key.is_none() {
        v.problems.push(CmsError::Unsupported {
            detail: "the signer certificate's public key cannot be loaded",
        });
    }
    v.key_info = public_key.as_deref().map(KeyInfo::of);

    // Algorithms.
    let digest_alg = match DigestAlgorithm::from_oid(&si.digest_algorithm.oid) {
        Some(d) => d,
        None => {
            v.problems.push(
                AlgorithmError::UnknownDigestAlgorithm {
                    oid: si.digest_algorithm.oid,
                }
                .into(),
            );
            return v;
        }
    };
    v.digest_algorithm = Some(digest_alg);
    let sig_alg = match SignatureAlgorithm::from_cms(
        &si.signature_algorithm.oid,
        si.signature_algorithm.params.as_deref(),
        digest_alg,
    ) {
        Ok(a) => a,
        Err(e) => {
            v.problems.push(e.into());
            v.signature_value = SignatureCheck::Unsupported;
            return v;
        }
    };
    v.signature_algorithm = Some(sig_alg);
    let adbe_sha1 = matches!(content, SignedContent::Pieces(_)) && cms.econtent.is_some();
    v.policy = match &v.key_info {
        Some(key) => policy.check(digest_alg, &sig_alg, key),
        None => policy
            .check_digest(digest_alg, AlgorithmUse::ContentDigest)
            .and_then(|()| {
                sig_alg
                    .digests()
                    .try_for_each(|d| policy.check_digest(d, AlgorithmUse::SignatureDigest))
            }),
    }
    .and_then(|()| {
        if adbe_sha1 {
            policy.check_digest(DigestAlgorithm::Sha1, AlgorithmUse::ContentDigest)
        } else {
            Ok(())
        }
    });
    if let Err(e) = &v.policy {
        v.problems.push(CmsError::Rejected(e.clone()));
    }

    // The content that the SignerInfo covers, and adbe.pkcs7.sha1's extra indirection.
    let encapsulated_pieces: [&[u8]; 1];
    let covered: Covered<'_> = match content {
        SignedContent::Pieces(pieces) => match &cms.econtent {
            None => Covered::Pieces(pieces),
            Some(econtent) => {
                // adbe.pkcs7.sha1 (ISO 32000-1 12.8.3.3.1): eContent is SHA-1 of the data.
                let check = match digest_pieces(DigestAlgorithm::Sha1, pieces) {
                    Ok(d) if d.as_ref() == econtent.as_slice() => DigestCheck::Ok,
                    Ok(_) => {
                        v.problems.push(CmsError::EmbeddedDigestMismatch);
                        DigestCheck::Mismatch
                    }
                    Err(e) => {
                        v.problems.push(crypto(e));
                        DigestCheck::NotChecked
                    }
                };
                v.embedded_sha1 = Some(check);
                encapsulated_pieces = [econtent.as_slice()];
                Covered::Pieces(&encapsulated_pieces)
            }
        },
        SignedContent::Digest(d) => {
            if d.len() != digest_alg.output_len() {
                v.problems.push(CmsError::DigestLength {
                    algorithm: digest_alg,
                    expected: digest_alg.output_len(),
                    got: d.len(),
                });
                return v;
            }
            Covered::Digest(d)
        }
        SignedContent::Encapsulated => match &cms.econtent {
            Some(econtent) => {
                encapsulated_pieces = [econtent.as_slice()];
                Covered::Pieces(&encapsulated_pieces)
            }
            None => {
                v.problems.push(CmsError::NoContent);
                return v;
            }
        },
    };

    if let (Some(key), Some(info)) = (&public_key, &v.key_info) {
        if !sig_alg.key_kind_matches(info) {
            v.problems.push(CmsError::KeyMismatch {
                algorithm: sig_alg.name(),
                key: info.to_string(),
            });
            v.signature_value = SignatureCheck::Invalid;
        } else {
            match &si.signed_attrs_der {
                Some(attrs_der) => {
                    check_signed_attrs(cms, si, &covered, digest_alg, found, &mut v);
                    v.signature_value =
                        check_signature(key, &sig_alg, SignedBytes::Whole(attrs_der), si, &mut v);
                }
                None => {
                    v.message_digest = DigestCheck::NotApplicable;
                    v.content_type = ContentTypeCheck::NotApplicable;
                    let signed = match covered {
                        Covered::Pieces(p) => SignedBytes::Pieces(p),
                        Covered::Digest(d) => SignedBytes::Digest(d, digest_alg),
                    };
                    v.signature_value = check_signature(key, &sig_alg, signed, si, &mut v);
                }
            }
        }
    } else if si.signed_attrs_der.is_some() {
        // Still report the content checks when the certificate is missing.
        check_signed_attrs(cms, si, &covered, digest_alg, None, &mut v);
    }
    v
}

enum Covered<'a> {
    Pieces(&'a [&'a [u8]]),
    Digest(&'a [u8]),
}

enum SignedBytes<'a> {
    Whole(&'a [u8]),
    Pieces(&'a [&'a [u8]]),
    /// A digest computed with the given algorithm.
    Digest(&'a [u8], DigestAlgorithm),
}

fn digest_pieces(alg: DigestAlgorithm, pieces: &[&[u8]]) -> Result<DigestBytes, ErrorStack> {
    let mut h = Hasher::new(alg.message_digest())?;
    for p in pieces {
        h.update(p)?;
    }
    h.finish()
}

fn collect_timestamps(si: &SignerInfo, v: &mut CmsVerification) {
    for attr in &si.unsigned_attrs {
        if attr.oid == oids::SIGNATURE_TIME_STAMP_TOKEN {
            v.signature_timestamps.extend(attr.values.iter().cloned());
        }
    }
    for attr in &si.signed_attrs {
        if attr.oid == oids::CONTENT_TIME_STAMP {
            v.content_timestamps.extend(attr.values.iter().cloned());
        }
    }
}

/// contentType, messageDigest, signingTime, ESS, adbe-revocationInfoArchival (RFC 5652 11,
/// RFC 5035, ISO 32000-1 12.8.3.3.2).
fn check_signed_attrs(
    cms: &ParsedCms,
    si: &SignerInfo,
    covered: &Covered<'_>,
    digest_alg: DigestAlgorithm,
    signer: Option<FoundCert<'_>>,
    v: &mut CmsVerification,
) {
    // contentType (RFC 5652 11.1).
    v.content_type = match si.signed_attr(oids::CONTENT_TYPE) {
        Err(e) => {
            v.problems.push(e);
            ContentTypeCheck::Mismatch
        }
        Ok(None) => {
            v.problems.push(CmsError::ContentTypeMissing);
            ContentTypeCheck::Missing
        }
        Ok(Some(value)) => {
            let mut input = value;
            match der_walk::next(&mut input).and_then(|t| der_walk::oid(&t)) {
                Ok(oid) if oid == cms.econtent_type => ContentTypeCheck::Ok,
                Ok(oid) => {
                    v.problems.push(CmsError::ContentTypeMismatch {
                        attribute: oid,
                        econtent_type: cms.econtent_type,
                    });
                    ContentTypeCheck::Mismatch
                }
                Err(_) => {
                    v.problems.push(CmsError::BadAttribute {
                        oid: oids::CONTENT_TYPE,
                    });
                    ContentTypeCheck::Mismatch
                }
            }
        }
    };

    // messageDigest (RFC 5652 11.2).
    v.message_digest = match si.signed_attr(oids::MESSAGE_DIGEST) {
        Err(e) => {
            v.problems.push(e);
            DigestCheck::Missing
        }
        Ok(None) => {
            v.problems.push(CmsError::MessageDigestMissing);
            DigestCheck::Missing
        }
        Ok(Some(value)) => {
            let mut input = value;
            match der_walk::expect(&mut input, der_walk::OCTET_STRING) {
                Err(_) => {
                    v.problems.push(CmsError::BadAttribute {
                        oid: oids::MESSAGE_DIGEST,
                    });
                    DigestCheck::Missing
                }
                Ok(md) => {
                    let computed = match covered {
                        Covered::Digest(d) => Ok(d.to_vec()),
                        Covered::Pieces(p) => match super::digest_memo::lookup(p) {
                            Some(d) if digest_alg == DigestAlgorithm::Sha256 => Ok(d.to_vec()),
                            _ => digest_pieces(digest_alg, p).map(|d| d.to_vec()),
                        },
                    };
                    match computed {
                        Ok(d) if d.as_slice() == md.value => DigestCheck::Ok,
                        Ok(_) => {
                            v.problems.push(CmsError::MessageDigestMismatch);
                            DigestCheck::Mismatch
                        }
                        Err(e) => {
                            v.problems.push(crypto(e));
                            DigestCheck::NotChecked
                        }
                    }
                }
            }
        }
    };

    // signingTime (RFC 5652 11.3); PAdES forbids it, the caller decides.
    match si.signed_attr(oids::SIGNING_TIME) {
        Ok(Some(value)) => {
            let mut input = value;
            v.signing_time_attr = der_walk::next(&mut input)
                .ok()
                .and_then(|t| parse_time(t.tag, t.value));
            if v.signing_time_attr.is_none() {
                v.problems.push(CmsError::BadAttribute {
                    oid: oids::SIGNING_TIME,
                });
            }
        }
        Ok(None) => {}
        Err(e) => v.problems.push(e),
    }

    // ESS signing-certificate-v2 / signing-certificate (RFC 5035 3, RFC 2634 5.4).
    if let Some(signer) = signer {
        v.ess = check_ess(si, cms, signer, &mut v.problems);
        if v.ess == EssCheck::Mismatch {
            v.problems.push(CmsError::EssMismatch);
        }
    }

    // CMSAlgorithmProtection (RFC 6211 2).
    match si.signed_attr(oids::CMS_ALGORITHM_PROTECTION) {
        Ok(Some(value)) => {
            let ok = algorithm_protection_matches(value, si);
            v.algorithm_protection = Some(ok == Some(true));
            match ok {
                Some(true) => {}
                Some(false) => v.problems.push(CmsError::AlgorithmProtectionMismatch),
                None => v.problems.push(CmsError::BadAttribute {
                    oid: oids::CMS_ALGORITHM_PROTECTION,
                }),
            }
        }
        Ok(None) => {}
        Err(e) => v.problems.push(e),
    }

    // adbe-revocationInfoArchival.
    match si.signed_attr(oids::ADBE_REVOCATION_INFO_ARCHIVAL) {
        Ok(Some(value)) => match parse_revocation_archival(value) {
            Ok(r) => v.revocation_archival = r,
            Err(e) => v.problems.push(e),
        },
        Ok(None) => {}
        Err(e) => v.problems.push(e),
    }
}

/// CMSAlgorithmProtection ::= SEQUENCE { digestAlgorithm, signatureAlgorithm [1] IMPLICIT
/// OPTIONAL, macAlgorithm [2] IMPLICIT OPTIONAL } (RFC 6211 2). None if malformed.
fn algorithm_protection_matches(value: &[u8], si: &SignerInfo) -> Option<bool> {
    let same = |oid: der::asn1::ObjectIdentifier, params: Option<&[u8]>, alg: &RawAlgorithm| {
        oid == alg.oid && params == alg.params.as_deref()
    };
    let mut input = value;
    let seq = der_walk::expect(&mut input, der_walk::SEQUENCE).ok()?;
    let mut f = seq.value;
    let digest = der_walk::expect(&mut f, der_walk::SEQUENCE).ok()?;
    let (d_oid, d_params) = der_walk::algorithm_identifier(digest.raw).ok()?;
    let Some(sig) = der_walk::optional(&mut f, 0xA1).ok()? else {
        // Only a MAC algorithm: does not apply to SignedData (RFC 6211 2).
        return Some(false);
    };
    let (s_oid, s_params) = der_walk::algorithm_fields(sig.value).ok()?;
    Some(
        same(d_oid, d_params, &si.digest_algorithm)
            && same(s_oid, s_params, &si.signature_algorithm),
    )
}

/// RevocationInfoArchival ::= SEQUENCE { crl [0] EXPLICIT SEQUENCE OF CRLs OPTIONAL,
/// ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL, otherRevInfo [2] ... OPTIONAL }.
fn parse_revocation_archival(value: &[u8]) -> Result<RevocationArchival, CmsError> {
    let bad = || CmsError::BadAttribute {
        oid: oids::ADBE_REVOCATION_INFO_ARCHIVAL,
    };
    let mut input = value;
    let seq = der_walk::expect(&mut input, der_walk::SEQUENCE).map_err(|_| bad())?;
    let mut out = RevocationArchival::default();
    for field in der_walk::children(seq.value, 3).map_err(|_| bad())? {
        let mut inner = field.value;
        let list = der_walk::expect(&mut inner, der_walk::SEQUENCE).map_err(|_| bad())?;
        match field.tag {
            0xA0 => {
                let items =
                    der_walk::children(list.value, MAX_CRLS).map_err(|_| CmsError::TooMany {
                        what: "archived CRLs",
                        limit: MAX_CRLS,
                    })?;
                for (index, item) in items.iter().enumerate() {
                    out.crls
                        .push(X509Crl::from_der(item.raw).map_err(|_| CmsError::BadCrl { index })?);
                }
            }
            0xA1 => {
                let items =
                    der_walk::children(list.value, MAX_OCSP).map_err(|_| CmsError::TooMany {
                        what: "archived OCSP responses",
                        limit: MAX_OCSP,
                    })?;
                out.ocsp.extend(items.iter().map(|i| i.raw.to_vec()));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn check_ess(
    si: &SignerInfo,
    cms: &ParsedCms,
    signer: FoundCert<'_>,
    problems: &mut Vec<CmsError>,
) -> EssCheck {
    let mut result = EssCheck::Absent;
    for (oid, v2) in [
        (oids::SIGNING_CERTIFICATE_V2, true),
        (oids::SIGNING_CERTIFICATE, false),
    ] {
        match si.signed_attr(oid) {
            Ok(None) => {}
            Err(e) => {
                problems.push(e);
                return EssCheck::Mismatch;
            }
            Ok(Some(value)) => match ess_matches(value, cms, signer, v2) {
                Some(true) => {
                    if result == EssCheck::Absent {
                        result = if v2 {
                            EssCheck::V2Match
                        } else {
                            EssCheck::V1Match
                        };
                    }
                }
                Some(false) => return EssCheck::Mismatch,
                None => {
                    problems.push(CmsError::BadAttribute { oid });
                    return EssCheck::Mismatch;
                }
            },
        }
    }
    result
}

/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies OPTIONAL }
/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING,
/// issuerSerial IssuerSerial OPTIONAL }; v1 has no hashAlgorithm and uses SHA-1.
/// The first ESSCertID identifies the signing certificate (RFC 5035 5.4.1).
/// Returns None if malformed.
fn ess_matches(value: &[u8], cms: &ParsedCms, signer: FoundCert<'_>, v2: bool) -> Option<bool> {
    let cert = signer.cert;
    let mut input = value;
    let sc = der_walk::expect(&mut input, der_walk::SEQUENCE).ok()?;
    let mut fields = sc.value;
    let certs = der_walk::expect(&mut fields, der_walk::SEQUENCE).ok()?;
    let mut list = certs.value;
    let first = der_walk::expect(&mut list, der_walk::SEQUENCE).ok()?;
    let mut id = first.value;
    let mut hash_alg = DigestAlgorithm::Sha1;
    if v2 {
        hash_alg = DigestAlgorithm::Sha256;
        if id.first() == Some(&der_walk::SEQUENCE) {
            let alg = der_walk::next(&mut id).ok()?;
            let (oid, _) = der_walk::algorithm_identifier(alg.raw).ok()?;
            hash_alg = DigestAlgorithm::from_oid(&oid)?;
        }
    }
    let hash = der_walk::expect(&mut id, der_walk::OCTET_STRING).ok()?;
    // Hash the certificate's original DER when it came from the SignedData (no re-encoding).
    let raw = signer.index.and_then(|i| cms.cert_der.get(i));
    let precomputed = signer
        .index
        .filter(|_| hash_alg == DigestAlgorithm::Sha256)
        .and_then(|i| cms.cert_sha256.get(i));
    let matches = match (precomputed, raw) {
        (Some(h), _) => h.as_slice() == hash.value,
        (None, Some(der)) => digest_pieces(hash_alg, &[der]).ok()?.as_ref() == hash.value,
        (None, None) => cert.digest(hash_alg.message_digest()).ok()?.as_ref() == hash.value,
    };
    if !matches {
        return Some(false);
    }
    if let Some(issuer_serial) = der_walk::optional(&mut id, der_walk::SEQUENCE).ok()? {
        // IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }
        let mut f = issuer_serial.value;
        let names = der_walk::expect(&mut f, der_walk::SEQUENCE).ok()?;
        let serial = der_walk::expect(&mut f, der_walk::INTEGER).ok()?;
        if !serial_matches(cert, serial.value) {
            return Some(false);
        }
        let issuer_ok = der_walk::children(names.value, 16)
            .ok()?
            .iter()
            .filter(|gn| gn.tag == 0xA4) // directoryName [4] EXPLICIT Name
            .any(|gn| name_matches(cert.issuer_name(), gn.value, None));
        if !issuer_ok {
            return Some(false);
        }
    }
    Some(true)
}

/// Compares a certificate's serial number with the content octets of a DER INTEGER.
fn serial_matches(cert: &X509Ref, int_value: &[u8]) -> bool {
    let Ok(bn) = cert.serial_number().to_bn() else {
        return false;
    };
    let negative = int_value.first().is_some_and(|b| b & 0x80 != 0);
    if negative != bn.is_negative() {
        return false;
    }
    let magnitude: Vec<u8> = if negative {
        // Two's complement magnitude.
        let mut m: Vec<u8> = int_value.iter().map(|b| !b).collect();
        for byte in m.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        m
    } else {
        int_value.to_vec()
    };
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    magnitude.get(start..).is_some_and(|m| m == bn.to_vec())
}

/// Compares an X.509 Name with DER bytes: first byte-for-byte, then by OpenSSL's canonical
/// comparison (RFC 5280 7.1) for encodings that differ only in string types or case.
fn name_matches(name: &openssl::x509::X509NameRef, der: &[u8], parsed: Option<&X509Name>) -> bool {
    if name.to_der().is_ok_and(|d| d == der) {
        return true;
    }
    match parsed {
        Some(p) => name.try_cmp(p).is_ok_and(|o| o.is_eq()),
        None => X509Name::from_der(der)
            .ok()
            .is_some_and(|p| name.try_cmp(&p).is_ok_and(|o| o.is_eq())),
    }
}

/// The signer's certificate and, if it came from the SignedData, its index there.
#[derive(Clone, Copy)]
struct FoundCert<'a> {
    cert: &'a X509Ref,
    index: Option<usize>,
}

/// Finds the certificate a SignerIdentifier names (RFC 5652 5.3), in the SignedData first, then
/// in `extra`. Issuer names are compared byte for byte first, then canonically.
fn find_signer_cert<'a>(
    sid: &SignerId,
    cms: &'a ParsedCms,
    extra: &'a [X509],
) -> Option<FoundCert<'a>> {
    let all = || {
        cms.certificates
            .iter()
            .enumerate()
            .map(|(i, c)| FoundCert {
                cert: c,
                index: Some(i),
            })
            .chain(extra.iter().map(|c| FoundCert {
                cert: c,
                index: None,
            }))
    };
    match sid {
        SignerId::IssuerAndSerial { issuer_der, serial } => {
            let candidates = || all().filter(|f| serial_matches(f.cert, serial));
            candidates()
                .find(|f| {
                    f.cert
                        .issuer_name()
                        .to_der()
                        .is_ok_and(|d| d == *issuer_der)
                })
                .or_else(|| {
                    let parsed = X509Name::from_der(issuer_der).ok()?;
                    candidates()
                        .find(|f| name_matches(f.cert.issuer_name(), issuer_der, Some(&parsed)))
                })
        }
        SignerId::SubjectKeyId(ski) => all().find(|f| {
            f.cert
                .subject_key_id()
                .is_some_and(|k| k.as_slice() == ski.as_slice())
        }),
    }
}

/// Verifies the signature value (RFC 5652 5.6) and records problems.
fn check_signature(
    key: &PKeyRef<Public>,
    alg: &SignatureAlgorithm,
    signed: SignedBytes<'_>,
    si: &SignerInfo,
    v: &mut CmsVerification,
) -> SignatureCheck {
    match verify_value(key, alg, signed, &si.signature) {
        Ok(true) => SignatureCheck::Ok,
        Ok(false) => {
            v.problems.push(CmsError::SignatureInvalid);
            SignatureCheck::Invalid
        }
        Err(VerifyFailure::Unsupported(detail)) => {
            v.problems.push(CmsError::Unsupported { detail });
            SignatureCheck::Unsupported
        }
        Err(VerifyFailure::Crypto(e)) => {
            v.problems.push(crypto(e));
            SignatureCheck::NotChecked
        }
    }
}

enum VerifyFailure {
    Unsupported(&'static str),
    Crypto(ErrorStack),
}

impl From<ErrorStack> for VerifyFailure {
    fn from(e: ErrorStack) -> Self {
        Self::Crypto(e)
    }
}

/// Runs the signature algorithm. The data is hashed first and the digest verified through
/// `EVP_PKEY_verify`, so detached pieces are streamed and never concatenated.
fn verify_value(
    key: &PKeyRef<Public>,
    alg: &SignatureAlgorithm,
    signed: SignedBytes<'_>,
    signature: &[u8],
) -> Result<bool, VerifyFailure> {
    let Some(sig_digest) = alg.digest() else {
        // Ed25519 (RFC 8419): pure signature over the message itself.
        let message: Vec<u8>;
        let data: &[u8] = match signed {
            SignedBytes::Whole(d) => d,
            SignedBytes::Pieces(p) => {
                message = p.concat();
                &message
            }
            SignedBytes::Digest(..) => {
                return Err(VerifyFailure::Unsupported(
                    "Ed25519 without signed attributes needs the content, not its digest",
                ))
            }
        };
        let mut verifier = Verifier::new_without_digest(key)?;
        return Ok(verifier.verify_oneshot(signature, data).unwrap_or(false));
    };
    let digest =
        match signed {
            SignedBytes::Whole(d) => digest_pieces(sig_digest, &[d])?.to_vec(),
            SignedBytes::Pieces(p) => digest_pieces(sig_digest, p)?.to_vec(),
            SignedBytes::Digest(d, with) if with == sig_digest => d.to_vec(),
            SignedBytes::Digest(..) => return Err(VerifyFailure::Unsupported(
                "the signature digest differs from the digest algorithm of the precomputed digest",
            )),
        };
    let md = sig_digest.md().ok_or(VerifyFailure::Unsupported(
        "digest not available in OpenSSL",
    ))?;
    let mut ctx = PkeyCtx::new(key)?;
    ctx.verify_init()?;
    match alg {
        SignatureAlgorithm::RsaPkcs1v15 { .. } => {
            ctx.set_rsa_padding(Padding::PKCS1)?;
            ctx.set_signature_md(md)?;
        }
        SignatureAlgorithm::RsaPss { mgf1, salt_len, .. } => {
            let mgf1_md = mgf1
                .md()
                .ok_or(VerifyFailure::Unsupported("MGF1 digest not available"))?;
            let salt =
                i32::try_from(*salt_len).map_err(|_| VerifyFailure::Unsupported("salt length"))?;
            ctx.set_rsa_padding(Padding::PKCS1_PSS)?;
            ctx.set_signature_md(md)?;
            ctx.set_rsa_mgf1_md(mgf1_md)?;
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt))?;
        }
        SignatureAlgorithm::Ecdsa { .. } => {
            ctx.set_signature_md(md)?;
        }
        SignatureAlgorithm::Ed25519 => {}
    }
    // A malformed signature value (wrong length, bad ECDSA DER) is an invalid signature, not an
    // internal error.
    Ok(ctx.verify(&digest, signature).unwrap_or(false))
}

/// Parses UTCTime (YYMMDDHHMMSSZ, RFC 5280 4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z).
pub(crate) fn parse_time(tag: u8, value: &[u8]) -> Option<OffsetDateTime> {
    let s = std::str::from_utf8(value).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        der_walk::UTC_TIME => {
            let yy: i32 = digits(s.get(..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        der_walk::GENERALIZED_TIME => (digits(s.get(..4)?)?, s.get(4..)?),
        _ => return None,
    };
    let (main, frac) = match rest.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (rest, None),
    };
    if main.len() != 10 {
        return None;
    }
    let month: u8 = digits(main.get(0..2)?)?;
    let day: u8 = digits(main.get(2..4)?)?;
    let hour: u8 = digits(main.get(4..6)?)?;
    let minute: u8 = digits(main.get(6..8)?)?;
    let second: u8 = digits(main.get(8..10)?)?;
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && tag == der_walk::GENERALIZED_TIME => {
            let n: u32 = digits(f)?;
            n.checked_mul(10u32.checked_pow(9 - u32::try_from(f.len()).ok()?)?)?
        }
        Some(_) => return None,
    };
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let t = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The SHA-256 (or other) digest of pieces, for callers that precompute [`SignedContent::Digest`].
pub fn digest_content(alg: DigestAlgorithm, pieces: &[&[u8]]) -> Result<Vec<u8>, CmsError> {
    if alg == DigestAlgorithm::Sha256 {
        if let Some(d) = super::digest_memo::lookup(pieces) {
            return Ok(d.to_vec());
        }
    }
    digest_pieces(alg, pieces)
        .map(|d| d.to_vec())
        .map_err(crypto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_rejects_indefinite_and_truncated() {
        let mut indefinite: &[u8] = &[0x30, 0x80, 0x00, 0x00];
        assert!(der_walk::next(&mut indefinite).is_err());
        let mut truncated: &[u8] = &[0x30, 0x05, 0x02, 0x01];
        assert!(der_walk::next(&mut truncated).is_err());
        let mut ok: &[u8] = &[0x02, 0x01, 0x05, 0xFF];
        let t = der_walk::next(&mut ok).unwrap();
        assert_eq!((t.tag, t.value, ok), (0x02, &[5u8][..], &[0xFFu8][..]));
    }

    #[test]
    fn parse_time_forms() {
        let t = parse_time(der_walk::UTC_TIME, b"261122103005Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_795_343_405);
        let g = parse_time(der_walk::GENERALIZED_TIME, b"20261122103005.25Z").unwrap();
        assert_eq!(g.unix_timestamp(), 1_795_343_405);
        assert_eq!(g.millisecond(), 250);
        assert!(parse_time(der_walk::GENERALIZED_TIME, b"20261322103005Z").is_none());
        assert!(parse_time(der_walk::UTC_TIME, b"2611221030Z").is_none());
    }

    #[test]
    fn garbage_is_format_failure() {
        for input in [&b""[..], b"\x30", b"hello", &[0x30, 0x03, 0x06, 0x01, 0x00]] {
            let err = parse_signed_data(input).unwrap_err();
            assert_eq!(
                err.sub_indication_hint(),
                SubIndicationHint::FormatFailure,
                "{err}"
            );
        }
    }

    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn revocation_info_archival_crls_and_ocsp() {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509CrlBuilder, X509NameBuilder};

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Test CA").unwrap();
        let name = name.build();
        let mut b = X509CrlBuilder::new().unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_last_update(&Asn1Time::from_unix(1_700_000_000).unwrap())
            .unwrap();
        b.set_next_update(&Asn1Time::from_unix(1_800_000_000).unwrap())
            .unwrap();
        let aki = openssl::x509::X509Extension::new_from_der(
            &openssl::asn1::Asn1Object::from_str("2.5.29.35").unwrap(),
            false,
            &openssl::asn1::Asn1OctetString::new_from_bytes(&[0x30, 6, 0x80, 4, 1, 2, 3, 4])
                .unwrap(),
        )
        .unwrap();
        b.append_extension(aki).unwrap();
        let crl_number = openssl::x509::X509Extension::new_from_der(
            &openssl::asn1::Asn1Object::from_str("2.5.29.20").unwrap(),
            false,
            &openssl::asn1::Asn1OctetString::new_from_bytes(&[0x02, 1, 1]).unwrap(),
        )
        .unwrap();
        b.append_extension(crl_number).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let crl_der = b.build().unwrap().to_der().unwrap();
        // An OCSPResponse is kept as opaque DER: any SEQUENCE will do here.
        let ocsp = tlv(der_walk::SEQUENCE, &[0x0A, 0x01, 0x00]);
        let value = tlv(
            der_walk::SEQUENCE,
            &[
                tlv(0xA0, &tlv(der_walk::SEQUENCE, &crl_der)),
                tlv(0xA1, &tlv(der_walk::SEQUENCE, &ocsp)),
            ]
            .concat(),
        );
        let archival = parse_revocation_archival(&value).unwrap();
        assert_eq!(archival.crls.len(), 1);
        assert_eq!(archival.crls[0].to_der().unwrap(), crl_der);
        assert_eq!(archival.ocsp, vec![ocsp]);

        // A broken CRL is reported, not skipped.
        let broken = tlv(
            der_walk::SEQUENCE,
            &tlv(
                0xA0,
                &tlv(der_walk::SEQUENCE, &tlv(0x30, &[0x02, 0x01, 0x00])),
            ),
        );
        assert_eq!(
            parse_revocation_archival(&broken).unwrap_err(),
            CmsError::BadCrl { index: 0 }
        );
    }

    #[test]
    fn cms_algorithm_protection() {
        use crate::pki::algorithms::oids as alg;
        let si = |sig_oid| SignerInfo {
            version: 1,
            sid: SignerId::SubjectKeyId(vec![1]),
            digest_algorithm: RawAlgorithm {
                oid: alg::SHA256,
                params: None,
            },
            signed_attrs_der: None,
            signed_attrs: Vec::new(),
            signature_algorithm: RawAlgorithm {
                oid: sig_oid,
                params: None,
            },
            signature: Vec::new(),
            unsigned_attrs: Vec::new(),
        };
        let oid_tlv = |o: ObjectIdentifier| tlv(der_walk::OID, o.as_bytes());
        // digestAlgorithm sha256 (with NULL params), signatureAlgorithm [1] sha256WithRSA + NULL.
        let digest = tlv(
            der_walk::SEQUENCE,
            &[oid_tlv(alg::SHA256), vec![5, 0]].concat(),
        );
        let sig = tlv(0xA1, &[oid_tlv(alg::SHA256_WITH_RSA), vec![5, 0]].concat());
        let value = tlv(der_walk::SEQUENCE, &[digest, sig].concat());
        assert_eq!(
            algorithm_protection_matches(&value, &si(alg::SHA256_WITH_RSA)),
            Some(true)
        );
        // An attacker swapping the signature algorithm is caught.
        assert_eq!(
            algorithm_protection_matches(&value, &si(alg::SHA512_WITH_RSA)),
            Some(false)
        );
        assert_eq!(
            algorithm_protection_matches(&value[..5], &si(alg::SHA256_WITH_RSA)),
            None
        );
    }

    #[test]
    fn negative_serial_magnitude() {
        // -1 as DER INTEGER content is 0xFF; no certificate needed to test the sign handling path
        // beyond matching: build one with serial -1 is not possible with OpenSSL builders, so
        // check a positive serial with a leading zero instead.
        let mut b = openssl::x509::X509::builder().unwrap();
        let bn = openssl::bn::BigNum::from_u32(0x80).unwrap();
        b.set_serial_number(&bn.to_asn1_integer().unwrap()).unwrap();
        let cert = b.build();
        assert!(serial_matches(&cert, &[0x00, 0x80]));
        assert!(!serial_matches(&cert, &[0x80]));
    }
}
