//! Digest and signature algorithms, public key descriptions, and the algorithm policy.
//!
//! This module maps algorithm identifiers (OIDs and their parameters) to the algorithms OpenSSL runs,
//! and decides whether an algorithm is acceptable. The default policy is the one of Circular
//! 15/2025/TT-BKHCN: SHA-1 is not permitted, RSA keys have at least 2048 bits, EC keys at least 256.
//! Weakening it takes the loudly named [`AlgorithmPolicy::dangerous_accept_legacy`].
//!
//! It never verifies anything itself and never reads the clock, files or the network.

use std::fmt;

use der::asn1::ObjectIdentifier;
use openssl::hash::MessageDigest;
use openssl::md::{Md, MdRef};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKeyRef, Public};

use crate::pki::cms::der_walk;

/// OpenSSL's NID_sha512_224 and NID_sha512_256 (obj_mac.h), which the `openssl` crate lacks.
const NID_SHA512_224: Nid = Nid::from_raw(1094);
const NID_SHA512_256: Nid = Nid::from_raw(1095);

/// OIDs used by this module (RFC 3279, RFC 4055, RFC 5754, RFC 5758, RFC 8410, NIST CSOR).
pub mod oids {
    use der::asn1::ObjectIdentifier as Oid;

    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const SHA512_224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.5");
    pub const SHA512_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.6");
    pub const SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.8");
    pub const SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.9");
    pub const SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.10");

    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const SHA224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.14");
    pub const SHA512_224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.15");
    pub const SHA512_256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.16");
    pub const SHA3_256_WITH_RSA: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.14");
    pub const SHA3_384_WITH_RSA: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.15");
    pub const SHA3_512_WITH_RSA: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.16");

    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const ECDSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
    pub const ECDSA_WITH_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const ECDSA_WITH_SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.10");
    pub const ECDSA_WITH_SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.11");
    pub const ECDSA_WITH_SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.12");

    pub const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
}

/// A message digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum DigestAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl DigestAlgorithm {
    /// The algorithm an AlgorithmIdentifier OID names (RFC 3279 2.1, RFC 5754 2, NIST CSOR).
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        use DigestAlgorithm::*;
        let alg = match *oid {
            o if o == oids::SHA1 => Sha1,
            o if o == oids::SHA224 => Sha224,
            o if o == oids::SHA256 => Sha256,
            o if o == oids::SHA384 => Sha384,
            o if o == oids::SHA512 => Sha512,
            o if o == oids::SHA512_224 => Sha512_224,
            o if o == oids::SHA512_256 => Sha512_256,
            o if o == oids::SHA3_256 => Sha3_256,
            o if o == oids::SHA3_384 => Sha3_384,
            o if o == oids::SHA3_512 => Sha3_512,
            _ => return None,
        };
        Some(alg)
    }

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        use DigestAlgorithm::*;
        match self {
            Sha1 => oids::SHA1,
            Sha224 => oids::SHA224,
            Sha256 => oids::SHA256,
            Sha384 => oids::SHA384,
            Sha512 => oids::SHA512,
            Sha512_224 => oids::SHA512_224,
            Sha512_256 => oids::SHA512_256,
            Sha3_256 => oids::SHA3_256,
            Sha3_384 => oids::SHA3_384,
            Sha3_512 => oids::SHA3_512,
        }
    }

    /// The OpenSSL digest for hashing.
    pub fn message_digest(self) -> MessageDigest {
        use DigestAlgorithm::*;
        match self {
            Sha1 => MessageDigest::sha1(),
            Sha224 => MessageDigest::sha224(),
            Sha256 => MessageDigest::sha256(),
            Sha384 => MessageDigest::sha384(),
            Sha512 => MessageDigest::sha512(),
            Sha512_224 => MessageDigest::from_nid(NID_SHA512_224).unwrap_or(MessageDigest::null()),
            Sha512_256 => MessageDigest::from_nid(NID_SHA512_256).unwrap_or(MessageDigest::null()),
            Sha3_256 => MessageDigest::sha3_256(),
            Sha3_384 => MessageDigest::sha3_384(),
            Sha3_512 => MessageDigest::sha3_512(),
        }
    }

    /// The OpenSSL digest for signature contexts (`EVP_PKEY_CTX_set_signature_md`).
    pub(crate) fn md(self) -> Option<&'static MdRef> {
        use DigestAlgorithm::*;
        match self {
            Sha1 => Some(Md::sha1()),
            Sha224 => Some(Md::sha224()),
            Sha256 => Some(Md::sha256()),
            Sha384 => Some(Md::sha384()),
            Sha512 => Some(Md::sha512()),
            Sha512_224 => Md::from_nid(NID_SHA512_224),
            Sha512_256 => Md::from_nid(NID_SHA512_256),
            Sha3_256 => Some(Md::sha3_256()),
            Sha3_384 => Some(Md::sha3_384()),
            Sha3_512 => Some(Md::sha3_512()),
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        use DigestAlgorithm::*;
        match self {
            Sha1 => 20,
            Sha224 | Sha512_224 => 28,
            Sha256 | Sha512_256 | Sha3_256 => 32,
            Sha384 | Sha3_384 => 48,
            Sha512 | Sha3_512 => 64,
        }
    }

    /// The usual name, e.g. `SHA-256`.
    pub fn name(self) -> &'static str {
        use DigestAlgorithm::*;
        match self {
            Sha1 => "SHA-1",
            Sha224 => "SHA-224",
            Sha256 => "SHA-256",
            Sha384 => "SHA-384",
            Sha512 => "SHA-512",
            Sha512_224 => "SHA-512/224",
            Sha512_256 => "SHA-512/256",
            Sha3_256 => "SHA3-256",
            Sha3_384 => "SHA3-384",
            Sha3_512 => "SHA3-512",
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signature algorithm with everything needed to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 8.2).
    RsaPkcs1v15 { digest: DigestAlgorithm },
    /// RSASSA-PSS (RFC 8017 8.1, parameters per RFC 4055 3.1).
    RsaPss {
        digest: DigestAlgorithm,
        mgf1: DigestAlgorithm,
        salt_len: u32,
    },
    /// ECDSA (RFC 5758 3.2, RFC 5480).
    Ecdsa { digest: DigestAlgorithm },
    /// Ed25519 (RFC 8410, RFC 8419): pure, no separate digest.
    Ed25519,
}

impl SignatureAlgorithm {
    /// The digest the signature is computed over, if any.
    pub fn digest(&self) -> Option<DigestAlgorithm> {
        match self {
            Self::RsaPkcs1v15 { digest } | Self::RsaPss { digest, .. } | Self::Ecdsa { digest } => {
                Some(*digest)
            }
            Self::Ed25519 => None,
        }
    }

    /// Every digest the algorithm relies on (for PSS: also the MGF1 digest).
    pub fn digests(&self) -> impl Iterator<Item = DigestAlgorithm> {
        let (a, b) = match self {
            Self::RsaPss { digest, mgf1, .. } => (Some(*digest), Some(*mgf1)),
            other => (other.digest(), None),
        };
        a.into_iter().chain(b)
    }

    /// Interprets a CMS SignerInfo signatureAlgorithm (RFC 5652 5.3, RFC 5754 3, RFC 4055 3.1,
    /// RFC 5758 3.2): `oid` and its DER-encoded `params` (the full TLV, if any), with
    /// `signer_digest` the SignerInfo digestAlgorithm, used when the OID names only the key type
    /// (rsaEncryption, ecPublicKey).
    pub fn from_cms(
        oid: &ObjectIdentifier,
        params: Option<&[u8]>,
        signer_digest: DigestAlgorithm,
    ) -> Result<Self, AlgorithmError> {
        use DigestAlgorithm::*;
        let rsa = |digest| Ok(Self::RsaPkcs1v15 { digest });
        let ec = |digest| Ok(Self::Ecdsa { digest });
        match *oid {
            o if o == oids::RSA_ENCRYPTION => rsa(signer_digest),
            o if o == oids::SHA1_WITH_RSA => rsa(Sha1),
            o if o == oids::SHA224_WITH_RSA => rsa(Sha224),
            o if o == oids::SHA256_WITH_RSA => rsa(Sha256),
            o if o == oids::SHA384_WITH_RSA => rsa(Sha384),
            o if o == oids::SHA512_WITH_RSA => rsa(Sha512),
            o if o == oids::SHA512_224_WITH_RSA => rsa(Sha512_224),
            o if o == oids::SHA512_256_WITH_RSA => rsa(Sha512_256),
            o if o == oids::SHA3_256_WITH_RSA => rsa(Sha3_256),
            o if o == oids::SHA3_384_WITH_RSA => rsa(Sha3_384),
            o if o == oids::SHA3_512_WITH_RSA => rsa(Sha3_512),
            o if o == oids::RSASSA_PSS => parse_pss_params(params),
            o if o == oids::EC_PUBLIC_KEY => ec(signer_digest),
            o if o == oids::ECDSA_WITH_SHA1 => ec(Sha1),
            o if o == oids::ECDSA_WITH_SHA224 => ec(Sha224),
            o if o == oids::ECDSA_WITH_SHA256 => ec(Sha256),
            o if o == oids::ECDSA_WITH_SHA384 => ec(Sha384),
            o if o == oids::ECDSA_WITH_SHA512 => ec(Sha512),
            o if o == oids::ECDSA_WITH_SHA3_256 => ec(Sha3_256),
            o if o == oids::ECDSA_WITH_SHA3_384 => ec(Sha3_384),
            o if o == oids::ECDSA_WITH_SHA3_512 => ec(Sha3_512),
            o if o == oids::ED25519 => Ok(Self::Ed25519),
            o => Err(AlgorithmError::UnknownSignatureAlgorithm { oid: o }),
        }
    }

    /// A name such as `RSA PKCS#1 v1.5 with SHA-256`.
    pub fn name(&self) -> String {
        match self {
            Self::RsaPkcs1v15 { digest } => format!("RSA PKCS#1 v1.5 with {digest}"),
            Self::RsaPss {
                digest,
                mgf1,
                salt_len,
            } => format!("RSASSA-PSS with {digest}, MGF1 {mgf1}, salt {salt_len}"),
            Self::Ecdsa { digest } => format!("ECDSA with {digest}"),
            Self::Ed25519 => "Ed25519".to_owned(),
        }
    }

    pub(crate) fn key_kind_matches(&self, key: &KeyInfo) -> bool {
        matches!(
            (self, &key.kind),
            (Self::RsaPkcs1v15 { .. }, KeyKind::Rsa)
                | (Self::RsaPss { .. }, KeyKind::Rsa | KeyKind::RsaPss)
                | (Self::Ecdsa { .. }, KeyKind::Ec { .. })
                | (Self::Ed25519, KeyKind::Ed25519)
        )
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// RSASSA-PSS-params (RFC 4055 3.1): every field has a default (SHA-1, MGF1 with SHA-1, salt 20,
/// trailer 1), so absent parameters mean SHA-1, which the default policy rejects.
fn parse_pss_params(params: Option<&[u8]>) -> Result<SignatureAlgorithm, AlgorithmError> {
    let bad = |detail: &'static str| AlgorithmError::BadPssParameters { detail };
    let mut digest = DigestAlgorithm::Sha1;
    let mut mgf1 = DigestAlgorithm::Sha1;
    let mut salt_len: u32 = 20;
    let Some(params) = params else {
        return Ok(SignatureAlgorithm::RsaPss {
            digest,
            mgf1,
            salt_len,
        });
    };
    let mut outer = params;
    let seq =
        der_walk::expect(&mut outer, der_walk::SEQUENCE).map_err(|_| bad("not a SEQUENCE"))?;
    if !outer.is_empty() {
        return Err(bad("trailing bytes"));
    }
    let mut fields = seq.value;
    while !fields.is_empty() {
        let field = der_walk::next(&mut fields).map_err(|_| bad("malformed field"))?;
        let mut inner = field.value;
        let inner_tlv = der_walk::next(&mut inner).map_err(|_| bad("malformed field"))?;
        if !inner.is_empty() {
            return Err(bad("trailing bytes in field"));
        }
        match field.tag {
            0xA0 => {
                let (oid, _) = der_walk::algorithm_identifier(inner_tlv.raw)
                    .map_err(|_| bad("hashAlgorithm"))?;
                digest = DigestAlgorithm::from_oid(&oid).ok_or(bad("unknown hashAlgorithm"))?;
            }
            0xA1 => {
                let (oid, mgf_params) = der_walk::algorithm_identifier(inner_tlv.raw)
                    .map_err(|_| bad("maskGenAlgorithm"))?;
                if oid != oids::MGF1 {
                    return Err(bad("mask generation function is not MGF1"));
                }
                let mgf_params = mgf_params.ok_or(bad("MGF1 without a hash"))?;
                let (hash_oid, _) =
                    der_walk::algorithm_identifier(mgf_params).map_err(|_| bad("MGF1 hash"))?;
                mgf1 = DigestAlgorithm::from_oid(&hash_oid).ok_or(bad("unknown MGF1 hash"))?;
            }
            0xA2 => {
                if inner_tlv.tag != der_walk::INTEGER {
                    return Err(bad("saltLength is not an INTEGER"));
                }
                salt_len = der_walk::small_uint(inner_tlv.value)
                    .filter(|n| *n <= 1024)
                    .ok_or(bad("saltLength out of range"))?;
            }
            0xA3 => {
                if inner_tlv.tag != der_walk::INTEGER || inner_tlv.value != [1] {
                    return Err(bad("trailerField is not 1"));
                }
            }
            _ => return Err(bad("unexpected field")),
        }
    }
    Ok(SignatureAlgorithm::RsaPss {
        digest,
        mgf1,
        salt_len,
    })
}

/// The kind of a public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa,
    /// An RSA key restricted to PSS (id-RSASSA-PSS SubjectPublicKeyInfo, RFC 4055 1.2).
    RsaPss,
    /// An EC key on a named curve, e.g. `P-256`.
    Ec {
        curve: String,
    },
    Ed25519,
    Other {
        name: String,
    },
}

/// A public key's kind and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyInfo {
    pub kind: KeyKind,
    /// Modulus length for RSA, group order length for EC, 256 for Ed25519.
    pub bits: u32,
}

impl KeyInfo {
    /// Describes an OpenSSL public key.
    pub fn of(key: &PKeyRef<Public>) -> Self {
        let bits = key.bits();
        let kind = match key.id() {
            Id::RSA => KeyKind::Rsa,
            Id::RSA_PSS => KeyKind::RsaPss,
            Id::EC => {
                let curve = key
                    .ec_key()
                    .ok()
                    .and_then(|ec| ec.group().curve_name())
                    .map(curve_name)
                    .unwrap_or_else(|| "explicit curve".to_owned());
                KeyKind::Ec { curve }
            }
            Id::ED25519 => KeyKind::Ed25519,
            other => KeyKind::Other {
                name: format!("key type {}", other.as_raw()),
            },
        };
        KeyInfo { kind, bits }
    }
}

fn curve_name(nid: Nid) -> String {
    match nid {
        Nid::X9_62_PRIME256V1 => "P-256".to_owned(),
        Nid::SECP384R1 => "P-384".to_owned(),
        Nid::SECP521R1 => "P-521".to_owned(),
        Nid::SECP256K1 => "secp256k1".to_owned(),
        other => other
            .short_name()
            .map(str::to_owned)
            .unwrap_or_else(|_| format!("curve {}", other.as_raw())),
    }
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            KeyKind::Rsa => write!(f, "RSA-{}", self.bits),
            KeyKind::RsaPss => write!(f, "RSA-PSS-{}", self.bits),
            KeyKind::Ec { curve } => write!(f, "EC {curve} ({} bits)", self.bits),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
            KeyKind::Other { name } => write!(f, "{name} ({} bits)", self.bits),
        }
    }
}

/// Why an algorithm identifier could not be interpreted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// The digest OID is not one we implement (RFC 5652 10.1.1).
    #[error("unknown digest algorithm {oid}")]
    UnknownDigestAlgorithm { oid: ObjectIdentifier },
    /// The signature OID is not one we implement (RFC 5652 10.1.2).
    #[error("unknown signature algorithm {oid}")]
    UnknownSignatureAlgorithm { oid: ObjectIdentifier },
    /// RSASSA-PSS-params do not parse or are not supported (RFC 4055 3.1).
    #[error("bad RSASSA-PSS parameters: {detail}")]
    BadPssParameters { detail: &'static str },
}

/// Where an algorithm is used, for the rejection message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmUse {
    /// The digest of the signed content (messageDigest, timestamp imprint).
    ContentDigest,
    /// The digest inside the signature algorithm.
    SignatureDigest,
    /// The MGF1 digest of RSASSA-PSS.
    Mgf1Digest,
}

impl fmt::Display for AlgorithmUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ContentDigest => "content digest",
            Self::SignatureDigest => "signature digest",
            Self::Mgf1Digest => "MGF1 digest",
        })
    }
}

/// An algorithm the policy does not accept (ETSI EN 319 102-1 5.2.8: CRYPTO_CONSTRAINTS_FAILURE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmRejected {
    /// Circular 15/2025/TT-BKHCN: SHA-1 is not permitted.
    #[error("{algorithm} is not permitted as {usage} (Circular 15/2025)")]
    Digest {
        algorithm: DigestAlgorithm,
        usage: AlgorithmUse,
    },
    /// Circular 15/2025/TT-BKHCN: RSA keys of at least 2048 bits, ECDSA keys of at least 256 bits.
    #[error("{key} is below the minimum of {min_bits} bits (Circular 15/2025)")]
    KeyTooSmall { key: KeyInfo, min_bits: u32 },
    /// Circular 15/2025/TT-BKHCN lists RSA and ECDSA only.
    #[error("{key} keys are not permitted by the policy")]
    KeyTypeNotPermitted { key: KeyInfo },
}

/// Which algorithms are acceptable when verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    accept_sha1: bool,
    min_rsa_bits: u32,
    min_ec_bits: u32,
    accept_ed25519: bool,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        Self::circular_15_2025()
    }
}

impl AlgorithmPolicy {
    /// Circular 15/2025/TT-BKHCN: SHA-2 / SHA-3 digests, RSA >= 2048 bits, ECDSA >= 256 bits.
    /// RSA PKCS#1 v1.5 is accepted for verification (most certificates in circulation use it).
    /// Ed25519 is not in the circular's list and is rejected.
    pub fn circular_15_2025() -> Self {
        Self {
            accept_sha1: false,
            min_rsa_bits: 2048,
            min_ec_bits: 256,
            accept_ed25519: false,
        }
    }

    /// DANGEROUS: accepts SHA-1, RSA keys down to 1024 bits and EC keys down to 160 bits, for
    /// examining legacy signatures. Results under this policy do not meet Circular 15/2025.
    pub fn dangerous_accept_legacy() -> Self {
        Self {
            accept_sha1: true,
            min_rsa_bits: 1024,
            min_ec_bits: 160,
            accept_ed25519: true,
        }
    }

    /// Also accepts Ed25519 keys (RFC 8419), which Circular 15/2025 does not list.
    pub fn with_ed25519(mut self) -> Self {
        self.accept_ed25519 = true;
        self
    }

    /// Whether SHA-1 is accepted.
    pub fn accepts_sha1(&self) -> bool {
        self.accept_sha1
    }

    /// Checks one digest algorithm used as `usage`.
    pub fn check_digest(
        &self,
        algorithm: DigestAlgorithm,
        usage: AlgorithmUse,
    ) -> Result<(), AlgorithmRejected> {
        if algorithm == DigestAlgorithm::Sha1 && !self.accept_sha1 {
            return Err(AlgorithmRejected::Digest { algorithm, usage });
        }
        Ok(())
    }

    /// Checks a public key's type and size.
    pub fn check_key(&self, key: &KeyInfo) -> Result<(), AlgorithmRejected> {
        let min_bits = match key.kind {
            KeyKind::Rsa | KeyKind::RsaPss => self.min_rsa_bits,
            KeyKind::Ec { .. } => self.min_ec_bits,
            KeyKind::Ed25519 if self.accept_ed25519 => 0,
            KeyKind::Ed25519 | KeyKind::Other { .. } => {
                return Err(AlgorithmRejected::KeyTypeNotPermitted { key: key.clone() })
            }
        };
        if key.bits < min_bits {
            return Err(AlgorithmRejected::KeyTooSmall {
                key: key.clone(),
                min_bits,
            });
        }
        Ok(())
    }

    /// Checks everything a signature relies on: the content digest, the signature algorithm's
    /// digests and the key.
    pub fn check(
        &self,
        content_digest: DigestAlgorithm,
        signature: &SignatureAlgorithm,
        key: &KeyInfo,
    ) -> Result<(), AlgorithmRejected> {
        self.check_digest(content_digest, AlgorithmUse::ContentDigest)?;
        if let SignatureAlgorithm::RsaPss { digest, mgf1, .. } = signature {
            self.check_digest(*digest, AlgorithmUse::SignatureDigest)?;
            self.check_digest(*mgf1, AlgorithmUse::Mgf1Digest)?;
        } else if let Some(d) = signature.digest() {
            self.check_digest(d, AlgorithmUse::SignatureDigest)?;
        }
        self.check_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    fn rsa_info(bits: u32) -> KeyInfo {
        let rsa = Rsa::generate(bits).unwrap();
        let pkey = PKey::from_rsa(rsa).unwrap();
        let public = PKey::public_key_from_der(&pkey.public_key_to_der().unwrap()).unwrap();
        KeyInfo::of(&public)
    }

    #[test]
    fn digest_oids_round_trip() {
        for d in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha224,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
            DigestAlgorithm::Sha512_224,
            DigestAlgorithm::Sha512_256,
            DigestAlgorithm::Sha3_256,
            DigestAlgorithm::Sha3_384,
            DigestAlgorithm::Sha3_512,
        ] {
            assert_eq!(DigestAlgorithm::from_oid(&d.oid()), Some(d));
            assert_eq!(d.message_digest().size(), d.output_len(), "{d}");
            assert!(d.md().is_some(), "{d}");
        }
    }

    #[test]
    fn default_policy_rejects_sha1_and_names_it() {
        let p = AlgorithmPolicy::default();
        let err = p
            .check_digest(DigestAlgorithm::Sha1, AlgorithmUse::ContentDigest)
            .unwrap_err();
        assert!(err.to_string().contains("SHA-1"), "{err}");
        assert!(AlgorithmPolicy::dangerous_accept_legacy()
            .check_digest(DigestAlgorithm::Sha1, AlgorithmUse::ContentDigest)
            .is_ok());
    }

    #[test]
    fn default_policy_rejects_rsa_1024_accepts_2048() {
        let p = AlgorithmPolicy::default();
        let small = rsa_info(1024);
        assert_eq!(small.kind, KeyKind::Rsa);
        let err = p.check_key(&small).unwrap_err();
        assert!(err.to_string().contains("RSA-1024"), "{err}");
        assert!(p.check_key(&rsa_info(2048)).is_ok());
    }

    #[test]
    fn ec_curve_and_size() {
        let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let pkey = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let public = PKey::public_key_from_der(&pkey.public_key_to_der().unwrap()).unwrap();
        let info = KeyInfo::of(&public);
        assert_eq!(
            info.kind,
            KeyKind::Ec {
                curve: "P-384".into()
            }
        );
        assert_eq!(info.bits, 384);
        assert!(AlgorithmPolicy::default().check_key(&info).is_ok());
    }

    #[test]
    fn pss_defaults_are_sha1() {
        let alg =
            SignatureAlgorithm::from_cms(&oids::RSASSA_PSS, None, DigestAlgorithm::Sha256).unwrap();
        assert_eq!(
            alg,
            SignatureAlgorithm::RsaPss {
                digest: DigestAlgorithm::Sha1,
                mgf1: DigestAlgorithm::Sha1,
                salt_len: 20
            }
        );
    }

    #[test]
    fn rsa_encryption_takes_signer_digest() {
        let alg =
            SignatureAlgorithm::from_cms(&oids::RSA_ENCRYPTION, None, DigestAlgorithm::Sha384)
                .unwrap();
        assert_eq!(
            alg,
            SignatureAlgorithm::RsaPkcs1v15 {
                digest: DigestAlgorithm::Sha384
            }
        );
        let alg =
            SignatureAlgorithm::from_cms(&oids::SHA256_WITH_RSA, None, DigestAlgorithm::Sha384)
                .unwrap();
        assert_eq!(alg.digest(), Some(DigestAlgorithm::Sha256));
    }
}
