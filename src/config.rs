//! Configuration: the embedded `config/default.toml`, then a file given with `--config`, then
//! `ANTIN_*` environment variables (nested keys joined by `__`), each layer overriding the last.
//!
//! Secrets (the database URL may carry a password) are wrapped so that `Debug` never prints them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The configuration a fresh clone runs with.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub trust: TrustConfig,
    pub verify: VerifyConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    pub sign: SignConfig,
    pub payments: PaymentsConfig,
    /// The public check page (`/v/{id}`, `/verify`).
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub recon: crate::recon::config::ReconConfig,
}

/// The public check page: what an anonymous visitor may make antin spend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// The largest PDF a visitor may upload (bytes; also bounded by `server.max_body_bytes`).
    pub max_upload_bytes: usize,
    /// Requests per minute one client address may make to the public pages (sustained rate).
    pub rate_per_minute: u32,
    /// Requests one address may make at once before the rate applies.
    pub rate_burst: u32,
    /// Client addresses tracked at once (bounds the limiter's memory).
    pub max_tracked_clients: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            max_upload_bytes: 20 * 1024 * 1024,
            rate_per_minute: 60,
            rate_burst: 20,
            max_tracked_clients: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub dev_tls: bool,
    pub client_ca: String,
    pub client_cert_role: String,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub tls_handshake_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub max_connections: usize,
    pub verify_concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub max_connections: u32,
    /// Batch concurrent requests' writes into one transaction (one durable commit for many
    /// requests; each still answered only after its commit). See src/store/group.rs.
    #[serde(default = "default_group_commit")]
    pub group_commit: bool,
}

fn default_group_commit() -> bool {
    true
}

impl DatabaseConfig {
    /// The URL with any password removed, safe to log.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub dev_keys: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    pub anchors: Vec<PathBuf>,
    pub intermediates: Vec<PathBuf>,
    pub anchor_dir: PathBuf,
    pub intermediate_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationMode {
    /// No revocation status: INDETERMINATE.
    Require,
    /// No revocation status: passed, with a visible warning (Circular 15/2025 requires the warning).
    Warn,
    /// Dangerous: revocation is not checked at all.
    Skip,
}

impl std::str::FromStr for RevocationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "require" => Ok(Self::Require),
            "warn" => Ok(Self::Warn),
            "skip" => Ok(Self::Skip),
            other => Err(format!(
                "unknown revocation mode {other:?} (require | warn | skip)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlgorithmPolicyName {
    Default,
    DangerousAcceptLegacy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    pub revocation: RevocationMode,
    pub offline: bool,
    pub fetch_timeout_secs: u64,
    pub max_fetch_bytes: usize,
    pub algorithm_policy: AlgorithmPolicyName,
}

/// Signing issued results (`[sign]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {
    /// The profile used when a request names none.
    pub default_profile: String,
    /// Serve the built-in test TSA at /dev/tsa and let profiles use `tsa = "dev"` (development
    /// only: it signs with the test PKI's TSA key).
    pub dev_tsa: bool,
    /// The TSA's certificate and key for the built-in test TSA.
    pub dev_tsa_cert: PathBuf,
    pub dev_tsa_key: PathBuf,
    pub dev_tsa_chain: Vec<PathBuf>,
    /// Serve the built-in test OCSP responder at /dev/ocsp and let profiles use `ocsp = "dev"`
    /// (development only: it signs with the test PKI's responder keys).
    #[serde(default)]
    pub dev_ocsp: bool,
    /// nextUpdate - thisUpdate of the dev responder's answers.
    #[serde(default = "default_dev_ocsp_validity_secs")]
    pub dev_ocsp_validity_secs: u64,
    /// The CAs the dev responder answers for.
    #[serde(default)]
    pub dev_ocsp_cas: Vec<DevOcspCaConfig>,
    /// Timeout of each OCSP/CRL fetch for B-LT when a profile says `ocsp = "fetch"`.
    #[serde(default = "default_sign_fetch_timeout_secs")]
    pub fetch_timeout_secs: u64,
    /// Signing profiles by name: an agency may have several.
    pub profiles: std::collections::BTreeMap<String, SigningProfileConfig>,
}

fn default_dev_ocsp_validity_secs() -> u64 {
    86_400
}

fn default_sign_fetch_timeout_secs() -> u64 {
    10
}

/// One CA of the dev OCSP responder: its certificate, its `openssl ca` index.txt, and who signs
/// its answers (a delegated responder issued by it with id-kp-OCSPSigning, or the CA itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevOcspCaConfig {
    pub ca: PathBuf,
    pub index: PathBuf,
    pub responder_cert: PathBuf,
    pub responder_key: PathBuf,
}

/// One signing profile: the key, its certificate chain, the level, the TSA and the policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningProfileConfig {
    /// The issuing agency as shown to readers.
    pub agency: String,
    /// PEM private key (optionally encrypted: the passphrase from the variable `key_passphrase_env`).
    #[serde(default)]
    pub key: Option<PathBuf>,
    #[serde(default)]
    pub key_passphrase_env: Option<String>,
    /// PKCS#12 file holding the key and certificates (password from `pkcs12_password_env`).
    #[serde(default)]
    pub pkcs12: Option<PathBuf>,
    #[serde(default)]
    pub pkcs12_password_env: Option<String>,
    /// A key on a PKCS#11 token or HSM: the module (shared library), the token by label and/or
    /// serial, the private key by label and/or CKA_ID (hex), and the name of the environment
    /// variable holding the user PIN (never the PIN itself). See docs/operations.md.
    #[serde(default)]
    pub pkcs11_module: Option<PathBuf>,
    #[serde(default)]
    pub pkcs11_token_label: Option<String>,
    #[serde(default)]
    pub pkcs11_token_serial: Option<String>,
    #[serde(default)]
    pub pkcs11_key_label: Option<String>,
    #[serde(default)]
    pub pkcs11_key_id: Option<String>,
    #[serde(default)]
    pub pkcs11_pin_env: Option<String>,
    /// host-digest (antin hashes, the token signs the digest: CKM_RSA_PKCS, CKM_RSA_PKCS_PSS,
    /// CKM_ECDSA) or token-digest (CKM_SHA256_RSA_PKCS, ...); absent: host-digest when listed.
    #[serde(default)]
    pub pkcs11_mechanism: Option<String>,
    /// The signer's certificate (PEM), unless it comes from the PKCS#12 file or the PKCS#11
    /// token (a CKO_CERTIFICATE with the key's CKA_ID).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// The certificates above it, up to and including the root (PEM files).
    #[serde(default)]
    pub chain: Vec<PathBuf>,
    /// rsa-pss-sha256 (default for RSA keys: Circular 15/2025) | rsa-pkcs1-sha256 | ecdsa-sha256 |
    /// ... (see `antin sign --help`).
    #[serde(default)]
    pub scheme: Option<String>,
    /// B-B | B-T | B-LT | B-LTA.
    pub level: String,
    /// "dev" (the built-in test TSA) or an RFC 3161 URL.
    #[serde(default)]
    pub tsa: Option<String>,
    /// CRLs (DER or PEM) to embed for B-LT: the chain's and the TSA's issuers.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// OCSP responses for B-LT: "dev" (the built-in responder), "fetch" (the certificates' AIA
    /// OCSP and CRL DP URLs) or "off" (the default: only `crls`).
    #[serde(default)]
    pub ocsp: Option<String>,
    /// The visible signature (Decree 30/2020): seal, signature image, text, QR code. Without it
    /// signatures are invisible unless a request places them.
    #[serde(default)]
    pub appearance: Option<AppearanceConfig>,
    /// The signer as the agency chooses to publish it on the check page (e.g. "Phó Giám đốc
    /// Nguyễn Văn A"); absent: the certificate's common name.
    #[serde(default)]
    pub published_signer: Option<String>,
    /// The document type shown on the check page when a request names none (e.g. "Phiếu lý lịch
    /// tư pháp").
    #[serde(default)]
    pub document_type: Option<String>,
}

/// The visible signature of a profile (`[sign.profiles.NAME.appearance]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppearanceConfig {
    /// The agency's seal: PNG, red on a transparent background.
    #[serde(default)]
    pub seal: Option<PathBuf>,
    /// The signer's signature image: PNG, transparent background.
    #[serde(default)]
    pub signature: Option<PathBuf>,
    /// A TrueType font file; default: the built-in Liberation Serif (Times New Roman metrics).
    #[serde(default)]
    pub font: Option<PathBuf>,
    /// Points; Decree 30/2020 asks for 10. Shrinks (down to 6) when the rectangle is too small.
    #[serde(default = "default_font_size")]
    pub font_size: f64,
    /// The text lines, with `{agency}`, `{signer}`, `{time}`, `{reason}`, `{location}` and
    /// `{document_id}`; a line whose placeholders are all empty is left out.
    #[serde(default = "default_appearance_lines")]
    pub lines: Vec<String>,
    /// Where the signature goes when a request names no place: page (1-based; negative counts
    /// from the end, -1 = the last page) and `[x, y, width, height]` in points. Without them a
    /// request that names no place gets an invisible signature.
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub rect: Option<[f64; 4]>,
    /// The QR code leading to the online check `<server.public_url>/v/<document id>`.
    #[serde(default)]
    pub qr: Option<QrConfig>,
}

fn default_font_size() -> f64 {
    10.0
}

fn default_appearance_lines() -> Vec<String> {
    vec![
        "{agency}".into(),
        "Người ký: {signer}".into(),
        "Thời gian ký: {time}".into(),
    ]
}

/// Where the QR code goes (`[sign.profiles.NAME.appearance.qr]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrConfig {
    /// "stamp": inside the visible signature, at its right end; "page": on its own at `page` and
    /// `rect` (only into a document that carries no signature yet: adding it to a signed one
    /// would be a change after signing). With an invisible signature "stamp" falls back to "page".
    #[serde(default = "default_qr_place")]
    pub place: String,
    #[serde(default = "default_qr_page")]
    pub page: i64,
    /// `[x, y, side]` in points, from the page's lower left corner.
    #[serde(default = "default_qr_rect")]
    pub rect: [f64; 3],
}

fn default_qr_place() -> String {
    "stamp".into()
}

fn default_qr_page() -> i64 {
    1
}

fn default_qr_rect() -> [f64; 3] {
    [36.0, 36.0, 72.0]
}

fn default_idempotency_lock_secs() -> u64 {
    60
}

fn default_not_found_grace_secs() -> u64 {
    300
}

fn default_lease_secs() -> u64 {
    120
}

/// Fee payments (`[payments]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    pub enabled: bool,
    /// The origin gateways call back (IPN/callback URLs); empty: `server.public_url`.
    pub callback_base_url: String,
    /// Where the citizen's browser returns when a payment names no return URL.
    pub default_return_url: String,
    /// How long a citizen has on a gateway's page (an attempt's window).
    pub attempt_window_secs: u64,
    /// A payment's lifetime when the portal gives no expiry, and the longest allowed.
    pub default_expiry_secs: u64,
    pub max_expiry_secs: u64,
    /// Attempts one payment may have.
    pub max_attempts: usize,
    /// Run the background workers (status sync, refunds, expiry, webhooks) in `serve`.
    pub workers: bool,
    pub worker_interval_ms: u64,
    /// Multiplies every retry delay (status sync, refunds, webhooks); tests shorten it.
    pub backoff_scale: f64,
    /// How long an Idempotency-Key stays locked by a request in flight; a retry after it (the
    /// instance that took it died) runs the request again. Longer than any request can take.
    #[serde(default = "default_idempotency_lock_secs")]
    pub idempotency_lock_secs: u64,
    /// The margin for clocks after an attempt's window before a gateway's "order not found" is
    /// taken to mean that no money can move on it any more (the attempt expires).
    #[serde(default = "default_not_found_grace_secs")]
    pub not_found_grace_secs: u64,
    /// How long a worker holds a claimed item (status query, refund, webhook) before another
    /// instance may take it: how soon work of an instance that died is picked up again. Longer
    /// than one item can take (gateway timeouts with retries).
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Start the gateway simulators in-process with `serve` (development only).
    pub simulators: bool,
    /// The simulators' address (`antin sim` and `serve` with `simulators = true`).
    pub simulator_listen: SocketAddr,
    /// Portals by API key name: where their webhooks go.
    #[serde(default)]
    pub portals: std::collections::BTreeMap<String, PortalConfig>,
    /// Agencies by id (the `agency` of a payment request).
    #[serde(default)]
    pub agencies: std::collections::BTreeMap<String, AgencyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Empty: no webhooks (the portal polls GET /v1/payments/{id}).
    pub webhook_url: String,
    /// The HMAC-SHA256 key of the webhook signature.
    #[serde(default)]
    pub webhook_key: Option<SecretString>,
    /// Or the variable holding it.
    #[serde(default)]
    pub webhook_key_env: Option<String>,
    /// Extra PEM roots for an https webhook URL with a private CA.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyConfig {
    /// The agency's name as shown to citizens.
    pub name: String,
    /// The treasury or bank account collecting its fees.
    pub collection_account: String,
    /// Per-gateway credentials: the connectors' own configuration structs (src/pay/gateways),
    /// checked at start.
    #[serde(default)]
    pub vnpay: Option<toml::Value>,
    #[serde(default)]
    pub momo: Option<toml::Value>,
    #[serde(default)]
    pub zalopay: Option<toml::Value>,
    #[serde(default)]
    pub vietqr: Option<toml::Value>,
}

/// The transparency log (`[audit]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The checkpoint origin and key name; empty: `<host of server.public_url>/log`.
    pub origin: String,
    /// The Ed25519 checkpoint key (PKCS#8 DER file).
    pub signing_key: PathBuf,
    /// The HMAC key (file, >= 16 random bytes) for pseudonyms of personal identifiers.
    pub pseudonym_key: PathBuf,
    /// Create missing key files on first start (development; production provisions them).
    pub create_keys: bool,
    /// Sign a checkpoint this often when the log has grown (0: only on demand).
    pub checkpoint_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {source}")]
    Syntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name}: {reason}")]
    Env { name: String, reason: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the layered configuration from the real environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads the layered configuration with the given environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Table =
            toml::from_str(DEFAULT_TOML).map_err(|e| ConfigError::Syntax {
                path: PathBuf::from("<embedded config/default.toml>"),
                source: Box::new(e),
            })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let overlay: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                source: Box::new(e),
            })?;
            merge(&mut value, overlay);
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("ANTIN_") else {
                continue;
            };
            // ANTIN_CONFIG and ANTIN_LANG are read by the CLI, not configuration keys.
            if !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            set_path(&mut value, &path, parse_env_value(&raw)).map_err(|reason| {
                ConfigError::Env {
                    name: name.clone(),
                    reason,
                }
            })?;
        }
        let config: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(format!(
                "database.url must be sqlite:... or postgres://... (got {})",
                redact_url(url)
            )));
        }
        if crate::http::auth::Role::parse(&self.server.client_cert_role).is_none() {
            return Err(ConfigError::Invalid(format!(
                "server.client_cert_role {:?} is not a role (portal | finance | auditor | admin)",
                self.server.client_cert_role
            )));
        }
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.max_body_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// An environment value is read as a TOML value when it parses as one (numbers, booleans, arrays),
/// otherwise as a plain string.
fn parse_env_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            if !table.contains_key(last) {
                return Err(format!("unknown configuration key {last:?}"));
            }
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match table.get_mut(first) {
            Some(toml::Value::Table(inner)) => set_path(inner, rest, value),
            _ => Err(format!("unknown configuration section {first:?}")),
        },
    }
}

/// Removes the password from a URL such as `postgres://user:secret@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_complete() {
        let c = Config::load_from(None, Vec::new()).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.verify.revocation, RevocationMode::Require);
    }

    #[test]
    fn env_overrides_nested_keys_with_types() {
        let env = vec![
            (
                "ANTIN_SERVER__MAX_BODY_BYTES".to_string(),
                "1024".to_string(),
            ),
            ("ANTIN_VERIFY__OFFLINE".to_string(), "true".to_string()),
            (
                "ANTIN_DATABASE__URL".to_string(),
                "postgres://u:pw@127.0.0.1/test".to_string(),
            ),
            ("ANTIN_LANG".to_string(), "en".to_string()),
        ];
        let c = Config::load_from(None, env).unwrap();
        assert_eq!(c.server.max_body_bytes, 1024);
        assert!(c.verify.offline);
        assert_eq!(c.database.redacted_url(), "postgres://u:***@127.0.0.1/test");
        // The password never shows in Debug output.
        assert!(!format!("{c:?}").contains("pw@"));
    }

    #[test]
    fn unknown_env_key_is_an_error_not_ignored() {
        let env = vec![("ANTIN_SERVER__LISTN".to_string(), "x".to_string())];
        assert!(matches!(
            Config::load_from(None, env),
            Err(ConfigError::Env { .. })
        ));
    }

    #[test]
    fn file_overlay_merges() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[verify]\nrevocation = \"warn\"\n").unwrap();
        let c = Config::load_from(Some(&p), Vec::new()).unwrap();
        assert_eq!(c.verify.revocation, RevocationMode::Warn);
        assert!(!c.verify.offline);
    }

    #[test]
    fn bad_database_scheme_rejected() {
        let env = vec![("ANTIN_DATABASE__URL".to_string(), "mysql://x".to_string())];
        assert!(Config::load_from(None, env).is_err());
    }
}
