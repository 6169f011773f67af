//! CMS SignedData for PAdES (ETSI EN 319 142-1, SubFilter ETSI.CAdES.detached) and CAdES
//! (ETSI EN 319 122-1) baseline B-B: detached, one SignerInfo, signed attributes contentType,
//! messageDigest and signingCertificateV2, built with RustCrypto's `cms`/`x509-cert` types and
//! signed through a [`SigningKey`]. Also adds the signature timestamp of B-T afterwards.
//!
//! Pure: the caller hashes the document (the PDF byte ranges) and supplies certificates and key;
//! nothing here reads the clock, files or the network. Every signature a key returns is checked
//! against the certificate before it is emitted, so a faulty key (or HSM) cannot produce a CMS
//! that fails verification.

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Sequence};
use openssl::x509::X509;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::Certificate;

use crate::pki::algorithms::oids as alg_oids;
use crate::pki::cms::oids;
pub use crate::sign::keys::DigestAlg;
use crate::sign::keys::{self, KeyError, SignatureScheme, SigningKey};

/// What to sign.
pub struct CmsRequest<'a> {
    /// The digest algorithm of `message_digest`; must be the key scheme's digest, because one
    /// SignerInfo digestAlgorithm covers the content and the signed attributes (RFC 5652 5.4).
    pub digest: DigestAlg,
    /// The digest of the signed data (the PDF byte ranges), computed by the caller.
    pub message_digest: Vec<u8>,
    pub signer_cert: &'a X509,
    /// Further certificates to include (intermediates, root); the signer's is always included.
    pub chain: &'a [X509],
    /// None for PAdES (the time goes in /M; EN 319 142-1 5.3 forbids signingTime); Some for
    /// generic CAdES.
    pub signing_time: Option<OffsetDateTime>,
    /// A content timestamp token (id-aa-ets-contentTimestamp, EN 319 122-1 5.2.8), DER
    /// ContentInfo, taken over the same data as `message_digest`.
    pub content_timestamp: Option<Vec<u8>>,
}

/// Why a SignedData could not be built or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsBuildError {
    /// messageDigest has the wrong length for the digest algorithm (RFC 5652 11.2).
    #[error("message digest has {got} bytes, {algorithm} needs {expected}")]
    DigestLength {
        algorithm: DigestAlg,
        expected: usize,
        got: usize,
    },
    /// The request's digest differs from the key's: one SignerInfo digestAlgorithm must cover
    /// the content and the signed attributes (RFC 5652 5.4).
    #[error("the content digest is {request} but the key signs with {key}")]
    DigestMismatch { request: DigestAlg, key: DigestAlg },
    /// The key does not belong to the signer certificate (RFC 5652 5.3 sid).
    #[error("the signing key does not match the signer certificate")]
    KeyCertificateMismatch,
    /// A certificate cannot be carried byte for byte (not DER, or not parseable by x509-cert).
    #[error("certificate {index} cannot be included: {detail}")]
    Certificate { index: usize, detail: String },
    /// The key failed to sign.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key returned a signature that does not verify with the certificate's public key.
    #[error("the key returned a signature that does not verify with the certificate")]
    SignatureSelfCheck,
    /// DER encoding failed (RFC 5652 structures).
    #[error("DER encoding failed: {detail}")]
    Encoding { detail: String },
    /// The given CMS is not a DER ContentInfo(SignedData) with exactly one SignerInfo.
    #[error("not a DER SignedData with one SignerInfo: {context}")]
    Malformed { context: &'static str },
    /// The timestamp token is not a DER ContentInfo(SignedData) (RFC 3161 2.4.2).
    #[error("the timestamp token is not a DER ContentInfo(SignedData): {context}")]
    BadToken { context: &'static str },
    /// An OpenSSL call failed.
    #[error("crypto library error: {detail}")]
    Crypto { detail: String },
}

fn enc(e: der::Error) -> CmsBuildError {
    CmsBuildError::Encoding {
        detail: e.to_string(),
    }
}

fn crypto(e: openssl::error::ErrorStack) -> CmsBuildError {
    CmsBuildError::Crypto {
        detail: e.to_string(),
    }
}

/// ESSCertIDv2 (RFC 5035 4): hashAlgorithm DEFAULT sha256 is omitted, as DER requires.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

/// IssuerSerial (RFC 5035 4): GeneralNames holding the issuer as a directoryName.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// SigningCertificateV2 (RFC 5035 3): the signer's certificate only, no policies.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// RSASSA-PSS-params (RFC 4055 3.1). trailerField is omitted: it is DEFAULT 1, which DER (and
/// RFC 4055 3.1, "MUST omit the trailerField field") requires for signature generation.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RsaPssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash_algorithm: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mask_gen_algorithm: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    salt_length: u32,
}

/// A digest AlgorithmIdentifier with absent parameters (RFC 5754 2: "MUST generate ... absent").
fn digest_algorithm_id(digest: DigestAlg) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: digest.oid(),
        parameters: None,
    }
}

/// The SignerInfo signatureAlgorithm for a scheme.
fn signature_algorithm_id(
    scheme: SignatureScheme,
) -> Result<AlgorithmIdentifierOwned, CmsBuildError> {
    let digest = scheme.digest();
    if scheme.is_pkcs1() {
        // RFC 3370 3.2: rsaEncryption with NULL parameters; the digest is the SignerInfo's.
        return Ok(AlgorithmIdentifierOwned {
            oid: alg_oids::RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        });
    }
    if scheme.is_pss() {
        // RFC 4055 2.1: inside RSASSA-PSS-params the hash identifiers carry NULL parameters
        // (sha256Identifier etc.), as OpenSSL writes them.
        let hash = AlgorithmIdentifierOwned {
            oid: digest.oid(),
            parameters: Some(Any::null()),
        };
        let mgf1 = AlgorithmIdentifierOwned {
            oid: alg_oids::MGF1,
            parameters: Some(Any::encode_from(&hash).map_err(enc)?),
        };
        let params = RsaPssParams {
            hash_algorithm: hash,
            mask_gen_algorithm: mgf1,
            // At most 64: the cast cannot truncate.
            salt_length: digest.output_len() as u32,
        };
        return Ok(AlgorithmIdentifierOwned {
            oid: alg_oids::RSASSA_PSS,
            parameters: Some(Any::encode_from(&params).map_err(enc)?),
        });
    }
    // RFC 5758 3.2: ecdsa-with-SHA* with absent parameters.
    let oid = match digest {
        DigestAlg::Sha256 => alg_oids::ECDSA_WITH_SHA256,
        DigestAlg::Sha384 => alg_oids::ECDSA_WITH_SHA384,
        DigestAlg::Sha512 => alg_oids::ECDSA_WITH_SHA512,
    };
    Ok(AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    })
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsBuildError> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(enc)?;
    Ok(Attribute { oid, values })
}

/// signingTime (RFC 5652 11.3): UTCTime through 2049, GeneralizedTime from 2050.
fn signing_time_value(t: OffsetDateTime) -> Result<Any, CmsBuildError> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| CmsBuildError::Encoding {
        detail: "signing time before 1970".to_owned(),
    })?;
    let d = std::time::Duration::from_secs(secs);
    let time = if t.year() < 2050 {
        Time::UtcTime(UtcTime::from_unix_duration(d).map_err(enc)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(d).map_err(enc)?)
    };
    Any::encode_from(&time).map_err(enc)
}

/// A certificate as x509-cert's type, refusing any that would not re-encode byte for byte (the
/// ESS hash and the issuer's signature cover the original bytes).
fn carry_certificate(cert: &X509, index: usize) -> Result<(Certificate, Vec<u8>), CmsBuildError> {
    let der = cert.to_der().map_err(crypto)?;
    let parsed = Certificate::from_der(&der).map_err(|e| CmsBuildError::Certificate {
        index,
        detail: e.to_string(),
    })?;
    if parsed.to_der().map_err(enc)? != der {
        return Err(CmsBuildError::Certificate {
            index,
            detail: "not DER: it would change when re-encoded".to_owned(),
        });
    }
    Ok((parsed, der))
}

/// Everything the SignedData builder needs; shared by [`build_signed_data`] and the test TSA.
pub(crate) struct Build<'a> {
    pub econtent_type: ObjectIdentifier,
    /// The encapsulated content (timestamp tokens), or None for a detached signature.
    pub econtent: Option<Vec<u8>>,
    pub digest: DigestAlg,
    pub message_digest: Vec<u8>,
    pub signer_cert: &'a X509,
    /// Certificates to include besides the signer's.
    pub chain: &'a [X509],
    /// Whether to include any certificates (RFC 3161 certReq).
    pub include_certificates: bool,
    pub signing_time: Option<OffsetDateTime>,
    /// Further signed attributes (already built).
    pub extra_signed_attrs: Vec<Attribute>,
}

pub(crate) fn build(b: Build<'_>, key: &dyn SigningKey) -> Result<Vec<u8>, CmsBuildError> {
    if b.message_digest.len() != b.digest.output_len() {
        return Err(CmsBuildError::DigestLength {
            algorithm: b.digest,
            expected: b.digest.output_len(),
            got: b.message_digest.len(),
        });
    }
    let scheme = key.scheme();
    if scheme.digest() != b.digest {
        return Err(CmsBuildError::DigestMismatch {
            request: b.digest,
            key: scheme.digest(),
        });
    }
    if !keys::certificate_matches(key, b.signer_cert) {
        return Err(CmsBuildError::KeyCertificateMismatch);
    }

    let (signer, signer_der) = carry_certificate(b.signer_cert, 0)?;

    // Signed attributes (RFC 5652 5.3, 11; EN 319 122-1 5.2).
    let mut attrs = vec![
        attribute(
            oids::CONTENT_TYPE,
            Any::encode_from(&b.econtent_type).map_err(enc)?,
        )?,
        attribute(
            oids::MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(b.message_digest.clone()).map_err(enc)?)
                .map_err(enc)?,
        )?,
    ];
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(DigestAlg::Sha256.digest(&[&signer_der])).map_err(enc)?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    signer.tbs_certificate.issuer.clone(),
                )],
                serial_number: signer.tbs_certificate.serial_number.clone(),
            }),
        }],
    };
    attrs.push(attribute(
        oids::SIGNING_CERTIFICATE_V2,
        Any::encode_from(&ess).map_err(enc)?,
    )?);
    if let Some(t) = b.signing_time {
        attrs.push(attribute(oids::SIGNING_TIME, signing_time_value(t)?)?);
    }
    attrs.extend(b.extra_signed_attrs);
    // SET OF in DER order (X.690 11.6); the signature covers exactly this encoding.
    let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(attrs).map_err(enc)?;
    let to_sign = signed_attrs.to_der().map_err(enc)?;

    let signature = key.sign(&to_sign)?;
    let (public, _) = keys::certificate_public_key(b.signer_cert).map_err(crypto)?;
    if !keys::verify_signature(scheme, &public, &to_sign, &signature) {
        return Err(CmsBuildError::SignatureSelfCheck);
    }

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer.tbs_certificate.issuer.clone(),
            serial_number: signer.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_algorithm_id(b.digest),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: signature_algorithm_id(scheme)?,
        signature: OctetString::new(signature).map_err(enc)?,
        unsigned_attrs: None,
    };

    let certificates = if b.include_certificates {
        let mut seen = vec![signer_der];
        let mut list = vec![CertificateChoices::Certificate(signer)];
        for (i, c) in b.chain.iter().enumerate() {
            let (parsed, der) = carry_certificate(c, i + 1)?;
            if !seen.contains(&der) {
                seen.push(der);
                list.push(CertificateChoices::Certificate(parsed));
            }
        }
        Some(CertificateSet::try_from(list).map_err(enc)?)
    } else {
        None
    };

    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms
        .insert(digest_algorithm_id(b.digest))
        .map_err(enc)?;
    let econtent = match b.econtent {
        None => None,
        Some(c) => Some(Any::encode_from(&OctetString::new(c).map_err(enc)?).map_err(enc)?),
    };
    let signed_data = SignedData {
        // RFC 5652 5.1: 1 for id-data with v1 SignerInfos and X.509 certificates only, else 3.
        version: if b.econtent_type == oids::ID_DATA {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        },
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: b.econtent_type,
            econtent,
        },
        certificates,
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(enc)?,
    };
    ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// Builds a detached DER ContentInfo(SignedData) (RFC 5652 5, EN 319 122-1 baseline B-B): version
/// 1, digestAlgorithms {digest}, no eContent, one SignerInfo identified by issuerAndSerialNumber,
/// signed attributes contentType (id-data), messageDigest, signingCertificateV2 (SHA-256
/// certHash, issuerSerial), plus signingTime and the content timestamp when asked.
pub fn build_signed_data(
    req: &CmsRequest<'_>,
    key: &dyn SigningKey,
) -> Result<Vec<u8>, CmsBuildError> {
    let mut extra = Vec::new();
    if let Some(token) = &req.content_timestamp {
        extra.push(attribute(oids::CONTENT_TIME_STAMP, token_value(token)?)?);
    }
    build(
        Build {
            econtent_type: oids::ID_DATA,
            econtent: None,
            digest: req.digest,
            message_digest: req.message_digest.clone(),
            signer_cert: req.signer_cert,
            chain: req.chain,
            include_certificates: true,
            signing_time: req.signing_time,
            extra_signed_attrs: extra,
        },
        key,
    )
}

/// A timestamp token as an attribute value: a DER ContentInfo(SignedData), kept byte for byte.
fn token_value(token: &[u8]) -> Result<Any, CmsBuildError> {
    let ci = ContentInfo::from_der(token).map_err(|_| CmsBuildError::BadToken {
        context: "not a DER ContentInfo",
    })?;
    if ci.content_type != oids::ID_SIGNED_DATA {
        return Err(CmsBuildError::BadToken {
            context: "content type is not SignedData",
        });
    }
    let value = Any::from_der(token).map_err(|_| CmsBuildError::BadToken {
        context: "not a DER ContentInfo",
    })?;
    if value.to_der().map_err(enc)? != token {
        return Err(CmsBuildError::BadToken { context: "not DER" });
    }
    Ok(value)
}

/// The DER TLV at the front of `input`; zero padding after it (a PDF /Contents) is ignored.
fn exact_der(input: &[u8]) -> Result<&[u8], CmsBuildError> {
    let mut rest = input;
    let tlv = crate::pki::cms::der_walk::next(&mut rest).map_err(|_| CmsBuildError::Malformed {
        context: "not a DER TLV",
    })?;
    if rest.iter().any(|b| *b != 0) {
        return Err(CmsBuildError::Malformed {
            context: "bytes after the ContentInfo",
        });
    }
    Ok(tlv.raw)
}

/// Parses a SignedData this module can edit without changing a signed byte: it must re-encode
/// to exactly the input.
fn parse_editable(signed_data_der: &[u8]) -> Result<SignedData, CmsBuildError> {
    let der = exact_der(signed_data_der)?;
    let ci = ContentInfo::from_der(der).map_err(|_| CmsBuildError::Malformed {
        context: "not a DER ContentInfo",
    })?;
    if ci.content_type != oids::ID_SIGNED_DATA {
        return Err(CmsBuildError::Malformed {
            context: "content type is not SignedData",
        });
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|_| CmsBuildError::Malformed {
            context: "SignedData does not parse",
        })?;
    let reencoded = ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)?;
    if reencoded != der {
        return Err(CmsBuildError::Malformed {
            context: "not DER: it would change when re-encoded",
        });
    }
    if sd.signer_infos.0.len() != 1 {
        return Err(CmsBuildError::Malformed {
            context: "not exactly one SignerInfo",
        });
    }
    Ok(sd)
}

/// Adds a signature timestamp token (id-aa-signatureTimeStampToken, RFC 3161 appendix A;
/// EN 319 122-1 5.3, baseline B-T) to the single SignerInfo's unsignedAttrs. The token must
/// cover [`signature_value`]; the caller (the TSA client) has verified that.
pub fn add_unsigned_timestamp(
    signed_data_der: &[u8],
    token: &[u8],
) -> Result<Vec<u8>, CmsBuildError> {
    let mut sd = parse_editable(signed_data_der)?;
    let value = token_value(token)?;
    let mut infos = sd.signer_infos.0.into_vec();
    let si = infos.first_mut().ok_or(CmsBuildError::Malformed {
        context: "not exactly one SignerInfo",
    })?;
    let mut unsigned: Vec<Attribute> = si
        .unsigned_attrs
        .take()
        .map(SetOfVec::into_vec)
        .unwrap_or_default();
    match unsigned
        .iter_mut()
        .find(|a| a.oid == oids::SIGNATURE_TIME_STAMP_TOKEN)
    {
        Some(existing) => existing.values.insert(value).map_err(enc)?,
        None => unsigned.push(attribute(oids::SIGNATURE_TIME_STAMP_TOKEN, value)?),
    }
    si.unsigned_attrs = Some(SetOfVec::try_from(unsigned).map_err(enc)?);
    sd.signer_infos = SignerInfos::try_from(infos).map_err(enc)?;
    ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// The single SignerInfo's signature value (the OCTET STRING content): what a signature
/// timestamp's messageImprint covers (RFC 3161 appendix A).
pub fn signature_value(signed_data_der: &[u8]) -> Result<Vec<u8>, CmsBuildError> {
    let sd = parse_editable(signed_data_der)?;
    sd.signer_infos
        .0
        .get(0)
        .map(|si| si.signature.as_bytes().to_vec())
        .ok_or(CmsBuildError::Malformed {
            context: "not exactly one SignerInfo",
        })
}

/// Generous room for the CMS in a PDF signature placeholder, in bytes of DER (the /Contents hex
/// string takes twice as many): `chain_der_len` is the total DER length of the certificates
/// included (signer and chain), `key_bits` the key size (RSA modulus or EC field bits).
pub fn estimate_size(chain_der_len: usize, key_bits: usize, with_timestamp: bool) -> usize {
    // SignedData skeleton, signed attributes (ESS issuer name included) and algorithm ids.
    const STRUCTURE: usize = 2048;
    // A signature token: TSTInfo, its signed attributes, the TSA's signature and a TSA chain of
    // up to three RSA-4096 certificates with long names and policies.
    const TIMESTAMP: usize = 16 * 1024;
    // RSA: the modulus length; ECDSA: r and s with DER overhead.
    let signature = key_bits.div_ceil(8).saturating_mul(2).saturating_add(16);
    let total = STRUCTURE
        .saturating_add(chain_der_len)
        .saturating_add(signature)
        .saturating_add(if with_timestamp { TIMESTAMP } else { 0 });
    // A quarter more, rounded up to a KiB.
    total
        .saturating_add(total / 4)
        .div_ceil(1024)
        .saturating_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::algorithms::{AlgorithmPolicy, SignatureAlgorithm};
    use crate::pki::cms::{parse_signed_data, verify_signer, EssCheck, SignedContent};
    use crate::sign::keys::FileKey;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn self_signed(key: &PKey<Private>) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Người ký thử").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(0x8001).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(2_000_000_000).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn builds_what_the_verifier_accepts_and_edits_it() {
        let pkey = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let cert = self_signed(&pkey);
        let key = FileKey::from_pkey(pkey, None).unwrap();
        let data = b"n\xe1\xbb\x99i dung";
        let req = CmsRequest {
            digest: DigestAlg::Sha256,
            message_digest: DigestAlg::Sha256.digest(&[data]),
            signer_cert: &cert,
            chain: std::slice::from_ref(&cert),
            signing_time: None,
            content_timestamp: None,
        };
        let der = build_signed_data(&req, &key).unwrap();
        let parsed = parse_signed_data(&der).unwrap();
        assert_eq!(parsed.certificates.len(), 1, "duplicates are dropped");
        let v = verify_signer(
            &parsed,
            SignedContent::Pieces(&[data]),
            &AlgorithmPolicy::default(),
        );
        assert!(v.is_valid(), "{v:?}");
        assert_eq!(v.ess, EssCheck::V2Match);
        assert!(matches!(
            v.signature_algorithm,
            Some(SignatureAlgorithm::RsaPss { salt_len: 32, .. })
        ));
        assert!(v.signing_time_attr.is_none());
        // Zero padding (a PDF /Contents) is tolerated by the editors.
        let mut padded = der.clone();
        padded.extend([0u8; 100]);
        let sig = signature_value(&padded).unwrap();
        assert_eq!(sig, v.signature_value_bytes);

        // Not a token: refused. A SignedData as a stand-in token: carried byte for byte.
        assert!(matches!(
            add_unsigned_timestamp(&der, b"\x30\x00"),
            Err(CmsBuildError::BadToken { .. })
        ));
        let with = add_unsigned_timestamp(&padded, &der).unwrap();
        let parsed = parse_signed_data(&with).unwrap();
        let v = verify_signer(
            &parsed,
            SignedContent::Pieces(&[data]),
            &AlgorithmPolicy::default(),
        );
        assert!(v.is_valid(), "{v:?}");
        assert_eq!(v.signature_timestamps, vec![der.clone()]);
        assert_eq!(signature_value(&with).unwrap(), sig);
        // The same token twice is a duplicate SET OF value.
        assert!(add_unsigned_timestamp(&with, &der).is_err());

        // Wrong digest length, wrong digest algorithm, wrong certificate.
        let bad = CmsRequest {
            message_digest: vec![0; 31],
            ..req
        };
        assert!(matches!(
            build_signed_data(&bad, &key),
            Err(CmsBuildError::DigestLength { .. })
        ));
        let bad = CmsRequest {
            digest: DigestAlg::Sha384,
            message_digest: vec![0; 48],
            ..bad
        };
        assert!(matches!(
            build_signed_data(&bad, &key),
            Err(CmsBuildError::DigestMismatch { .. })
        ));
        let other = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let other_cert = self_signed(&other);
        let bad = CmsRequest {
            digest: DigestAlg::Sha256,
            message_digest: vec![0; 32],
            signer_cert: &other_cert,
            ..bad
        };
        assert_eq!(
            build_signed_data(&bad, &key).unwrap_err(),
            CmsBuildError::KeyCertificateMismatch
        );
    }

    #[test]
    fn signing_time_when_asked() {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let pkey = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let cert = self_signed(&pkey);
        let key = FileKey::from_pkey(pkey, None).unwrap();
        let t = time::macros::datetime!(2026-11-22 10:30:05 UTC);
        let req = CmsRequest {
            digest: DigestAlg::Sha256,
            message_digest: DigestAlg::Sha256.digest(&[b"x"]),
            signer_cert: &cert,
            chain: &[],
            signing_time: Some(t),
            content_timestamp: None,
        };
        let der = build_signed_data(&req, &key).unwrap();
        let parsed = parse_signed_data(&der).unwrap();
        let v = verify_signer(
            &parsed,
            SignedContent::Digest(&req.message_digest),
            &AlgorithmPolicy::default(),
        );
        assert!(v.is_valid(), "{v:?}");
        assert_eq!(v.signing_time_attr, Some(t));
    }

    #[test]
    fn estimate_is_generous() {
        assert!(estimate_size(5000, 2048, false) >= 2048 + 5000 + 256);
        assert!(estimate_size(5000, 2048, true) >= estimate_size(5000, 2048, false) + 16 * 1024);
        assert_eq!(estimate_size(0, 256, false) % 1024, 0);
    }
}
