//! Signing keys on PKCS#11 tokens and HSMs (OASIS PKCS#11 v2.40 / 3.x) through `cryptoki`.
//!
//! The private key never leaves the token: antin hashes on the host and asks the token for the
//! raw signature primitive (CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS over the digest,
//! CKM_ECDSA over the digest), which every token and HSM we know implements; when a token lists
//! only the hash-and-sign mechanisms (CKM_SHA256_RSA_PKCS, ...), those are used instead. The
//! public key is read from the token (CKA_MODULUS/CKA_PUBLIC_EXPONENT, CKA_EC_POINT) and a test
//! signature is made and checked at load, so a wrong key or an unsupported mechanism is refused
//! before the first document.
//!
//! One login per token (PKCS#11 login state is per application and token), a small pool of
//! sessions shared by all threads, and one reconnect (slot looked up again by token label or
//! serial, login again) when a call says the token or the session is gone.
//!
//! This module never logs or formats the PIN: it lives in a [`SecretString`] from the moment it
//! is read from the environment, and errors carry PKCS#11 return codes (CKR_...) only.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use secrecy::SecretString;

use super::keys::{self, DigestAlg, KeyError, SignatureScheme, SigningKey};

/// Idle sessions kept open for reuse; more are opened under load and closed when returned.
const MAX_IDLE_SESSIONS: usize = 4;

/// Where the key is: the module, the token, the key, and the user PIN.
pub struct Pkcs11Params {
    /// The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so.
    pub module: PathBuf,
    /// CKA token label (CK_TOKEN_INFO.label), and/or its serial number.
    pub token_label: Option<String>,
    pub token_serial: Option<String>,
    /// The private key's CKA_LABEL and/or CKA_ID.
    pub key_label: Option<String>,
    pub key_id: Option<Vec<u8>>,
    /// The user PIN; None for tokens with a protected authentication path (PIN pad).
    pub pin: Option<SecretString>,
    /// None: [`Method::HostDigest`] when the token lists the raw mechanism, else
    /// [`Method::TokenDigest`].
    pub method: Option<Method>,
}

impl fmt::Debug for Pkcs11Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Params")
            .field("module", &self.module)
            .field("token", &self.token_description())
            .field("key", &self.key_description())
            .field("pin", &self.pin.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Pkcs11Params {
    fn token_description(&self) -> String {
        match (&self.token_label, &self.token_serial) {
            (Some(l), Some(s)) => format!("label {l:?} serial {s:?}"),
            (Some(l), None) => format!("label {l:?}"),
            (None, Some(s)) => format!("serial {s:?}"),
            (None, None) => "(none)".to_owned(),
        }
    }

    fn key_description(&self) -> String {
        match (&self.key_label, &self.key_id) {
            (Some(l), Some(id)) => format!("label {l:?} id {}", hex::encode(id)),
            (Some(l), None) => format!("label {l:?}"),
            (None, Some(id)) => format!("id {}", hex::encode(id)),
            (None, None) => "(none)".to_owned(),
        }
    }
}

/// How the token is asked to sign (`pkcs11_mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The host hashes; the token applies the raw primitive (CKM_RSA_PKCS over a DigestInfo,
    /// CKM_RSA_PKCS_PSS or CKM_ECDSA over the digest).
    HostDigest,
    /// The token hashes and signs (CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256).
    TokenDigest,
}

/// An open connection to the token: the slot, the key's handle and idle logged-in sessions.
struct Connection {
    slot: Slot,
    key: ObjectHandle,
    idle: Vec<Session>,
    generation: u64,
}

/// A private key on a PKCS#11 token. `Debug` shows where it is, never the PIN.
pub struct Pkcs11Key {
    ctx: Pkcs11,
    params: Pkcs11Params,
    scheme: SignatureScheme,
    method: Method,
    /// Bytes of the EC group order (32 for P-256, 48 for P-384); 0 for RSA.
    ec_order_len: usize,
    public_der: Vec<u8>,
    description: String,
    token_certificate: Option<X509>,
    state: Mutex<(Option<Connection>, u64)>,
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("module", &self.params.module)
            .field("token", &self.params.token_description())
            .field("key", &self.params.key_description())
            .field("type", &self.description)
            .field("scheme", &self.scheme)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// One context per module for the whole process: C_Initialize may be called once per process,
/// and two contexts on one library would share (and finalize) the same state.
fn context(module: &Path) -> Result<Pkcs11, KeyError> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let modules = MODULES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = modules.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    let load_err = |detail: String| KeyError::Pkcs11Module {
        module: module.display().to_string(),
        detail,
    };
    if !module.is_file() {
        return Err(load_err("no such file".into()));
    }
    let ctx = Pkcs11::new(module).map_err(|e| load_err(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(load_err(describe(&e))),
    }
    map.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

/// A PKCS#11 error as its return code (`C_Sign: CKR_DEVICE_REMOVED`); never any argument.
fn describe(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => {
            let f = format!("{function:?}");
            format!("C_{f}: {}", ckr_name(rv))
        }
        CkError::LibraryLoading(e) => format!("loading the module: {e}"),
        other => format!("{other:?}"),
    }
}

/// `PinIncorrect` -> `CKR_PIN_INCORRECT`, the name operators find in their HSM's manual.
fn ckr_name(rv: &RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase()
            || (c.is_ascii_digit() && !out.ends_with(|d: char| d.is_ascii_digit()))
        {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Return codes that mean the token, the slot or our sessions are gone: reconnect once.
fn is_gone(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionClosed
                | RvError::SessionHandleInvalid
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::SlotIdInvalid
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

fn pkcs11_err(operation: &'static str) -> impl Fn(CkError) -> KeyError {
    move |e| KeyError::Pkcs11 {
        operation,
        detail: describe(&e),
    }
}

/// The DER prefix of DigestInfo for each hash (RFC 8017 9.2, note 1).
fn digest_info_prefix(d: DigestAlg) -> &'static [u8] {
    match d {
        DigestAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        DigestAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        DigestAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

fn hash_mechanism(d: DigestAlg) -> MechanismType {
    match d {
        DigestAlg::Sha256 => MechanismType::SHA256,
        DigestAlg::Sha384 => MechanismType::SHA384,
        DigestAlg::Sha512 => MechanismType::SHA512,
    }
}

/// CK_RSA_PKCS_PSS_PARAMS matching the file-key PSS and the verifier: MGF1 with the same hash,
/// salt length = digest length (RFC 8017 9.1, RFC 4055 3.1).
fn pss_params(d: DigestAlg) -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: hash_mechanism(d),
        mgf: match d {
            DigestAlg::Sha256 => PkcsMgfType::MGF1_SHA256,
            DigestAlg::Sha384 => PkcsMgfType::MGF1_SHA384,
            DigestAlg::Sha512 => PkcsMgfType::MGF1_SHA512,
        },
        // At most 64: the cast cannot truncate.
        s_len: (d.output_len() as u64).into(),
    }
}

/// The mechanism type `method` needs for `scheme` (to check it against the token's list).
fn mechanism_type(scheme: SignatureScheme, method: Method) -> MechanismType {
    let d = scheme.digest();
    match (method, scheme.is_pkcs1(), scheme.is_pss()) {
        (Method::HostDigest, true, _) => MechanismType::RSA_PKCS,
        (Method::HostDigest, _, true) => MechanismType::RSA_PKCS_PSS,
        (Method::HostDigest, _, _) => MechanismType::ECDSA,
        (Method::TokenDigest, true, _) => match d {
            DigestAlg::Sha256 => MechanismType::SHA256_RSA_PKCS,
            DigestAlg::Sha384 => MechanismType::SHA384_RSA_PKCS,
            DigestAlg::Sha512 => MechanismType::SHA512_RSA_PKCS,
        },
        (Method::TokenDigest, _, true) => match d {
            DigestAlg::Sha256 => MechanismType::SHA256_RSA_PKCS_PSS,
            DigestAlg::Sha384 => MechanismType::SHA384_RSA_PKCS_PSS,
            DigestAlg::Sha512 => MechanismType::SHA512_RSA_PKCS_PSS,
        },
        (Method::TokenDigest, _, _) => match d {
            DigestAlg::Sha256 => MechanismType::ECDSA_SHA256,
            DigestAlg::Sha384 => MechanismType::ECDSA_SHA384,
            DigestAlg::Sha512 => MechanismType::ECDSA_SHA512,
        },
    }
}

/// What goes to C_Sign, and with which mechanism, for `data` under `scheme`.
fn sign_input(
    scheme: SignatureScheme,
    method: Method,
    ec_order_len: usize,
    data: &[u8],
) -> (Mechanism<'static>, Vec<u8>) {
    let d = scheme.digest();
    match method {
        Method::TokenDigest => {
            let mech = if scheme.is_pkcs1() {
                match d {
                    DigestAlg::Sha256 => Mechanism::Sha256RsaPkcs,
                    DigestAlg::Sha384 => Mechanism::Sha384RsaPkcs,
                    DigestAlg::Sha512 => Mechanism::Sha512RsaPkcs,
                }
            } else if scheme.is_pss() {
                match d {
                    DigestAlg::Sha256 => Mechanism::Sha256RsaPkcsPss(pss_params(d)),
                    DigestAlg::Sha384 => Mechanism::Sha384RsaPkcsPss(pss_params(d)),
                    DigestAlg::Sha512 => Mechanism::Sha512RsaPkcsPss(pss_params(d)),
                }
            } else {
                match d {
                    DigestAlg::Sha256 => Mechanism::EcdsaSha256,
                    DigestAlg::Sha384 => Mechanism::EcdsaSha384,
                    DigestAlg::Sha512 => Mechanism::EcdsaSha512,
                }
            };
            (mech, data.to_vec())
        }
        Method::HostDigest => {
            let digest = d.digest(&[data]);
            if scheme.is_pkcs1() {
                // CKM_RSA_PKCS applies EMSA-PKCS1-v1_5 padding to what it is given: the
                // DigestInfo (RFC 8017 9.2 step 2), built here.
                let mut info = digest_info_prefix(d).to_vec();
                info.extend_from_slice(&digest);
                (Mechanism::RsaPkcs, info)
            } else if scheme.is_pss() {
                (Mechanism::RsaPkcsPss(pss_params(d)), digest)
            } else {
                // FIPS 186-4 6.4: the leftmost bits of the hash, as many as the order has (P-256
                // with SHA-512); done here so that tokens that do not truncate sign the same value.
                let mut digest = digest;
                digest.truncate(ec_order_len.max(1));
                (Mechanism::Ecdsa, digest)
            }
        }
    }
}

/// CKM_ECDSA returns r || s, each as long as the order (PKCS#11 2.40 curr 2.3.1); CMS carries
/// the DER ECDSA-Sig-Value (RFC 5480 / RFC 5753).
fn ecdsa_raw_to_der(raw: &[u8], order_len: usize) -> Result<Vec<u8>, KeyError> {
    if raw.len() != 2 * order_len {
        return Err(KeyError::Signing {
            detail: format!(
                "the token returned a {}-byte ECDSA signature, expected {}",
                raw.len(),
                2 * order_len
            ),
        });
    }
    let (r, s) = raw.split_at(order_len);
    let bad = |e: openssl::error::ErrorStack| KeyError::Signing {
        detail: e.to_string(),
    };
    let sig = openssl::ecdsa::EcdsaSig::from_private_components(
        BigNum::from_slice(r).map_err(bad)?,
        BigNum::from_slice(s).map_err(bad)?,
    )
    .map_err(bad)?;
    sig.to_der().map_err(bad)
}

/// The curve of DER-encoded CKA_EC_PARAMS (a namedCurve OID, RFC 5480 2.1.1.1).
fn curve_of(params: &[u8]) -> Result<Nid, KeyError> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    match params {
        p if p == P256 => Ok(Nid::X9_62_PRIME256V1),
        p if p == P384 => Ok(Nid::SECP384R1),
        other => Err(KeyError::UnsupportedCurve {
            curve: format!("CKA_EC_PARAMS {}", hex::encode(other)),
        }),
    }
}

/// CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40 curr 2.3.3); some tokens
/// return the bare point instead: both are accepted.
fn ec_point_bytes(value: &[u8]) -> &[u8] {
    if let Some(rest) = value.strip_prefix(&[0x04]) {
        let (len, body) = match rest.split_first() {
            Some((&n, body)) if n < 0x80 => (usize::from(n), body),
            Some((&0x81, [n, body @ ..])) => (usize::from(*n), body),
            _ => return value,
        };
        if body.len() == len && body.first().is_some_and(|b| matches!(b, 0x02..=0x04)) {
            return body;
        }
    }
    value
}

fn find_attr(attrs: &[Attribute], want: AttributeType) -> Option<&Attribute> {
    attrs.iter().find(|a| a.attribute_type() == want)
}

fn bytes_attr(attrs: &[Attribute], want: AttributeType) -> Option<Vec<u8>> {
    find_attr(attrs, want).and_then(|a| match a {
        Attribute::Modulus(v)
        | Attribute::PublicExponent(v)
        | Attribute::EcParams(v)
        | Attribute::EcPoint(v)
        | Attribute::Id(v)
        | Attribute::Label(v)
        | Attribute::Value(v) => Some(v.clone()),
        _ => None,
    })
}

impl Pkcs11Key {
    /// Opens the token, logs in, finds the key, reads its public key (from the token, or from
    /// `cert` when the token keeps none), and makes a test signature that must verify with it.
    /// `scheme` None picks the default for the key (RSASSA-PSS SHA-256, ECDSA with the curve's
    /// hash). When `cert` is None the token's certificate with the key's CKA_ID, if any, is read
    /// and available from [`Pkcs11Key::token_certificate`].
    pub fn open(
        params: Pkcs11Params,
        scheme: Option<SignatureScheme>,
        cert: Option<&X509>,
    ) -> Result<Self, KeyError> {
        if params.token_label.is_none() && params.token_serial.is_none() {
            return Err(KeyError::Pkcs11Config {
                detail: "name the token: pkcs11_token_label or pkcs11_token_serial".into(),
            });
        }
        if params.key_label.is_none() && params.key_id.is_none() {
            return Err(KeyError::Pkcs11Config {
                detail: "name the key: pkcs11_key_label or pkcs11_key_id".into(),
            });
        }
        let ctx = context(&params.module)?;
        let (conn, session) = connect(&ctx, &params, 0)?;
        let attrs = session
            .get_attributes(
                conn.key,
                &[
                    AttributeType::KeyType,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                    AttributeType::EcParams,
                    AttributeType::AlwaysAuthenticate,
                    AttributeType::Sign,
                ],
            )
            .map_err(pkcs11_err("reading the key's attributes"))?;
        if matches!(
            find_attr(&attrs, AttributeType::Sign),
            Some(Attribute::Sign(false))
        ) {
            return Err(KeyError::Pkcs11Unsupported {
                detail: "the key's CKA_SIGN is false: the token does not let it sign".into(),
            });
        }
        if matches!(
            find_attr(&attrs, AttributeType::AlwaysAuthenticate),
            Some(Attribute::AlwaysAuthenticate(true))
        ) {
            return Err(KeyError::Pkcs11Unsupported {
                detail: "the key has CKA_ALWAYS_AUTHENTICATE (a PIN for every signature), which \
                         unattended signing cannot supply"
                    .into(),
            });
        }
        let key_type = match find_attr(&attrs, AttributeType::KeyType) {
            Some(Attribute::KeyType(t)) => *t,
            _ => {
                return Err(KeyError::Pkcs11 {
                    operation: "reading the key's attributes",
                    detail: "no CKA_KEY_TYPE".into(),
                })
            }
        };
        let key_id = bytes_attr(&attrs, AttributeType::Id).filter(|id| !id.is_empty());
        let key_label = bytes_attr(&attrs, AttributeType::Label);

        let token_certificate = match cert {
            Some(_) => None,
            None => read_certificate(&session, key_id.as_deref(), key_label.as_deref()),
        };
        let claimed = cert.or(token_certificate.as_ref());
        let public = token_public_key(
            &session,
            key_type,
            &attrs,
            key_id.as_deref(),
            key_label.as_deref(),
        )?;
        let (public, from_token) = match public {
            Some(p) => (p, true),
            None => match claimed {
                Some(c) => (
                    c.public_key().map_err(|e| KeyError::Unreadable {
                        detail: e.to_string(),
                    })?,
                    false,
                ),
                None => {
                    return Err(KeyError::Pkcs11 {
                        operation: "reading the public key",
                        detail: "the token holds no public key for this private key and no \
                                 certificate was given"
                            .into(),
                    })
                }
            },
        };
        // Circular 15/2025 checks and the scheme, as for file keys.
        let probe = keys::KeyShape::of(&public)?;
        let scheme = probe.resolve(scheme)?;
        let ec_order_len = match public.ec_key() {
            Ok(ec) => usize::try_from(ec.group().degree().div_ceil(8)).unwrap_or(0),
            Err(_) => 0,
        };
        let public_der = public
            .public_key_to_der()
            .map_err(|e| KeyError::Unreadable {
                detail: e.to_string(),
            })?;

        let mechanisms = ctx.get_mechanism_list(conn.slot).unwrap_or_default();
        let candidates = match params.method {
            Some(m) => vec![m],
            None => vec![Method::HostDigest, Method::TokenDigest],
        };
        let method = candidates
            .into_iter()
            .find(|m| mechanisms.is_empty() || mechanisms.contains(&mechanism_type(scheme, *m)))
            .ok_or_else(|| KeyError::Pkcs11Unsupported {
                detail: match params.method {
                    Some(m) => format!(
                        "the token does not list {} for {scheme:?}",
                        mechanism_type(scheme, m)
                    ),
                    None => format!(
                        "the token supports neither {} nor {} for {scheme:?}",
                        mechanism_type(scheme, Method::HostDigest),
                        mechanism_type(scheme, Method::TokenDigest)
                    ),
                },
            })?;

        let key = Pkcs11Key {
            ctx,
            description: probe.description().to_owned(),
            params,
            scheme,
            method,
            ec_order_len,
            public_der,
            token_certificate,
            state: Mutex::new((None, conn.generation)),
        };
        {
            let mut state = key.state.lock().unwrap_or_else(|p| p.into_inner());
            let mut conn = conn;
            conn.idle.push(session);
            state.0 = Some(conn);
        }
        // The test signature: proves the token signs with this mechanism and that the key is
        // the one whose public key we hold (the certificate's, when the token keeps none).
        let mut challenge = [0u8; 32];
        openssl::rand::rand_bytes(&mut challenge).map_err(|e| KeyError::Signing {
            detail: e.to_string(),
        })?;
        let sig = key.sign(&challenge)?;
        if !keys::verify_signature(scheme, &public, &challenge, &sig) {
            return Err(if from_token {
                KeyError::Signing {
                    detail: "the token's test signature does not verify with its own public key"
                        .into(),
                }
            } else {
                KeyError::CertificateMismatch
            });
        }
        Ok(key)
    }

    /// The certificate stored on the token with the key's CKA_ID (read when no certificate file
    /// was given).
    pub fn token_certificate(&self) -> Option<&X509> {
        self.token_certificate.as_ref()
    }

    /// The mechanism signatures are made with (CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS, ...).
    pub fn mechanism(&self) -> String {
        format!("{}", mechanism_type(self.scheme, self.method))
    }

    /// A logged-in session and the key's handle, from the pool or new.
    fn checkout(&self) -> Result<(Session, ObjectHandle, u64), KeyError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.0.as_mut() {
            None => {
                let generation = state.1 + 1;
                // A reconnect: a token that is not back yet is "unavailable", not misconfigured.
                let (conn, session) =
                    connect(&self.ctx, &self.params, generation).map_err(|e| match e {
                        KeyError::TokenNotFound { token, .. } => KeyError::TokenUnavailable {
                            token,
                            detail: "the token is not present".into(),
                        },
                        other => other,
                    })?;
                state.1 = generation;
                let key = conn.key;
                state.0 = Some(conn);
                Ok((session, key, generation))
            }
            Some(conn) => {
                if let Some(s) = conn.idle.pop() {
                    return Ok((s, conn.key, conn.generation));
                }
                // The user is logged in on the token for this application: so is a new session.
                let s = self
                    .ctx
                    .open_ro_session(conn.slot)
                    .map_err(|e| self.unavailable(&e))?;
                Ok((s, conn.key, conn.generation))
            }
        }
    }

    fn checkin(&self, session: Session, generation: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = state.0.as_mut() {
            if conn.generation == generation && conn.idle.len() < MAX_IDLE_SESSIONS {
                conn.idle.push(session);
            }
        }
    }

    /// Drops the connection `generation` (all its sessions) so that the next call reconnects.
    fn reset(&self, generation: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.0.as_ref().is_some_and(|c| c.generation == generation) {
            state.0 = None;
        }
    }

    fn unavailable(&self, e: &CkError) -> KeyError {
        KeyError::TokenUnavailable {
            token: self.params.token_description(),
            detail: describe(e),
        }
    }
}

/// Finds the slot of the configured token, logs in (once per token) and finds the key.
fn connect(
    ctx: &Pkcs11,
    params: &Pkcs11Params,
    generation: u64,
) -> Result<(Connection, Session), KeyError> {
    let token = params.token_description();
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| KeyError::TokenUnavailable {
            token: token.clone(),
            detail: describe(&e),
        })?;
    let mut seen = Vec::new();
    let mut found = None;
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let label = info.label().trim_end().to_owned();
        let serial = info.serial_number().trim_end().to_owned();
        let label_ok = params.token_label.as_deref().is_none_or(|l| l == label);
        let serial_ok = params.token_serial.as_deref().is_none_or(|s| s == serial);
        if label_ok && serial_ok {
            found = Some((slot, info));
            break;
        }
        seen.push(label);
    }
    let Some((slot, info)) = found else {
        return Err(KeyError::TokenNotFound {
            token,
            present: seen,
        });
    };
    let session = ctx
        .open_ro_session(slot)
        .map_err(|e| KeyError::TokenUnavailable {
            token: token.clone(),
            detail: describe(&e),
        })?;
    let login = match &params.pin {
        Some(pin) => session.login(UserType::User, Some(pin)),
        None if info.protected_authentication_path() => session.login(UserType::User, None),
        None if info.login_required() => {
            return Err(KeyError::Pkcs11Config {
                detail: format!("token {token} needs a user PIN: set pkcs11_pin_env"),
            })
        }
        None => Ok(()),
    };
    match login {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            return Err(KeyError::PinIncorrect { token })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => return Err(KeyError::PinLocked { token }),
        Err(e) => {
            return Err(KeyError::Pkcs11 {
                operation: "logging in",
                detail: describe(&e),
            })
        }
    }
    let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
    if let Some(l) = &params.key_label {
        template.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &params.key_id {
        template.push(Attribute::Id(id.clone()));
    }
    let handles = session
        .find_objects(&template)
        .map_err(pkcs11_err("finding the key"))?;
    let key = match handles[..] {
        [one] => one,
        [] => {
            return Err(KeyError::Pkcs11KeyNotFound {
                key: params.key_description(),
                token,
            })
        }
        _ => {
            return Err(KeyError::Pkcs11KeyAmbiguous {
                key: params.key_description(),
                token,
                count: handles.len(),
            })
        }
    };
    Ok((
        Connection {
            slot,
            key,
            idle: Vec::new(),
            generation,
        },
        session,
    ))
}

/// The object of `class` with the key's CKA_ID (or, without one, its CKA_LABEL).
fn find_companion(
    session: &Session,
    class: ObjectClass,
    id: Option<&[u8]>,
    label: Option<&[u8]>,
) -> Option<ObjectHandle> {
    let mut template = vec![Attribute::Class(class)];
    match (id, label) {
        (Some(id), _) => template.push(Attribute::Id(id.to_vec())),
        (None, Some(l)) => template.push(Attribute::Label(l.to_vec())),
        (None, None) => return None,
    }
    match session.find_objects(&template).ok()?[..] {
        [one] => Some(one),
        _ => None,
    }
}

fn read_certificate(session: &Session, id: Option<&[u8]>, label: Option<&[u8]>) -> Option<X509> {
    let handle = find_companion(session, ObjectClass::CERTIFICATE, id, label)?;
    let attrs = session
        .get_attributes(handle, &[AttributeType::Value])
        .ok()?;
    X509::from_der(&bytes_attr(&attrs, AttributeType::Value)?).ok()
}

/// The public key from the private key's attributes (RSA) or its public key object (EC, and RSA
/// tokens that do not expose the modulus on the private key).
fn token_public_key(
    session: &Session,
    key_type: KeyType,
    private_attrs: &[Attribute],
    id: Option<&[u8]>,
    label: Option<&[u8]>,
) -> Result<Option<PKey<Public>>, KeyError> {
    let bad = |e: openssl::error::ErrorStack| KeyError::Unreadable {
        detail: format!("the token's public key: {e}"),
    };
    let public_attrs = |types: &[AttributeType]| -> Vec<Attribute> {
        find_companion(session, ObjectClass::PUBLIC_KEY, id, label)
            .and_then(|h| session.get_attributes(h, types).ok())
            .unwrap_or_default()
    };
    if key_type == KeyType::RSA {
        let from = |attrs: &[Attribute]| {
            bytes_attr(attrs, AttributeType::Modulus)
                .zip(bytes_attr(attrs, AttributeType::PublicExponent))
                .filter(|(n, e)| !n.is_empty() && !e.is_empty())
        };
        let parts = from(private_attrs).or_else(|| {
            from(&public_attrs(&[
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ]))
        });
        let Some((n, e)) = parts else {
            return Ok(None);
        };
        let rsa = openssl::rsa::Rsa::from_public_components(
            BigNum::from_slice(&n).map_err(bad)?,
            BigNum::from_slice(&e).map_err(bad)?,
        )
        .map_err(bad)?;
        return PKey::from_rsa(rsa).map(Some).map_err(bad);
    }
    if key_type == KeyType::EC {
        let params = bytes_attr(private_attrs, AttributeType::EcParams).ok_or_else(|| {
            KeyError::Unreadable {
                detail: "the token's EC key has no CKA_EC_PARAMS".into(),
            }
        })?;
        let group = EcGroup::from_curve_name(curve_of(&params)?).map_err(bad)?;
        let attrs = public_attrs(&[AttributeType::EcPoint]);
        let Some(point) = bytes_attr(&attrs, AttributeType::EcPoint) else {
            return Ok(None);
        };
        let mut bn = openssl::bn::BigNumContext::new().map_err(bad)?;
        let point = EcPoint::from_bytes(&group, ec_point_bytes(&point), &mut bn).map_err(bad)?;
        let ec = EcKey::from_public_key(&group, &point).map_err(bad)?;
        ec.check_key().map_err(bad)?;
        return PKey::from_ec_key(ec).map(Some).map_err(bad);
    }
    Err(KeyError::UnsupportedKeyType {
        kind: format!("PKCS#11 key type {key_type}"),
    })
}

impl SigningKey for Pkcs11Key {
    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let (mech, input) = sign_input(self.scheme, self.method, self.ec_order_len, data);
        let mut last = None;
        // One reconnect: a removed and reinserted token, a restarted HSM, lost sessions.
        for _attempt in 0..2 {
            let (session, key, generation) = self.checkout()?;
            match session.sign(&mech, key, &input) {
                Ok(sig) => {
                    self.checkin(session, generation);
                    return if self.scheme.is_ecdsa() {
                        ecdsa_raw_to_der(&sig, self.ec_order_len)
                    } else {
                        Ok(sig)
                    };
                }
                Err(e) if is_gone(&e) => {
                    drop(session);
                    self.reset(generation);
                    last = Some(e);
                }
                Err(e) => {
                    self.checkin(session, generation);
                    return Err(KeyError::Pkcs11 {
                        operation: "signing",
                        detail: describe(&e),
                    });
                }
            }
        }
        Err(match last {
            Some(e) => self.unavailable(&e),
            None => KeyError::Signing {
                detail: "no attempt was made".into(),
            },
        })
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.public_der.clone()
    }
}

/// Parses `pkcs11_mechanism`: `host-digest` or `token-digest`.
pub fn parse_method(s: &str) -> Result<Method, String> {
    match s {
        "host-digest" => Ok(Method::HostDigest),
        "token-digest" => Ok(Method::TokenDigest),
        other => Err(format!(
            "pkcs11_mechanism {other:?} is not host-digest or token-digest"
        )),
    }
}

/// Parses `pkcs11_key_id` (hex, with optional colons or spaces: `01`, `a1:b2`).
pub fn parse_key_id(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    let clean = clean.strip_prefix("0x").unwrap_or(&clean);
    match hex::decode(clean) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "pkcs11_key_id {s:?} is not hex (e.g. \"01\" or \"a1:b2\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_codes_are_named_as_in_the_standard() {
        assert_eq!(ckr_name(&RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(&RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(
            describe(&CkError::Pkcs11(
                RvError::TokenNotPresent,
                cryptoki::context::Function::Sign
            )),
            "C_Sign: CKR_TOKEN_NOT_PRESENT"
        );
    }

    #[test]
    fn token_gone_codes_reconnect_and_others_do_not() {
        let f = cryptoki::context::Function::Sign;
        assert!(is_gone(&CkError::Pkcs11(RvError::DeviceRemoved, f)));
        assert!(is_gone(&CkError::Pkcs11(RvError::SessionHandleInvalid, f)));
        assert!(is_gone(&CkError::Pkcs11(RvError::UserNotLoggedIn, f)));
        assert!(!is_gone(&CkError::Pkcs11(RvError::MechanismInvalid, f)));
        assert!(!is_gone(&CkError::Pkcs11(RvError::PinIncorrect, f)));
    }

    #[test]
    fn digest_info_is_the_der_of_rfc_8017() {
        use der::Encode;
        for d in [DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512] {
            let digest = vec![0xab; d.output_len()];
            let info = x509_cert::spki::AlgorithmIdentifierOwned {
                oid: d.oid(),
                parameters: Some(der::asn1::Null.into()),
            };
            #[derive(der::Sequence)]
            struct DigestInfo {
                alg: x509_cert::spki::AlgorithmIdentifierOwned,
                digest: der::asn1::OctetString,
            }
            let want = DigestInfo {
                alg: info,
                digest: der::asn1::OctetString::new(digest.clone()).unwrap(),
            }
            .to_der()
            .unwrap();
            let (mech, got) = sign_input(
                match d {
                    DigestAlg::Sha256 => SignatureScheme::RsaPkcs1Sha256,
                    DigestAlg::Sha384 => SignatureScheme::RsaPkcs1Sha384,
                    DigestAlg::Sha512 => SignatureScheme::RsaPkcs1Sha512,
                },
                Method::HostDigest,
                0,
                b"",
            );
            assert!(matches!(mech, Mechanism::RsaPkcs));
            assert_eq!(
                &got[..got.len() - d.output_len()],
                &want[..want.len() - d.output_len()],
                "{d}"
            );
            assert_eq!(got.len(), want.len());
        }
    }

    #[test]
    fn ecdsa_raw_signatures_become_der_and_wrong_lengths_are_refused() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r with the high bit set: DER needs a leading zero
        raw[63] = 1;
        let der = ecdsa_raw_to_der(&raw, 32).unwrap();
        let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        assert_eq!(sig.r().to_vec()[0], 0x80);
        assert_eq!(sig.s().to_vec(), vec![1]);
        assert!(ecdsa_raw_to_der(&raw[..63], 32).is_err());
    }

    #[test]
    fn ec_points_in_an_octet_string_or_bare() {
        let bare = [0x04u8; 65];
        let mut wrapped = vec![0x04, 65];
        wrapped.extend_from_slice(&bare);
        assert_eq!(ec_point_bytes(&wrapped), &bare[..]);
        assert_eq!(ec_point_bytes(&bare), &bare[..]);
        let mut p384 = vec![0x04, 0x61];
        p384.extend_from_slice(&[0x04u8; 97]);
        assert_eq!(ec_point_bytes(&p384).len(), 97);
    }

    #[test]
    fn key_ids_parse_as_hex() {
        assert_eq!(parse_key_id("01").unwrap(), vec![1]);
        assert_eq!(parse_key_id("a1:B2").unwrap(), vec![0xa1, 0xb2]);
        assert!(parse_key_id("xyz").is_err());
        assert!(parse_key_id("").is_err());
    }

    #[test]
    fn params_debug_hides_the_pin() {
        let p = Pkcs11Params {
            module: "/x.so".into(),
            token_label: Some("t".into()),
            token_serial: None,
            key_label: Some("k".into()),
            key_id: None,
            pin: Some(SecretString::from("123456")),
            method: None,
        };
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("123456"), "{dbg}");
        assert!(dbg.contains("redacted"), "{dbg}");
    }
}
