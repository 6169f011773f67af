//! The signing service: profiles (a key, its chain, the level, the TSA, the revocation data) and
//! the PAdES flow B-B -> B-T -> B-LT -> B-LTA over the pure parts (`pdf`, `cms`, `tsa`).
//!
//! Fail closed: every document is verified by antin's own verifier before it is returned; a
//! signature that does not validate at the level asked for is an error, never a file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use openssl::x509::X509;
use secrecy::SecretString;
use time::OffsetDateTime;

use super::appearance::{self, Font, Image, QrCode, QrStamp, Stamp};
use super::cms::{self, CmsRequest};
use super::keys::{DigestAlg, FileKey, SignatureScheme, SigningKey};
use super::ltv::{self, OcspSource};
use super::ocsp::DevOcsp;
use super::pdf::{self, PageStamp, Placement, SignatureKind, SignatureRequest};
use super::pkcs11::{self, Pkcs11Key, Pkcs11Params};
use super::tsa::{self, DevTsa, TsaClient};
use crate::config::{SignConfig, SigningProfileConfig};

/// PAdES baseline levels (ETSI EN 319 142-1 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    BB,
    BT,
    BLT,
    BLTA,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::BB => "B-B",
            Level::BT => "B-T",
            Level::BLT => "B-LT",
            Level::BLTA => "B-LTA",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "B-B" => Ok(Level::BB),
            "B-T" => Ok(Level::BT),
            "B-LT" => Ok(Level::BLT),
            "B-LTA" => Ok(Level::BLTA),
            other => Err(format!(
                "unknown level {other:?} (B-B | B-T | B-LT | B-LTA)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("unknown signing profile {0:?}")]
    UnknownProfile(String),
    #[error("signing profile {profile}: {detail}")]
    Profile { profile: String, detail: String },
    #[error("the PDF cannot be signed: {0}")]
    Pdf(#[from] pdf::SignPdfError),
    #[error("building the CMS signature failed: {0}")]
    Cms(#[from] cms::CmsBuildError),
    #[error("the timestamp authority failed: {0}")]
    Tsa(#[from] tsa::TsaError),
    /// B-LT needs revocation data for every certificate of the chains (`ltv`).
    #[error("validation data for B-LT: {0}")]
    Ltv(#[from] ltv::LtvError),
    #[error("level {level} needs a timestamp authority, and profile {profile} has none")]
    NoTsa {
        level: &'static str,
        profile: String,
    },
    /// The result did not validate with antin's own verifier: nothing is returned.
    #[error("the signed document does not validate ({verdict}): {detail}")]
    SelfCheck { verdict: String, detail: String },
    #[error("verifying the signed document failed: {0}")]
    Verify(String),
}

/// Where timestamps come from.
pub enum TsaSource {
    /// The built-in test TSA, in process (development and tests).
    Dev(Arc<DevTsa>),
    /// An RFC 3161 TSA over HTTP.
    Remote(TsaClient),
}

impl TsaSource {
    /// A verified timestamp token over `imprint`.
    pub async fn timestamp(
        &self,
        digest: DigestAlg,
        imprint: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        match self {
            TsaSource::Remote(client) => Ok(client.timestamp(digest, imprint).await?),
            TsaSource::Dev(dev) => {
                let mut nonce = [0u8; 8];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
                    .map_err(|_| SignError::Verify("the system random generator failed".into()))?;
                nonce[0] &= 0x7f;
                nonce[0] |= 0x01;
                let req = tsa::request_der(digest, imprint, &nonce, None)?;
                let resp = dev.respond(&req, now);
                let policy = crate::pki::algorithms::AlgorithmPolicy::default();
                Ok(tsa::verify_response(
                    &resp, digest, imprint, &nonce, &policy,
                )?)
            }
        }
    }
}

/// A loaded signing profile. The key never leaves it; `Debug` shows no key material.
pub struct Profile {
    pub name: String,
    pub agency: String,
    key: Box<dyn SigningKey>,
    pub cert: X509,
    pub chain: Vec<X509>,
    pub level: Level,
    tsa: Option<TsaSource>,
    /// TSA certificates to put in the DSS (the dev TSA's chain).
    tsa_chain: Vec<X509>,
    crls: Vec<Vec<u8>>,
    /// Where B-LT's OCSP responses come from (`ocsp = "dev" | "fetch" | "off"`).
    ocsp: OcspSource,
    /// The visible signature, when the profile has one.
    pub appearance: Option<ProfileAppearance>,
    /// `<public url>/v/`: the QR code's address is this followed by the document id.
    verify_url_base: String,
    /// The signer as the agency publishes it (check page); else the certificate's common name.
    published_signer: Option<String>,
    /// The document type when a request names none.
    pub document_type: Option<String>,
}

/// A profile's visible signature, loaded: images decoded and the font checked once.
#[derive(Debug, Clone)]
pub struct ProfileAppearance {
    font: Font,
    font_size: f64,
    seal: Option<Arc<Image>>,
    signature: Option<Arc<Image>>,
    lines: Vec<String>,
    /// Where the signature goes when a request names no place.
    pub default_place: Option<(i64, [f64; 4])>,
    qr: Option<QrPlacement>,
}

#[derive(Debug, Clone, PartialEq)]
enum QrPlacement {
    /// Inside the stamp; on a page (page, [x, y, side]) when the signature is invisible.
    Stamp {
        page: i64,
        rect: [f64; 3],
    },
    Page {
        page: i64,
        rect: [f64; 3],
    },
}

impl ProfileAppearance {
    fn load(cfg: &crate::config::AppearanceConfig) -> Result<Self, String> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let font = match &cfg.font {
            Some(p) => Font::from_bytes(read(p)?).map_err(|e| format!("{}: {e}", p.display()))?,
            None => Font::builtin()?,
        };
        let image = |p: &Option<std::path::PathBuf>| -> Result<Option<Arc<Image>>, String> {
            p.as_ref()
                .map(|p| {
                    Image::from_png(&read(p)?)
                        .map(Arc::new)
                        .map_err(|e| format!("{}: {e}", p.display()))
                })
                .transpose()
        };
        if !(cfg.font_size.is_finite() && (4.0..=72.0).contains(&cfg.font_size)) {
            return Err(format!(
                "font_size {} is not between 4 and 72",
                cfg.font_size
            ));
        }
        // Every character of the fixed text must have a glyph: found now, not at signing time.
        for l in &cfg.lines {
            let fixed: String = l
                .split('{')
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part
                    } else {
                        part.split_once('}').map(|(_, rest)| rest).unwrap_or(part)
                    }
                })
                .collect();
            font.layout(&fixed)?;
        }
        let default_place = match (cfg.page, cfg.rect) {
            (Some(page), Some(rect)) => {
                if page == 0
                    || !rect.iter().all(|v| v.is_finite())
                    || rect[2] <= 0.0
                    || rect[3] <= 0.0
                {
                    return Err(
                        "appearance page must not be 0 and rect must be x, y, w, h with w, h > 0"
                            .into(),
                    );
                }
                Some((page, rect))
            }
            (None, None) => None,
            _ => return Err("appearance page and rect go together".into()),
        };
        let qr = match &cfg.qr {
            None => None,
            Some(q) => {
                if q.page == 0 || !q.rect.iter().all(|v| v.is_finite()) || q.rect[2] < 36.0 {
                    return Err("qr page must not be 0 and rect must be x, y, side with side >= 36 points (12.7 mm, so that phones can read it)".into());
                }
                Some(match q.place.as_str() {
                    "stamp" => QrPlacement::Stamp {
                        page: q.page,
                        rect: q.rect,
                    },
                    "page" => QrPlacement::Page {
                        page: q.page,
                        rect: q.rect,
                    },
                    other => {
                        return Err(format!(
                            "qr place {other:?}: expected \"stamp\" or \"page\""
                        ))
                    }
                })
            }
        };
        Ok(ProfileAppearance {
            font,
            font_size: cfg.font_size,
            seal: image(&cfg.seal)?,
            signature: image(&cfg.signature)?,
            lines: cfg.lines.clone(),
            default_place,
            qr,
        })
    }
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("agency", &self.agency)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

fn read_certs(path: &Path) -> Result<Vec<X509>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        X509::stack_from_pem(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        X509::from_der(&bytes)
            .map(|c| vec![c])
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn read_crl_der(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----") {
        openssl::x509::X509Crl::from_pem(&bytes)
            .and_then(|c| c.to_der())
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        openssl::x509::X509Crl::from_der(&bytes)
            .map(|_| bytes)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn parse_scheme(s: &str) -> Result<SignatureScheme, String> {
    Ok(match s {
        "rsa-pss-sha256" => SignatureScheme::RsaPssSha256,
        "rsa-pss-sha384" => SignatureScheme::RsaPssSha384,
        "rsa-pss-sha512" => SignatureScheme::RsaPssSha512,
        "rsa-pkcs1-sha256" => SignatureScheme::RsaPkcs1Sha256,
        "rsa-pkcs1-sha384" => SignatureScheme::RsaPkcs1Sha384,
        "rsa-pkcs1-sha512" => SignatureScheme::RsaPkcs1Sha512,
        "ecdsa-p256-sha256" | "ecdsa-sha256" => SignatureScheme::EcdsaP256Sha256,
        "ecdsa-p384-sha384" | "ecdsa-sha384" => SignatureScheme::EcdsaP384Sha384,
        other => return Err(format!("unknown signature scheme {other:?}")),
    })
}

impl Profile {
    /// Loads a profile from its configuration; secrets come from the environment variables the
    /// configuration names, never from the configuration itself.
    pub fn load(
        name: &str,
        cfg: &SigningProfileConfig,
        dev_tsa: Option<&(Arc<DevTsa>, Vec<X509>)>,
        public_url: &str,
    ) -> Result<Self, SignError> {
        Self::load_with(
            name,
            cfg,
            dev_tsa,
            None,
            std::time::Duration::from_secs(10),
            public_url,
        )
    }

    /// [`Profile::load`] with the dev OCSP responder (for `ocsp = "dev"`) and the fetch timeout
    /// (for `ocsp = "fetch"`).
    pub fn load_with(
        name: &str,
        cfg: &SigningProfileConfig,
        dev_tsa: Option<&(Arc<DevTsa>, Vec<X509>)>,
        dev_ocsp: Option<&Arc<DevOcsp>>,
        fetch_timeout: std::time::Duration,
        public_url: &str,
    ) -> Result<Self, SignError> {
        let err = |detail: String| SignError::Profile {
            profile: name.to_owned(),
            detail,
        };
        let scheme = cfg
            .scheme
            .as_deref()
            .map(parse_scheme)
            .transpose()
            .map_err(err)?;
        let secret = |var: &Option<String>| -> Result<Option<String>, SignError> {
            match var {
                None => Ok(None),
                Some(v) => std::env::var(v)
                    .map(Some)
                    .map_err(|_| err(format!("the environment variable {v} is not set"))),
            }
        };
        let file_cert = match &cfg.cert {
            Some(path) => read_certs(path).map_err(err)?.into_iter().next(),
            None => None,
        };
        let (key, mut cert, mut chain): (Box<dyn SigningKey>, Option<X509>, Vec<X509>) = match (
            &cfg.pkcs11_module,
            &cfg.pkcs12,
            &cfg.key,
        ) {
            (Some(module), None, None) => {
                let key_id = cfg
                    .pkcs11_key_id
                    .as_deref()
                    .map(pkcs11::parse_key_id)
                    .transpose()
                    .map_err(err)?;
                // The PIN goes from the environment straight into a secret; never a String
                // that could be logged or formatted.
                let pin = match &cfg.pkcs11_pin_env {
                    None => None,
                    Some(v) => Some(
                        std::env::var(v)
                            .map(SecretString::from)
                            .map_err(|_| err(format!("the environment variable {v} is not set")))?,
                    ),
                };
                let method = cfg
                    .pkcs11_mechanism
                    .as_deref()
                    .map(pkcs11::parse_method)
                    .transpose()
                    .map_err(err)?;
                let params = Pkcs11Params {
                    module: module.clone(),
                    token_label: cfg.pkcs11_token_label.clone(),
                    token_serial: cfg.pkcs11_token_serial.clone(),
                    key_label: cfg.pkcs11_key_label.clone(),
                    key_id,
                    pin,
                    method,
                };
                let k = Pkcs11Key::open(params, scheme, file_cert.as_ref())
                    .map_err(|e| err(e.to_string()))?;
                tracing::info!(profile = name, key = ?k, mechanism = %k.mechanism(), "signing key on a PKCS#11 token");
                let c = k.token_certificate().cloned();
                (Box::new(k), c, Vec::new())
            }
            (Some(_), _, _) => {
                return Err(err(
                    "set one key source: pkcs11_module, pkcs12 or key, not several".into(),
                ))
            }
            (None, Some(p12), _) => {
                let der = std::fs::read(p12).map_err(|e| err(format!("{}: {e}", p12.display())))?;
                let password = secret(&cfg.pkcs12_password_env)?.unwrap_or_default();
                let (k, c, ch) = FileKey::from_pkcs12(&der, &password, scheme)
                    .map_err(|e| err(e.to_string()))?;
                (Box::new(k), Some(c), ch)
            }
            (None, None, Some(path)) => {
                let pem =
                    std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
                let pass = secret(&cfg.key_passphrase_env)?;
                let k = FileKey::from_pem(&pem, pass.as_deref().map(str::as_bytes), scheme)
                    .map_err(|e| err(e.to_string()))?;
                (Box::new(k), None, Vec::new())
            }
            (None, None, None) => {
                return Err(err("no key: set key, pkcs12 or pkcs11_module".into()))
            }
        };
        if file_cert.is_some() {
            cert = file_cert;
        }
        let cert = cert.ok_or_else(|| err("no certificate: set cert".into()))?;
        for p in &cfg.chain {
            chain.extend(read_certs(p).map_err(err)?);
        }
        if !super::keys::certificate_matches(key.as_ref(), &cert) {
            return Err(err("the key does not match the certificate".into()));
        }
        let level: Level = cfg.level.parse().map_err(err)?;
        let (tsa, tsa_chain) = match cfg.tsa.as_deref() {
            None | Some("") => (None, Vec::new()),
            Some("dev") => match dev_tsa {
                Some((dev, chain)) => (Some(TsaSource::Dev(dev.clone())), chain.clone()),
                None => {
                    return Err(err(
                        "tsa = \"dev\" but sign.dev_tsa is off (the built-in test TSA)".into(),
                    ))
                }
            },
            Some(url) => (
                Some(TsaSource::Remote(
                    TsaClient::new(url, std::time::Duration::from_secs(10))
                        .map_err(|e| err(e.to_string()))?,
                )),
                Vec::new(),
            ),
        };
        if level >= Level::BT && tsa.is_none() {
            return Err(err(format!("level {} needs a tsa", level.as_str())));
        }
        let crls = cfg
            .crls
            .iter()
            .map(|p| read_crl_der(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let appearance = cfg
            .appearance
            .as_ref()
            .map(ProfileAppearance::load)
            .transpose()
            .map_err(|e| err(format!("appearance: {e}")))?;
        let ocsp = match cfg.ocsp.as_deref() {
            None | Some("") | Some("off") => OcspSource::Off,
            Some("dev") => match dev_ocsp {
                Some(d) => OcspSource::Dev(d.clone()),
                None => {
                    return Err(err(
                        "ocsp = \"dev\" but sign.dev_ocsp is off (the built-in OCSP responder)"
                            .into(),
                    ))
                }
            },
            Some("fetch") => OcspSource::Fetch(Arc::new(
                crate::pki::fetch::Fetcher::new(crate::pki::fetch::FetchConfig {
                    timeout: fetch_timeout,
                    connect_timeout: fetch_timeout,
                    ..Default::default()
                })
                .map_err(|e| err(e.to_string()))?,
            )),
            Some(other) => return Err(err(format!("unknown ocsp {other:?} (dev | fetch | off)"))),
        };
        Ok(Profile {
            name: name.to_owned(),
            agency: cfg.agency.clone(),
            key,
            cert,
            chain,
            level,
            tsa,
            tsa_chain,
            crls,
            appearance,
            verify_url_base: format!("{}/v/", public_url.trim_end_matches('/')),
            ocsp,
            published_signer: cfg
                .published_signer
                .clone()
                .filter(|s| !s.trim().is_empty()),
            document_type: cfg.document_type.clone().filter(|s| !s.trim().is_empty()),
        })
    }

    /// The timestamp authority, if the profile has one.
    pub fn tsa(&self) -> Option<&TsaSource> {
        self.tsa.as_ref()
    }

    /// The configured TSA certificates (the dev TSA's chain).
    pub fn tsa_chain(&self) -> &[X509] {
        &self.tsa_chain
    }

    /// The CRL files (DER) and the OCSP source B-LT draws on.
    pub fn revocation_sources(&self) -> (&[Vec<u8>], &OcspSource) {
        (&self.crls, &self.ocsp)
    }

    /// SHA-256 of the signer's certificate.
    pub fn cert_sha256(&self) -> String {
        self.cert
            .to_der()
            .map(|d| hex::encode(openssl::sha::sha256(&d)))
            .unwrap_or_default()
    }

    pub fn signer_subject(&self) -> String {
        crate::pki::identity::format_dn(self.cert.subject_name())
    }

    /// The signer as the check page shows it: the configured `published_signer`, else the
    /// certificate's common name (never the full subject, which may carry a CCCD number).
    pub fn published_signer(&self) -> String {
        self.published_signer
            .clone()
            .or_else(|| self.signer_name())
            .unwrap_or_else(|| self.agency.clone())
    }

    fn signer_name(&self) -> Option<String> {
        self.cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
    }
}

/// Every configured profile, loaded once.
pub struct Signer {
    profiles: BTreeMap<String, Profile>,
    default: String,
    dev_tsa: Option<Arc<DevTsa>>,
    dev_ocsp: Option<Arc<DevOcsp>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads every profile; `public_url` is the service's public address, the base of the QR
    /// codes' verification URLs.
    pub fn from_config(cfg: &SignConfig, public_url: &str) -> Result<Self, SignError> {
        let dev = if cfg.dev_tsa {
            let err = |detail: String| SignError::Profile {
                profile: "(dev TSA)".into(),
                detail,
            };
            let cert = read_certs(&cfg.dev_tsa_cert)
                .map_err(err)?
                .into_iter()
                .next()
                .ok_or_else(|| err("no TSA certificate".into()))?;
            let pem = std::fs::read(&cfg.dev_tsa_key)
                .map_err(|e| err(format!("{}: {e}", cfg.dev_tsa_key.display())))?;
            let key = FileKey::from_pem(&pem, None, None).map_err(|e| err(e.to_string()))?;
            let mut chain = Vec::new();
            for p in &cfg.dev_tsa_chain {
                chain.extend(read_certs(p).map_err(err)?);
            }
            let mut dss_chain = vec![cert.clone()];
            dss_chain.extend(chain.iter().cloned());
            let dev = Arc::new(DevTsa::new(cert, key, chain).map_err(|e| err(e.to_string()))?);
            Some((dev, dss_chain))
        } else {
            None
        };
        let dev_ocsp = if cfg.dev_ocsp {
            Some(Arc::new(DevOcsp::from_config(cfg).map_err(|e| {
                SignError::Profile {
                    profile: "(dev OCSP responder)".into(),
                    detail: e.to_string(),
                }
            })?))
        } else {
            None
        };
        let timeout = std::time::Duration::from_secs(cfg.fetch_timeout_secs.max(1));
        let mut profiles = BTreeMap::new();
        for (name, p) in &cfg.profiles {
            profiles.insert(
                name.clone(),
                Profile::load_with(
                    name,
                    p,
                    dev.as_ref(),
                    dev_ocsp.as_ref(),
                    timeout,
                    public_url,
                )?,
            );
        }
        Ok(Signer {
            profiles,
            default: cfg.default_profile.clone(),
            dev_tsa: dev.map(|(d, _)| d),
            dev_ocsp,
        })
    }

    /// The built-in test OCSP responder, when enabled.
    pub fn dev_ocsp(&self) -> Option<Arc<DevOcsp>> {
        self.dev_ocsp.clone()
    }

    /// The profile by name, or the default one.
    pub fn profile(&self, name: Option<&str>) -> Result<&Profile, SignError> {
        let name = name.unwrap_or(&self.default);
        self.profiles
            .get(name)
            .ok_or_else(|| SignError::UnknownProfile(name.to_owned()))
    }

    pub fn profile_names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// The built-in test TSA, when enabled.
    pub fn dev_tsa(&self) -> Option<Arc<DevTsa>> {
        self.dev_tsa.clone()
    }
}

/// What to sign and how.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    pub level: Option<Level>,
    /// `None`: the profile's default place (visible when its appearance names a page and a
    /// rectangle, else invisible).
    pub placement: Option<Placement>,
    /// The id the document is issued under (see [`new_document_id`]): the QR code's address ends
    /// with it. Required when the profile's appearance has a QR code.
    pub document_id: Option<String>,
    pub field_name: Option<String>,
    pub certify: Option<u8>,
    pub reason: Option<String>,
    pub location: Option<String>,
}

/// A signed document.
#[derive(Debug, Clone)]
pub struct Signed {
    pub bytes: Vec<u8>,
    pub level: Level,
}

fn der_len(certs: &[&X509]) -> usize {
    certs
        .iter()
        .map(|c| c.to_der().map(|d| d.len()).unwrap_or(2048))
        .sum()
}

fn key_bits(cert: &X509) -> usize {
    cert.public_key().map(|k| k.bits() as usize).unwrap_or(4096)
}

/// Signs `input` with `profile` at the requested level (default: the profile's), as of `now`.
pub async fn sign(
    profile: &Profile,
    input: &[u8],
    opts: &SignOptions,
    now: OffsetDateTime,
) -> Result<Signed, SignError> {
    let level = opts.level.unwrap_or(profile.level);
    let tsa = match (&profile.tsa, level >= Level::BT) {
        (_, false) => None,
        (Some(t), true) => Some(t),
        (None, true) => {
            return Err(SignError::NoTsa {
                level: level.as_str(),
                profile: profile.name.clone(),
            })
        }
    };
    let scheme = profile.key.scheme();
    let digest = scheme.digest();

    // B-B: the signature itself.
    let mut all: Vec<&X509> = vec![&profile.cert];
    all.extend(profile.chain.iter());
    let capacity = cms::estimate_size(der_len(&all), key_bits(&profile.cert), level >= Level::BT)
        + der_len(&profile.tsa_chain.iter().collect::<Vec<_>>());
    let mut req = SignatureRequest::new(SignatureKind::Signature, now);
    req.field_name = opts
        .field_name
        .clone()
        .unwrap_or_else(|| "Signature1".to_owned());
    let placement = resolve_placement(profile, input, opts.placement.as_ref())?;
    if let Placement::Field(name) = &placement {
        req.field_name = name.clone();
    }
    req.placement = placement;
    req.name = profile.signer_name();
    req.reason = opts.reason.clone();
    req.location = opts.location.clone();
    req.contents_capacity = capacity;
    req.certify = opts.certify;
    if let Some(app) = &profile.appearance {
        let (stamp, stamps) = build_appearance(profile, app, input, &req, opts, now)?;
        req.appearance = stamp;
        req.stamps = stamps;
    }
    let prepared = pdf::prepare(input, &req)?;
    let md = digest.digest(&prepared.signed_parts());
    let mut signed_data = cms::build_signed_data(
        &CmsRequest {
            digest,
            message_digest: md,
            signer_cert: &profile.cert,
            chain: &profile.chain,
            signing_time: None,
            content_timestamp: None,
        },
        profile.key.as_ref(),
    )?;
    // B-T: a signature timestamp over the signature value.
    let mut sig_token = None;
    if let Some(tsa) = tsa {
        let value = cms::signature_value(&signed_data)?;
        let imprint = digest.digest(&[&value]);
        let token = tsa.timestamp(digest, &imprint, now).await?;
        signed_data = cms::add_unsigned_timestamp(&signed_data, &token)?;
        sig_token = Some(token);
    }
    let mut bytes = prepared.finish(&signed_data)?;
    // B-LT: the chain, the TSA's chain and their verified revocation data in the DSS, with a VRI.
    if level >= Level::BLT {
        let chain: Vec<X509> = all.iter().map(|c| (*c).clone()).collect();
        let dss = ltv::signature_dss(
            profile.revocation_sources(),
            &chain,
            sig_token.as_deref(),
            &profile.tsa_chain,
            &signed_data,
            now,
        )
        .await?;
        bytes = pdf::add_dss(&bytes, &dss)?;
    }
    // B-LTA: a document timestamp over all of it.
    if level >= Level::BLTA {
        if let Some(tsa) = tsa {
            let mut req = SignatureRequest::new(SignatureKind::DocumentTimestamp, now);
            req.field_name = "DocTimeStamp1".to_owned();
            req.placement = Placement::Invisible;
            req.contents_capacity = 8192 + der_len(&profile.tsa_chain.iter().collect::<Vec<_>>());
            let prepared = pdf::prepare(&bytes, &req)?;
            let imprint = DigestAlg::Sha256.digest(&prepared.signed_parts());
            let token = tsa.timestamp(DigestAlg::Sha256, &imprint, now).await?;
            bytes = prepared.finish(&token)?;
            // The document timestamp's own validation data, after it (renewed with the archive).
            let dss = ltv::timestamp_dss(
                profile.revocation_sources(),
                &token,
                &profile.tsa_chain,
                now,
            )
            .await?;
            bytes = pdf::add_dss(&bytes, &dss)?;
        }
    }
    Ok(Signed { bytes, level })
}

/// A new document id (UUID v4): issued results are named by it, in the log, the QR code and the
/// check page.
pub fn new_document_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The request's place, or the profile's default one (a page counted from the end resolved).
fn resolve_placement(
    profile: &Profile,
    input: &[u8],
    asked: Option<&Placement>,
) -> Result<Placement, SignError> {
    if let Some(p) = asked {
        return Ok(p.clone());
    }
    match profile.appearance.as_ref().and_then(|a| a.default_place) {
        None => Ok(Placement::Invisible),
        Some((page, rect)) => Ok(Placement::Visible {
            page: resolve_page(input, page)?,
            rect,
        }),
    }
}

fn resolve_page(input: &[u8], page: i64) -> Result<usize, SignError> {
    if page > 0 {
        return Ok(usize::try_from(page).unwrap_or(usize::MAX));
    }
    let n = pdf::page_count(input)?;
    let from_end = usize::try_from(page.unsigned_abs()).unwrap_or(usize::MAX);
    n.checked_sub(from_end).map(|i| i + 1).ok_or(SignError::Pdf(
        pdf::SignPdfError::PageOutOfRange {
            page: from_end,
            pages: n,
        },
    ))
}

/// The widget's stamp (none for an invisible signature) and the page stamps.
type Stamps = (Option<Arc<dyn pdf::AppearanceSource>>, Vec<PageStamp>);

/// The stamp for the signature's widget and the page stamps (the QR code on its own).
fn build_appearance(
    profile: &Profile,
    app: &ProfileAppearance,
    input: &[u8],
    req: &SignatureRequest,
    opts: &SignOptions,
    now: OffsetDateTime,
) -> Result<Stamps, SignError> {
    let bad = |detail: String| SignError::Pdf(pdf::SignPdfError::Appearance(detail));
    let qr = match &app.qr {
        None => None,
        Some(place) => {
            let id = opts
                .document_id
                .as_deref()
                .ok_or_else(|| bad("the profile's QR code needs the document id".to_owned()))?;
            let url = format!("{}{id}", profile.verify_url_base);
            Some((QrCode::new(&url).map_err(bad)?, url, place.clone()))
        }
    };
    let visible = !matches!(req.placement, Placement::Invisible);
    let mut stamps = Vec::new();
    let mut in_stamp = None;
    if let Some((code, url, place)) = qr {
        match (place, visible) {
            (QrPlacement::Stamp { .. }, true) => in_stamp = Some(code),
            (QrPlacement::Stamp { page, rect } | QrPlacement::Page { page, rect }, _) => stamps
                .push(PageStamp {
                    page: i64::try_from(resolve_page(input, page)?).unwrap_or(i64::MAX),
                    rect: [rect[0], rect[1], rect[2], rect[2]],
                    appearance: Arc::new(QrStamp(code)),
                    alt_text: format!("Mã QR kiểm tra văn bản điện tử: {url}"),
                }),
        }
    }
    let stamp = if visible {
        let time = crate::timefmt::vietnam(now);
        let signer = profile.signer_name().unwrap_or_default();
        let values = [
            ("agency", profile.agency.as_str()),
            ("signer", signer.as_str()),
            ("time", time.as_str()),
            ("reason", opts.reason.as_deref().unwrap_or("")),
            ("location", opts.location.as_deref().unwrap_or("")),
            ("document_id", opts.document_id.as_deref().unwrap_or("")),
        ];
        let lines = app
            .lines
            .iter()
            .filter_map(|l| appearance::fill_template(l, &values))
            .collect();
        let s: Arc<dyn pdf::AppearanceSource> = Arc::new(Stamp {
            font: app.font.clone(),
            font_size: app.font_size,
            seal: app.seal.clone(),
            signature: app.signature.clone(),
            lines,
            qr: in_stamp,
        });
        Some(s)
    } else {
        None
    };
    Ok((stamp, stamps))
}

/// Verifies what [`sign`] produced with antin's own verifier, offline, with the profile's
/// revocation data: the signature must pass and reach the level asked for.
pub fn self_check(
    context: &crate::verify::engine::Context,
    profile: &Profile,
    signed: &Signed,
    now: OffsetDateTime,
) -> Result<crate::verify::Report, SignError> {
    let options = crate::verify::VerifyOptions {
        revocation: crate::config::RevocationMode::Require,
        offline: true,
        at: Some(now),
        expected_signer_id: None,
        algorithm_policy: crate::config::AlgorithmPolicyName::Default,
        extra_crls: profile.crls.clone(),
    };
    let report = context
        .run(
            &crate::verify::Input::Pdf(signed.bytes.clone()),
            &options,
            now,
            &Default::default(),
        )
        .map_err(|e| SignError::Verify(e.to_string()))?
        .outcome
        .report;
    let ours = report
        .signatures
        .iter()
        .rfind(|s| s.kind == crate::verify::report::SignatureKind::Signature);
    let reached = ours.and_then(|s| s.level.clone());
    if report.verdict.as_str() != "TOTAL_PASSED"
        || reached.as_deref() != Some(signed.level.as_str())
    {
        let detail = ours
            .map(|s| {
                s.errors
                    .iter()
                    .map(|e| format!("[{}] {}", e.code, e.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        return Err(SignError::SelfCheck {
            verdict: format!(
                "{}, level {}",
                report.verdict.as_str(),
                reached.unwrap_or_else(|| "-".into())
            ),
            detail: format!("{} {}", report.summary.en, detail),
        });
    }
    Ok(report)
}

/// Why a rectangle `x,y,w,h` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RectError {
    /// Not four comma-separated numbers.
    NotNumbers,
    /// Four numbers, but not finite or with a width or height that is not positive.
    Invalid,
}

/// Parses a placement rectangle `x,y,w,h` in PDF points (the CLI's `--rect`, the API's `rect`).
pub fn parse_rect(s: &str) -> Result<[f64; 4], RectError> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| RectError::NotNumbers)?;
    match v[..] {
        [x, y, w, h] if w > 0.0 && h > 0.0 && v.iter().all(|n| n.is_finite()) => Ok([x, y, w, h]),
        _ => Err(RectError::Invalid),
    }
}

/// What the agency publishes about one document on the check page (besides the agency and the
/// signer, which come from the profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// e.g. "Phiếu lý lịch tư pháp"; absent: the profile's `document_type`.
    pub document_type: Option<String>,
    /// The agency's own number for the document, e.g. "123/STP-LLTP".
    pub document_number: Option<String>,
}

/// What is stored and logged for an issued document under `id` (from [`new_document_id`], given
/// to [`sign`] for the QR code): its record and its transparency-log entry (the CLI and the API record the same way).
#[allow(clippy::too_many_arguments)]
pub fn issued(
    id: &str,
    profile: &Profile,
    input: &[u8],
    signed: &Signed,
    caller: &str,
    dossier: Option<&str>,
    published: &Published,
    now: OffsetDateTime,
) -> (crate::store::SignedDocumentRecord, crate::store::LogInput) {
    let id = id.to_owned();
    let signed_sha = hex::encode(openssl::sha::sha256(&signed.bytes));
    let record = crate::store::SignedDocumentRecord {
        id: id.clone(),
        created_at: now,
        caller: caller.to_owned(),
        profile: profile.name.clone(),
        agency: profile.agency.clone(),
        level: signed.level.as_str().to_owned(),
        input_sha256: hex::encode(openssl::sha::sha256(input)),
        signed_sha256: signed_sha.clone(),
        signed_size: i64::try_from(signed.bytes.len()).unwrap_or(i64::MAX),
        signer_cert_sha256: profile.cert_sha256(),
        signer_subject: profile.signer_subject(),
        dossier: dossier.map(str::to_owned),
        status: "valid".into(),
        status_reason: None,
        status_changed_at: None,
        document_type: published
            .document_type
            .clone()
            .or_else(|| profile.document_type.clone()),
        document_number: published.document_number.clone(),
        published_signer: Some(profile.published_signer()),
        superseded_by: None,
    };
    let entry = crate::audit::record::document_signed(
        &id,
        &signed_sha,
        &profile.name,
        &record.signer_cert_sha256,
        dossier,
        caller,
        now,
    );
    (record, entry)
}
