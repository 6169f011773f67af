//! RFC 3161 timestamp tokens: signature timestamps (over a SignerInfo's signature value) and
//! document timestamps (ETSI.RFC3161, over a PDF's ByteRange).
//!
//! A token is a CMS SignedData whose eContent is a TSTInfo (RFC 3161 2.4.2). This module parses
//! the TSTInfo, checks that its messageImprint is the hash of the imprinted data, verifies the
//! token's CMS signature with `pki::cms`, and checks the TSA certificate's extended key usage
//! (RFC 3161 2.3). It never validates the TSA's certificate path or revocation (the caller does
//! that with `pki::path` at the appropriate time), and never reads the clock.

use der::asn1::ObjectIdentifier;
use openssl::x509::{X509Ref, X509};
use time::OffsetDateTime;

use crate::pki::algorithms::{AlgorithmPolicy, AlgorithmRejected, AlgorithmUse, DigestAlgorithm};
use crate::pki::cms::{
    self, der_walk, parse_signed_data, verify_signer, CmsError, CmsVerification, SignedContent,
    SubIndicationHint,
};
use crate::pki::identity;

/// id-kp-timeStamping (RFC 3161 2.3).
pub const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// Why a timestamp token could not be examined at all. Failed checks of a readable token are
/// fields of [`TimestampVerification`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TspError {
    /// The token is not a CMS SignedData (RFC 3161 2.4.2): FORMAT_FAILURE.
    #[error("timestamp token: {0}")]
    Cms(#[from] CmsError),
    /// eContentType is not id-ct-TSTInfo (RFC 3161 2.4.2): FORMAT_FAILURE.
    #[error("timestamp token content type {econtent_type} is not id-ct-TSTInfo")]
    NotTstInfo { econtent_type: ObjectIdentifier },
    /// The token has no encapsulated TSTInfo (RFC 3161 2.4.2): FORMAT_FAILURE.
    #[error("timestamp token has no encapsulated TSTInfo")]
    NoTstInfo,
    /// The token must have exactly one SignerInfo, the TSA's (RFC 3161 2.4.2): FORMAT_FAILURE.
    #[error("timestamp token has {count} SignerInfos, expected 1")]
    SignerCount { count: usize },
    /// TSTInfo does not parse (RFC 3161 2.4.2): FORMAT_FAILURE.
    #[error("malformed TSTInfo: {context}")]
    MalformedTstInfo { context: &'static str },
    /// The imprint's hash algorithm is unknown (RFC 3161 2.4.2): CRYPTO_CONSTRAINTS_FAILURE.
    #[error("unknown messageImprint hash algorithm {oid}")]
    UnknownImprintAlgorithm { oid: ObjectIdentifier },
}

impl TspError {
    /// The ETSI EN 319 102-1 sub-indication this leads to.
    pub fn sub_indication_hint(&self) -> SubIndicationHint {
        match self {
            Self::Cms(e) => e.sub_indication_hint(),
            Self::UnknownImprintAlgorithm { .. } => SubIndicationHint::CryptoConstraintsFailure,
            _ => SubIndicationHint::FormatFailure,
        }
    }
}

/// The TSA certificate's extended key usage (RFC 3161 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsaEkuCheck {
    /// id-kp-timeStamping is the only EKU and the extension is critical.
    Ok,
    /// id-kp-timeStamping is the only EKU but the extension is not critical (a warning).
    NotCritical,
    /// The EKU extension lists other purposes too.
    NotOnlyTimeStamping,
    /// No EKU extension, or it lacks id-kp-timeStamping.
    Missing,
    /// No TSA certificate was found.
    NoCertificate,
}

/// The TSTInfo (RFC 3161 2.4.2) and every check on the token.
pub struct TimestampVerification {
    pub gen_time: OffsetDateTime,
    /// serialNumber, INTEGER content octets.
    pub serial: Vec<u8>,
    pub policy_oid: ObjectIdentifier,
    /// The tsa field, formatted when it is a directoryName.
    pub tsa_name: Option<String>,
    pub nonce: Option<Vec<u8>>,
    /// Accuracy in microseconds, if given.
    pub accuracy_micros: Option<u64>,
    pub imprint_algorithm: DigestAlgorithm,
    /// Whether messageImprint.hashedMessage equals the hash of the imprinted data.
    pub imprint_ok: bool,
    /// The policy's verdict on the imprint hash algorithm.
    pub imprint_policy: Result<(), AlgorithmRejected>,
    pub tsa_eku: TsaEkuCheck,
    /// The TSA's certificate (the token's signer).
    pub tsa_cert: Option<X509>,
    /// All certificates in the token.
    pub certificates: Vec<X509>,
    /// The token's CMS signature check.
    pub cms: CmsVerification,
}

impl std::fmt::Debug for TimestampVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampVerification")
            .field("gen_time", &self.gen_time)
            .field("serial", &hex::encode(&self.serial))
            .field("policy_oid", &self.policy_oid)
            .field("tsa_name", &self.tsa_name)
            .field("imprint_algorithm", &self.imprint_algorithm)
            .field("imprint_ok", &self.imprint_ok)
            .field("imprint_policy", &self.imprint_policy)
            .field("tsa_eku", &self.tsa_eku)
            .field("certificates", &self.certificates.len())
            .field("cms", &self.cms)
            .finish()
    }
}

impl TimestampVerification {
    /// The token is intact, covers the data, and its algorithms and EKU are acceptable.
    /// A non-critical EKU is accepted here (report it as a warning). The TSA path is not checked.
    pub fn is_valid(&self) -> bool {
        self.imprint_ok
            && self.imprint_policy.is_ok()
            && self.cms.is_valid()
            && matches!(self.tsa_eku, TsaEkuCheck::Ok | TsaEkuCheck::NotCritical)
    }

    /// The sub-indication for an invalid token (EN 319 102-1 5.4), or None when valid.
    pub fn sub_indication_hint(&self) -> Option<SubIndicationHint> {
        if let Some(h) = self.cms.sub_indication_hint() {
            return Some(h);
        }
        if !self.imprint_ok {
            return Some(SubIndicationHint::HashFailure);
        }
        if self.imprint_policy.is_err() {
            return Some(SubIndicationHint::CryptoConstraintsFailure);
        }
        if !matches!(self.tsa_eku, TsaEkuCheck::Ok | TsaEkuCheck::NotCritical) {
            // EN 319 102-1 5.2.6: a TSA certificate not fit for timestamping.
            return Some(SubIndicationHint::NoSigningCertificateFound);
        }
        None
    }
}

struct TstInfo {
    policy: ObjectIdentifier,
    imprint_oid: ObjectIdentifier,
    imprint: Vec<u8>,
    serial: Vec<u8>,
    gen_time: OffsetDateTime,
    accuracy_micros: Option<u64>,
    nonce: Option<Vec<u8>>,
    tsa_name: Option<String>,
}

fn bad(context: &'static str) -> impl Fn(der_walk::WalkError) -> TspError {
    move |_| TspError::MalformedTstInfo { context }
}

/// TSTInfo (RFC 3161 2.4.2). Read with the DER walker rather than `x509_tsp::TstInfo` because
/// `der` 0.7's GeneralizedTime rejects the fractional seconds TSAs commonly send.
fn parse_tst_info(der: &[u8]) -> Result<TstInfo, TspError> {
    let mut input = der;
    let seq = der_walk::expect(&mut input, der_walk::SEQUENCE).map_err(bad("not a SEQUENCE"))?;
    if !input.is_empty() {
        return Err(TspError::MalformedTstInfo {
            context: "trailing bytes",
        });
    }
    let mut f = seq.value;
    let version = der_walk::expect(&mut f, der_walk::INTEGER).map_err(bad("version"))?;
    if version.value != [1] {
        return Err(TspError::MalformedTstInfo { context: "version" });
    }
    let policy = der_walk::next(&mut f)
        .and_then(|t| der_walk::oid(&t))
        .map_err(bad("policy"))?;
    let mi = der_walk::expect(&mut f, der_walk::SEQUENCE).map_err(bad("messageImprint"))?;
    let mut mi_fields = mi.value;
    let alg = der_walk::next(&mut mi_fields).map_err(bad("messageImprint"))?;
    let (imprint_oid, _) =
        der_walk::algorithm_identifier(alg.raw).map_err(bad("messageImprint hashAlgorithm"))?;
    let hashed = der_walk::expect(&mut mi_fields, der_walk::OCTET_STRING)
        .map_err(bad("messageImprint hashedMessage"))?;
    if !mi_fields.is_empty() {
        return Err(TspError::MalformedTstInfo {
            context: "messageImprint",
        });
    }
    let serial = der_walk::expect(&mut f, der_walk::INTEGER).map_err(bad("serialNumber"))?;
    let gen_time = der_walk::expect(&mut f, der_walk::GENERALIZED_TIME).map_err(bad("genTime"))?;
    let gen_time = cms::parse_time(der_walk::GENERALIZED_TIME, gen_time.value)
        .ok_or(TspError::MalformedTstInfo { context: "genTime" })?;
    let accuracy_micros =
        match der_walk::optional(&mut f, der_walk::SEQUENCE).map_err(bad("accuracy"))? {
            None => None,
            Some(acc) => Some(parse_accuracy(acc.value)?),
        };
    // ordering BOOLEAN DEFAULT FALSE
    der_walk::optional(&mut f, 0x01).map_err(bad("ordering"))?;
    let nonce = der_walk::optional(&mut f, der_walk::INTEGER)
        .map_err(bad("nonce"))?
        .map(|n| n.value.to_vec());
    let tsa_name = match der_walk::optional(&mut f, 0xA0).map_err(bad("tsa"))? {
        None => None,
        Some(tsa) => {
            let mut g = tsa.value;
            let gn = der_walk::next(&mut g).map_err(bad("tsa"))?;
            match gn.tag {
                // directoryName [4] EXPLICIT Name
                0xA4 => identity::format_dn_der(gn.value).ok(),
                // rfc822Name, dNSName, URI: IA5String
                0x81 | 0x82 | 0x86 => std::str::from_utf8(gn.value).ok().map(str::to_owned),
                _ => None,
            }
        }
    };
    // extensions [1] IMPLICIT: not interpreted.
    der_walk::optional(&mut f, 0xA1).map_err(bad("extensions"))?;
    if !f.is_empty() {
        return Err(TspError::MalformedTstInfo {
            context: "unexpected fields",
        });
    }
    Ok(TstInfo {
        policy,
        imprint_oid,
        imprint: hashed.value.to_vec(),
        serial: serial.value.to_vec(),
        gen_time,
        accuracy_micros,
        nonce,
        tsa_name,
    })
}

/// Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] 1..999 OPTIONAL,
/// micros [1] 1..999 OPTIONAL }.
fn parse_accuracy(mut f: &[u8]) -> Result<u64, TspError> {
    let mut micros: u64 = 0;
    while !f.is_empty() {
        let t = der_walk::next(&mut f).map_err(bad("accuracy"))?;
        let n = u64::from(
            der_walk::small_uint(t.value).ok_or(TspError::MalformedTstInfo {
                context: "accuracy",
            })?,
        );
        micros = micros.saturating_add(match t.tag {
            der_walk::INTEGER => n.saturating_mul(1_000_000),
            0x80 => n.saturating_mul(1_000),
            0x81 => n,
            _ => {
                return Err(TspError::MalformedTstInfo {
                    context: "accuracy",
                })
            }
        });
    }
    Ok(micros)
}

/// Verifies a timestamp token over `imprinted` (for a signature timestamp: the SignerInfo's
/// signature value; for a document timestamp: the ByteRange pieces).
pub fn verify_timestamp_token(
    token_der: &[u8],
    imprinted: &[&[u8]],
    policy: &AlgorithmPolicy,
) -> Result<TimestampVerification, TspError> {
    let token = parse_signed_data(token_der)?;
    if token.econtent_type != cms::oids::ID_CT_TST_INFO {
        return Err(TspError::NotTstInfo {
            econtent_type: token.econtent_type,
        });
    }
    if token.signer_infos.len() != 1 {
        return Err(TspError::SignerCount {
            count: token.signer_infos.len(),
        });
    }
    let tst = parse_tst_info(token.econtent.as_deref().ok_or(TspError::NoTstInfo)?)?;
    let imprint_algorithm =
        DigestAlgorithm::from_oid(&tst.imprint_oid).ok_or(TspError::UnknownImprintAlgorithm {
            oid: tst.imprint_oid,
        })?;
    let imprint_policy = policy.check_digest(imprint_algorithm, AlgorithmUse::ContentDigest);
    let imprint_ok = cms::digest_content(imprint_algorithm, imprinted)
        .map(|d| d == tst.imprint)
        .unwrap_or(false);

    let verification = verify_signer(&token, SignedContent::Encapsulated, policy);
    let tsa_cert = verification.signer_cert.clone();
    let tsa_eku = match &tsa_cert {
        None => TsaEkuCheck::NoCertificate,
        Some(c) => tsa_eku(c),
    };
    Ok(TimestampVerification {
        gen_time: tst.gen_time,
        serial: tst.serial,
        policy_oid: tst.policy,
        tsa_name: tst.tsa_name,
        nonce: tst.nonce,
        accuracy_micros: tst.accuracy_micros,
        imprint_algorithm,
        imprint_ok,
        imprint_policy,
        tsa_eku,
        tsa_cert,
        certificates: token.certificates,
        cms: verification,
    })
}

/// RFC 3161 2.3: the TSA certificate MUST have exactly one EKU, id-kp-timeStamping, critical.
pub fn tsa_eku(cert: &X509Ref) -> TsaEkuCheck {
    let Ok(der) = cert.to_der() else {
        return TsaEkuCheck::Missing;
    };
    match extended_key_usage(&der) {
        Some((critical, purposes)) => {
            if !purposes.contains(&ID_KP_TIME_STAMPING) {
                TsaEkuCheck::Missing
            } else if purposes.len() != 1 {
                TsaEkuCheck::NotOnlyTimeStamping
            } else if !critical {
                TsaEkuCheck::NotCritical
            } else {
                TsaEkuCheck::Ok
            }
        }
        None => TsaEkuCheck::Missing,
    }
}

/// The EKU extension of a DER certificate: (critical, purposes). None if absent or unreadable.
fn extended_key_usage(cert_der: &[u8]) -> Option<(bool, Vec<ObjectIdentifier>)> {
    let mut input = cert_der;
    let cert = der_walk::expect(&mut input, der_walk::SEQUENCE).ok()?;
    let mut c = cert.value;
    let tbs = der_walk::expect(&mut c, der_walk::SEQUENCE).ok()?;
    let mut f = tbs.value;
    // Skip to extensions [3] EXPLICIT (RFC 5280 4.1).
    let extensions = loop {
        let t = der_walk::next(&mut f).ok()?;
        if t.tag == 0xA3 {
            break t;
        }
    };
    let mut e = extensions.value;
    let list = der_walk::expect(&mut e, der_walk::SEQUENCE).ok()?;
    for ext in der_walk::children(list.value, 256).ok()? {
        let mut ef = ext.value;
        let oid = der_walk::next(&mut ef)
            .and_then(|t| der_walk::oid(&t))
            .ok()?;
        if oid != EXTENDED_KEY_USAGE {
            continue;
        }
        let critical = match der_walk::optional(&mut ef, 0x01).ok()? {
            Some(b) => b.value == [0xFF],
            None => false,
        };
        let value = der_walk::expect(&mut ef, der_walk::OCTET_STRING).ok()?;
        let mut v = value.value;
        let seq = der_walk::expect(&mut v, der_walk::SEQUENCE).ok()?;
        let purposes = der_walk::children(seq.value, 64)
            .ok()?
            .iter()
            .map(der_walk::oid)
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        return Some((critical, purposes));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TSTInfo from x509-tsp's test vector: policy 1.2.3.4.1, SHA-256 imprint of "abc", serial 4,
    /// genTime 20230607112626Z, accuracy 1 s 500 ms 100 us, ordering true, a nonce, tsa name.
    const TST_INFO: &str = "3081b302010106042a0304013031300d060960864801650304020105000420ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad020104180f32303233303630373131323632365a300a020101800201f48101640101ff0208314cfce4e0651827a048a4463044310b30090603550406130255533113301106035504080c0a536f6d652d5374617465310d300b060355040a0c04546573743111300f06035504030c085465737420545341";

    #[test]
    fn parses_tst_info_vector() {
        let bytes = hex::decode(TST_INFO).unwrap();
        let tst = parse_tst_info(&bytes).unwrap();
        assert_eq!(tst.policy.to_string(), "1.2.3.4.1");
        assert_eq!(tst.imprint_oid, DigestAlgorithm::Sha256.oid());
        assert_eq!(tst.serial, vec![4]);
        assert_eq!(tst.gen_time.unix_timestamp(), 1_686_137_186);
        assert_eq!(tst.accuracy_micros, Some(1_500_100));
        assert_eq!(
            tst.nonce.as_deref(),
            Some(&hex::decode("314cfce4e0651827").unwrap()[..])
        );
        assert_eq!(
            tst.tsa_name.as_deref(),
            Some("C=US, ST=Some-State, O=Test, CN=Test TSA")
        );
        // Truncated and padded forms fail cleanly.
        assert!(parse_tst_info(&bytes[..bytes.len() - 1]).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(parse_tst_info(&padded).is_err());
    }

    #[test]
    fn accuracy_sums_units() {
        // seconds 1, millis 500, micros 100
        let acc = [0x02, 0x01, 0x01, 0x80, 0x02, 0x01, 0xF4, 0x81, 0x01, 0x64];
        assert_eq!(parse_accuracy(&acc).unwrap(), 1_500_100);
    }
}
