//! Signing keys behind one trait: [`SigningKey`] signs bytes with one [`SignatureScheme`] and
//! tells its public key, so the CMS builder never sees where the key lives (a PEM or PKCS#12 file
//! here; an HSM or a token through PKCS#11 in `sign::pkcs11`).
//!
//! Only what Circular 15/2025/TT-BKHCN permits for *creating* signatures is accepted: RSA keys of
//! at least 2048 bits (RSASSA-PSS by default, PKCS#1 v1.5 by configuration) and ECDSA on P-256 or
//! P-384, with SHA-256/384/512.
//!
//! This module never writes a private key anywhere, never prints one (`Debug` shows the key type
//! and size only), and never prompts for a passphrase.

use std::fmt;
use std::sync::OnceLock;

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::provider::Provider;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use openssl::x509::{X509Ref, X509};

use crate::pki::algorithms::{DigestAlgorithm, SignatureAlgorithm};

/// Minimum RSA modulus for new signatures (Circular 15/2025/TT-BKHCN).
pub const MIN_RSA_BITS: u32 = 2048;

/// A digest permitted for new signatures (Circular 15/2025/TT-BKHCN; SHA-1 never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    /// The verifier's name for the same algorithm.
    pub fn algorithm(self) -> DigestAlgorithm {
        match self {
            Self::Sha256 => DigestAlgorithm::Sha256,
            Self::Sha384 => DigestAlgorithm::Sha384,
            Self::Sha512 => DigestAlgorithm::Sha512,
        }
    }

    /// The algorithm OID (NIST CSOR, RFC 5754).
    pub fn oid(self) -> der::asn1::ObjectIdentifier {
        self.algorithm().oid()
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    pub fn message_digest(self) -> MessageDigest {
        match self {
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The digest of `pieces`, hashed in order.
    pub fn digest(self, pieces: &[&[u8]]) -> Vec<u8> {
        let alg = match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        let mut ctx = ring::digest::Context::new(alg);
        for p in pieces {
            ctx.update(p);
        }
        ctx.finish().as_ref().to_vec()
    }

    /// Maps a verifier digest back, if it is one permitted for signing.
    pub fn from_algorithm(alg: DigestAlgorithm) -> Option<Self> {
        match alg {
            DigestAlgorithm::Sha256 => Some(Self::Sha256),
            DigestAlgorithm::Sha384 => Some(Self::Sha384),
            DigestAlgorithm::Sha512 => Some(Self::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for DigestAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.algorithm(), f)
    }
}

/// How a key signs (Circular 15/2025/TT-BKHCN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSA PKCS#1 v1.5 (RFC 8017 8.2), by configuration only.
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    /// RSASSA-PSS (RFC 8017 8.1, RFC 4055): MGF1 with the same hash, salt = digest length.
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    /// ECDSA (FIPS 186-4) on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384Sha384,
    /// ECDSA on P-256 or P-384 with SHA-512.
    EcdsaSha512,
}

impl SignatureScheme {
    /// The hash the scheme signs with.
    pub fn digest(self) -> DigestAlg {
        use SignatureScheme::*;
        match self {
            RsaPkcs1Sha256 | RsaPssSha256 | EcdsaP256Sha256 => DigestAlg::Sha256,
            RsaPkcs1Sha384 | RsaPssSha384 | EcdsaP384Sha384 => DigestAlg::Sha384,
            RsaPkcs1Sha512 | RsaPssSha512 | EcdsaSha512 => DigestAlg::Sha512,
        }
    }

    pub fn is_rsa(self) -> bool {
        self.is_pss() || self.is_pkcs1()
    }

    pub fn is_pss(self) -> bool {
        use SignatureScheme::*;
        matches!(self, RsaPssSha256 | RsaPssSha384 | RsaPssSha512)
    }

    pub fn is_pkcs1(self) -> bool {
        use SignatureScheme::*;
        matches!(self, RsaPkcs1Sha256 | RsaPkcs1Sha384 | RsaPkcs1Sha512)
    }

    pub fn is_ecdsa(self) -> bool {
        !self.is_rsa()
    }

    /// PSS salt length: the digest length (RFC 8017 9.1 recommendation, ETSI TS 119 312).
    pub fn pss_salt_len(self) -> Option<usize> {
        self.is_pss().then(|| self.digest().output_len())
    }

    /// The verifier's description of the same algorithm.
    pub fn algorithm(self) -> SignatureAlgorithm {
        let digest = self.digest().algorithm();
        if self.is_pkcs1() {
            SignatureAlgorithm::RsaPkcs1v15 { digest }
        } else if self.is_pss() {
            SignatureAlgorithm::RsaPss {
                digest,
                mgf1: digest,
                // At most 64: the cast cannot truncate.
                salt_len: self.digest().output_len() as u32,
            }
        } else {
            SignatureAlgorithm::Ecdsa { digest }
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.algorithm(), f)
    }
}

/// Why a key cannot be loaded or used. Messages never contain key material or passphrases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM does not hold a readable private key.
    #[error("unreadable private key: {detail}")]
    Unreadable { detail: String },
    /// The key is encrypted and no passphrase was given (we never prompt).
    #[error("the private key is encrypted: a passphrase is required")]
    PassphraseRequired,
    /// Decryption failed: wrong passphrase or password.
    #[error("wrong passphrase or password")]
    BadPassphrase,
    /// The PKCS#12 file does not parse (RFC 7292).
    #[error("unreadable PKCS#12: {detail}")]
    Pkcs12 { detail: String },
    /// The PKCS#12 file lacks the private key or the certificate.
    #[error("the PKCS#12 file has no {missing}")]
    Pkcs12Incomplete { missing: &'static str },
    /// A legacy PKCS#12 (RC2/3DES, RFC 7292 appendix C) needs OpenSSL 3's legacy provider.
    #[error("this PKCS#12 uses legacy encryption (RC2/3DES) and OpenSSL's legacy provider is unavailable: {detail}")]
    LegacyProviderUnavailable { detail: String },
    /// Circular 15/2025/TT-BKHCN: RSA keys of at least 2048 bits.
    #[error("RSA-{bits} is below the minimum of {MIN_RSA_BITS} bits (Circular 15/2025)")]
    RsaTooSmall { bits: u32 },
    /// Circular 15/2025/TT-BKHCN: ECDSA on the curves we support (P-256, P-384).
    #[error("EC curve {curve} is not supported for signing (P-256, P-384)")]
    UnsupportedCurve { curve: String },
    /// Circular 15/2025/TT-BKHCN lists RSA and ECDSA only.
    #[error("{kind} keys are not permitted for signing (Circular 15/2025: RSA, ECDSA)")]
    UnsupportedKeyType { kind: String },
    /// The configured scheme does not fit the key.
    #[error("signature scheme {scheme:?} does not fit a {key} key")]
    SchemeMismatch {
        scheme: SignatureScheme,
        key: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate")]
    CertificateMismatch,
    /// The signing operation failed.
    #[error("signing failed: {detail}")]
    Signing { detail: String },
    /// The PKCS#11 module (shared library) cannot be loaded or initialised (C_Initialize).
    #[error("cannot load the PKCS#11 module {module}: {detail}")]
    Pkcs11Module { module: String, detail: String },
    /// The profile does not say enough to find the token or the key.
    #[error("PKCS#11 configuration: {detail}")]
    Pkcs11Config { detail: String },
    /// No slot holds a token with the configured label or serial (C_GetTokenInfo).
    #[error("no PKCS#11 token with {token} (tokens present: {present:?})")]
    TokenNotFound { token: String, present: Vec<String> },
    /// The token was removed or stopped answering, and one reconnect did not help.
    #[error("the PKCS#11 token ({token}) is unavailable: {detail}")]
    TokenUnavailable { token: String, detail: String },
    /// C_Login: CKR_PIN_INCORRECT. The PIN itself is never part of any message.
    #[error("the PKCS#11 token ({token}) refused the user PIN (CKR_PIN_INCORRECT)")]
    PinIncorrect { token: String },
    /// C_Login: CKR_PIN_LOCKED (too many wrong PINs; the security officer must unblock it).
    #[error("the user PIN of the PKCS#11 token ({token}) is locked (CKR_PIN_LOCKED)")]
    PinLocked { token: String },
    /// No private key object (CKO_PRIVATE_KEY) with the configured label or id.
    #[error("no private key with {key} on the PKCS#11 token ({token})")]
    Pkcs11KeyNotFound { key: String, token: String },
    /// More than one private key answers to the configured label or id.
    #[error("{count} private keys match {key} on the PKCS#11 token ({token}): set pkcs11_key_id")]
    Pkcs11KeyAmbiguous {
        key: String,
        token: String,
        count: usize,
    },
    /// The token or the key cannot do what signing needs (mechanism, CKA_SIGN, ...).
    #[error("the PKCS#11 key cannot be used: {detail}")]
    Pkcs11Unsupported { detail: String },
    /// Another PKCS#11 call failed; `detail` is the function and its CKR_ return code.
    #[error("PKCS#11 {operation} failed: {detail}")]
    Pkcs11 {
        operation: &'static str,
        detail: String,
    },
}

/// A key that signs. Implementations: [`FileKey`], `sign::pkcs11::Pkcs11Key`.
pub trait SigningKey: Send + Sync {
    /// The scheme every signature of this key uses.
    fn scheme(&self) -> SignatureScheme;
    /// Signs `data`, hashing it with the scheme's digest. ECDSA signatures are DER
    /// `ECDSA-Sig-Value` (RFC 5480 / RFC 5753), as CMS carries them.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// The DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> Vec<u8>;
}

/// A private key held in memory by OpenSSL, loaded from a PEM or PKCS#12 file.
pub struct FileKey {
    pkey: PKey<Private>,
    scheme: SignatureScheme,
    public_der: Vec<u8>,
    description: String,
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("key", &self.description)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// The key's family, as far as signing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    /// id-RSASSA-PSS key (RFC 4055 1.2): PSS only.
    RsaPssOnly,
    P256,
    P384,
}

fn classify<T: HasPublic>(pkey: &PKeyRef<T>) -> Result<(Family, String), KeyError> {
    let bits = pkey.bits();
    match pkey.id() {
        Id::RSA | Id::RSA_PSS => {
            if bits < MIN_RSA_BITS {
                return Err(KeyError::RsaTooSmall { bits });
            }
            if pkey.id() == Id::RSA {
                Ok((Family::Rsa, format!("RSA-{bits}")))
            } else {
                Ok((Family::RsaPssOnly, format!("RSA-PSS-{bits}")))
            }
        }
        Id::EC => {
            let nid = pkey.ec_key().ok().and_then(|ec| ec.group().curve_name());
            match nid {
                Some(Nid::X9_62_PRIME256V1) => Ok((Family::P256, "EC P-256".to_owned())),
                Some(Nid::SECP384R1) => Ok((Family::P384, "EC P-384".to_owned())),
                Some(other) => Err(KeyError::UnsupportedCurve {
                    curve: other
                        .short_name()
                        .map(str::to_owned)
                        .unwrap_or_else(|_| format!("NID {}", other.as_raw())),
                }),
                None => Err(KeyError::UnsupportedCurve {
                    curve: "explicit parameters".to_owned(),
                }),
            }
        }
        Id::ED25519 => Err(KeyError::UnsupportedKeyType {
            kind: "Ed25519".to_owned(),
        }),
        Id::DSA => Err(KeyError::UnsupportedKeyType {
            kind: "DSA".to_owned(),
        }),
        other => Err(KeyError::UnsupportedKeyType {
            kind: format!("key type {}", other.as_raw()),
        }),
    }
}

fn default_scheme(family: Family) -> SignatureScheme {
    match family {
        // Circular 15/2025/TT-BKHCN: RSASSA-PSS for creating signatures.
        Family::Rsa | Family::RsaPssOnly => SignatureScheme::RsaPssSha256,
        Family::P256 => SignatureScheme::EcdsaP256Sha256,
        Family::P384 => SignatureScheme::EcdsaP384Sha384,
    }
}

fn scheme_fits(family: Family, scheme: SignatureScheme) -> bool {
    use SignatureScheme::*;
    match family {
        Family::Rsa => scheme.is_rsa(),
        Family::RsaPssOnly => scheme.is_pss(),
        Family::P256 => matches!(scheme, EcdsaP256Sha256 | EcdsaSha512),
        Family::P384 => matches!(scheme, EcdsaP384Sha384 | EcdsaSha512),
    }
}

fn unreadable(e: ErrorStack) -> KeyError {
    KeyError::Unreadable {
        detail: e.to_string(),
    }
}

/// Whether an OpenSSL error stack says a decryption or MAC check failed (a wrong password).
fn is_bad_password(e: &ErrorStack) -> bool {
    e.errors().iter().any(|err| {
        err.reason().is_some_and(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("mac verify failure") || r.contains("bad decrypt")
        })
    })
}

/// Whether an OpenSSL error stack says an algorithm is not available (legacy PKCS#12).
fn is_unsupported_algorithm(e: &ErrorStack) -> bool {
    e.errors().iter().any(|err| {
        err.reason().is_some_and(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("unsupported") || r.contains("fetch failed")
        })
    })
}

/// OpenSSL 3's default and legacy providers, loaded once and kept for the life of the process.
struct Providers {
    _default: Provider,
    _legacy: Provider,
}

static LEGACY_PROVIDERS: OnceLock<Result<Providers, String>> = OnceLock::new();

/// Loads the legacy provider (RC2, 3DES-era PBEs of Windows and token exports). "default" is
/// loaded explicitly too: loading only "legacy" would disable the implicit default provider.
fn ensure_legacy_provider() -> Result<(), KeyError> {
    let loaded = LEGACY_PROVIDERS.get_or_init(|| {
        let default = Provider::try_load(None, "default", true).map_err(|e| e.to_string())?;
        let legacy = Provider::try_load(None, "legacy", true).map_err(|e| e.to_string())?;
        Ok(Providers {
            _default: default,
            _legacy: legacy,
        })
    });
    loaded
        .as_ref()
        .map(|_| ())
        .map_err(|detail| KeyError::LegacyProviderUnavailable {
            detail: detail.clone(),
        })
}

/// A public key's family after the Circular 15/2025 checks, shared by file and token keys.
pub(crate) struct KeyShape {
    family: Family,
    description: String,
}

impl KeyShape {
    pub(crate) fn of<T: HasPublic>(pkey: &PKeyRef<T>) -> Result<Self, KeyError> {
        let (family, description) = classify(pkey)?;
        Ok(KeyShape {
            family,
            description,
        })
    }

    /// The configured scheme if it fits the key, else the default one for the key.
    pub(crate) fn resolve(
        &self,
        scheme: Option<SignatureScheme>,
    ) -> Result<SignatureScheme, KeyError> {
        let scheme = scheme.unwrap_or_else(|| default_scheme(self.family));
        if !scheme_fits(self.family, scheme) {
            return Err(KeyError::SchemeMismatch {
                scheme,
                key: self.description.clone(),
            });
        }
        Ok(scheme)
    }

    /// `RSA-2048`, `EC P-256`, ...
    pub(crate) fn description(&self) -> &str {
        &self.description
    }
}

impl FileKey {
    /// Wraps an OpenSSL key after the Circular 15/2025 checks. `scheme` None picks the default:
    /// RSA → RSASSA-PSS SHA-256, P-256 → ECDSA SHA-256, P-384 → ECDSA SHA-384.
    pub fn from_pkey(
        pkey: PKey<Private>,
        scheme: Option<SignatureScheme>,
    ) -> Result<Self, KeyError> {
        let shape = KeyShape::of(&pkey)?;
        let scheme = shape.resolve(scheme)?;
        let description = shape.description;
        let public_der = pkey.public_key_to_der().map_err(unreadable)?;
        Ok(FileKey {
            pkey,
            scheme,
            public_der,
            description,
        })
    }

    /// Loads a PEM private key (PKCS#8, encrypted PKCS#8, or traditional RSA/EC). An encrypted key
    /// without `passphrase` is [`KeyError::PassphraseRequired`]; nothing ever prompts.
    pub fn from_pem(
        pem: &[u8],
        passphrase: Option<&[u8]>,
        scheme: Option<SignatureScheme>,
    ) -> Result<Self, KeyError> {
        let mut asked = false;
        let result = PKey::private_key_from_pem_callback(pem, |buf| {
            asked = true;
            match passphrase {
                Some(p) if p.len() <= buf.len() => {
                    buf[..p.len()].copy_from_slice(p);
                    Ok(p.len())
                }
                // Longer than OpenSSL's buffer (1 KiB) or absent: supply nothing, decryption fails.
                _ => Ok(0),
            }
        });
        let pkey = match result {
            Ok(k) => k,
            Err(_) if asked && passphrase.is_none() => return Err(KeyError::PassphraseRequired),
            Err(_) if asked => return Err(KeyError::BadPassphrase),
            Err(e) => return Err(unreadable(e)),
        };
        Self::from_pkey(pkey, scheme)
    }

    /// Loads a PKCS#12 (RFC 7292) file: the key, its certificate and the other certificates.
    /// OpenSSL 3 defaults (AES-256-CBC, PBKDF2) and legacy files (RC2-40, 3DES, as Windows and
    /// tokens export them) are both read; the legacy provider is loaded only when needed.
    pub fn from_pkcs12(
        der: &[u8],
        password: &str,
        scheme: Option<SignatureScheme>,
    ) -> Result<(Self, X509, Vec<X509>), KeyError> {
        if password.contains('\0') {
            // OpenSSL takes a C string; such a password cannot be the right one.
            return Err(KeyError::BadPassphrase);
        }
        let p12 = Pkcs12::from_der(der).map_err(|e| KeyError::Pkcs12 {
            detail: e.to_string(),
        })?;
        let parsed = match p12.parse2(password) {
            Ok(p) => p,
            Err(e) if is_bad_password(&e) => return Err(KeyError::BadPassphrase),
            Err(first) => {
                // Typically RC2-40 or 3DES bags: retry with the legacy provider.
                if let Err(unavailable) = ensure_legacy_provider() {
                    return Err(if is_unsupported_algorithm(&first) {
                        unavailable
                    } else {
                        KeyError::Pkcs12 {
                            detail: first.to_string(),
                        }
                    });
                }
                match p12.parse2(password) {
                    Ok(p) => p,
                    Err(e) if is_bad_password(&e) => return Err(KeyError::BadPassphrase),
                    Err(e) => {
                        return Err(KeyError::Pkcs12 {
                            detail: e.to_string(),
                        })
                    }
                }
            }
        };
        let pkey = parsed.pkey.ok_or(KeyError::Pkcs12Incomplete {
            missing: "private key",
        })?;
        let mut others: Vec<X509> = parsed
            .ca
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        // The certificate OpenSSL paired with the key, else the one among the others that fits.
        let cert = match parsed.cert {
            Some(c) if c.public_key().is_ok_and(|k| k.public_eq(&pkey)) => c,
            other => {
                let pos = others
                    .iter()
                    .position(|c| c.public_key().is_ok_and(|k| k.public_eq(&pkey)));
                match pos {
                    Some(i) => {
                        let found = others.remove(i);
                        others.extend(other);
                        found
                    }
                    None if other.is_none() && others.is_empty() => {
                        return Err(KeyError::Pkcs12Incomplete {
                            missing: "certificate",
                        })
                    }
                    None => return Err(KeyError::CertificateMismatch),
                }
            }
        };
        let key = Self::from_pkey(pkey, scheme)?;
        Ok((key, cert, others))
    }

    /// Whether this key belongs to `cert`.
    pub fn matches_certificate(&self, cert: &X509Ref) -> bool {
        certificate_matches(self, cert)
    }
}

/// Whether `key`'s public key is the one in `cert` (RFC 5280 4.1.2.7).
pub fn certificate_matches(key: &dyn SigningKey, cert: &X509Ref) -> bool {
    certificate_public_key(cert)
        .map(|(_, der)| der)
        .is_ok_and(|der| der == key.public_key_der())
}

/// The certificate's public key and its DER SubjectPublicKeyInfo. The key is decoded once per
/// certificate through the verifier's cache (`pki::cms::cached_public_key`).
pub fn certificate_public_key(
    cert: &X509Ref,
) -> Result<(PKey<openssl::pkey::Public>, Vec<u8>), ErrorStack> {
    let key = crate::pki::cms::cached_public_key(cert)?;
    let der = key.public_key_to_der()?;
    Ok((key, der))
}

impl SigningKey for FileKey {
    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |e: ErrorStack| KeyError::Signing {
            detail: e.to_string(),
        };
        let md = self.scheme.digest().message_digest();
        let mut signer = Signer::new(md, &self.pkey).map_err(failed)?;
        if let Some(salt) = self.scheme.pss_salt_len() {
            signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(failed)?;
            signer.set_rsa_mgf1_md(md).map_err(failed)?;
            // At most 64: the cast cannot truncate.
            signer
                .set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt as i32))
                .map_err(failed)?;
        } else if self.scheme.is_pkcs1() {
            signer.set_rsa_padding(Padding::PKCS1).map_err(failed)?;
        }
        signer.sign_oneshot_to_vec(data).map_err(failed)
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.public_der.clone()
    }
}

/// Checks a signature made with `scheme` over `data` against `public_key`: the builders verify
/// what a key (possibly remote hardware) returned before emitting it.
pub(crate) fn verify_signature<T: HasPublic>(
    scheme: SignatureScheme,
    public_key: &PKeyRef<T>,
    data: &[u8],
    signature: &[u8],
) -> bool {
    let run = || -> Result<bool, ErrorStack> {
        let md = scheme.digest().message_digest();
        let mut verifier = Verifier::new(md, public_key)?;
        if let Some(salt) = scheme.pss_salt_len() {
            verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
            verifier.set_rsa_mgf1_md(md)?;
            // At most 64: the cast cannot truncate.
            verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt as i32))?;
        } else if scheme.is_pkcs1() {
            verifier.set_rsa_padding(Padding::PKCS1)?;
        }
        verifier.verify_oneshot(signature, data)
    };
    run().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::rsa::Rsa;

    #[test]
    fn defaults_and_scheme_fit() {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let k = FileKey::from_pkey(rsa.clone(), None).unwrap();
        assert_eq!(k.scheme(), SignatureScheme::RsaPssSha256);
        let err = FileKey::from_pkey(rsa, Some(SignatureScheme::EcdsaP256Sha256)).unwrap_err();
        assert!(matches!(err, KeyError::SchemeMismatch { .. }), "{err}");

        let p384 = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&p384).unwrap()).unwrap();
        let k = FileKey::from_pkey(ec.clone(), None).unwrap();
        assert_eq!(k.scheme(), SignatureScheme::EcdsaP384Sha384);
        assert!(FileKey::from_pkey(ec.clone(), Some(SignatureScheme::EcdsaSha512)).is_ok());
        assert!(FileKey::from_pkey(ec, Some(SignatureScheme::EcdsaP256Sha256)).is_err());

        let k1 = EcGroup::from_curve_name(Nid::SECP256K1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&k1).unwrap()).unwrap();
        assert!(matches!(
            FileKey::from_pkey(ec, None).unwrap_err(),
            KeyError::UnsupportedCurve { .. }
        ));
        let ed = PKey::generate_ed25519().unwrap();
        assert!(matches!(
            FileKey::from_pkey(ed, None).unwrap_err(),
            KeyError::UnsupportedKeyType { .. }
        ));
    }

    #[test]
    fn every_scheme_signs_and_verifies() {
        use SignatureScheme::*;
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let p256 = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&p256).unwrap()).unwrap();
        for (pkey, scheme) in [
            (&rsa, RsaPkcs1Sha256),
            (&rsa, RsaPkcs1Sha384),
            (&rsa, RsaPkcs1Sha512),
            (&rsa, RsaPssSha256),
            (&rsa, RsaPssSha384),
            (&rsa, RsaPssSha512),
            (&ec, EcdsaP256Sha256),
            (&ec, EcdsaSha512),
        ] {
            let key = FileKey::from_pkey(pkey.clone(), Some(scheme)).unwrap();
            let sig = key.sign(b"hello").unwrap();
            let public = PKey::public_key_from_der(&key.public_key_der()).unwrap();
            assert!(
                verify_signature(scheme, &public, b"hello", &sig),
                "{scheme:?}"
            );
            assert!(
                !verify_signature(scheme, &public, b"hellO", &sig),
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn debug_prints_no_key_material() {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = rsa.private_key_to_pem_pkcs8().unwrap();
        let key = FileKey::from_pem(&pem, None, None).unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("RSA-2048"), "{dbg}");
        assert!(!dbg.contains("BEGIN") && dbg.len() < 200, "{dbg}");
    }

    #[test]
    fn encrypted_pem_needs_the_passphrase_and_never_prompts() {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = rsa
            .private_key_to_pem_pkcs8_passphrase(
                openssl::symm::Cipher::aes_256_cbc(),
                "bí mật".as_bytes(),
            )
            .unwrap();
        assert_eq!(
            FileKey::from_pem(&pem, None, None).unwrap_err(),
            KeyError::PassphraseRequired
        );
        assert_eq!(
            FileKey::from_pem(&pem, Some(b"wrong"), None).unwrap_err(),
            KeyError::BadPassphrase
        );
        assert!(FileKey::from_pem(&pem, Some("bí mật".as_bytes()), None).is_ok());
        assert!(matches!(
            FileKey::from_pem(b"not a key", None, None).unwrap_err(),
            KeyError::Unreadable { .. }
        ));
    }
}
