//! The command line: argument definitions and the commands. `main.rs` only maps results to exit
//! codes. Exit codes: 0-3 are verification verdicts (see `Verdict::exit_code`); >= 64 follow
//! sysexits.h (64 usage, 65 bad data, 66 unreadable input, 69 unavailable, 70 internal, 73 cannot
//! create, 78 configuration).

mod audit;
mod dev;
mod extend;
mod recon;
mod recon_remote;
mod serve;
mod sign;
mod sim;
mod trust;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;

use crate::config::{Config, RevocationMode};
use crate::http::auth::{self, Role};
use crate::i18n::Lang;
use crate::store::Store;

pub const EXIT_USAGE: u8 = 64;
pub const EXIT_DATA: u8 = 65;
pub const EXIT_NOINPUT: u8 = 66;
pub const EXIT_UNAVAILABLE: u8 = 69;
pub const EXIT_SOFTWARE: u8 = 70;
pub const EXIT_CANTCREAT: u8 = 73;
pub const EXIT_NOPERM: u8 = 77;
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "antin",
    version,
    about = "ấn tín: verify and sign documents, broker fees, keep a tamper-evident log for Vietnam's level-4 public services",
    propagate_version = true
)]
pub struct Cli {
    /// Configuration file, merged over the embedded default (also ANTIN_CONFIG).
    #[arg(long, global = true, env = "ANTIN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Language of human-readable output (also ANTIN_LANG).
    #[arg(
        long,
        global = true,
        env = "ANTIN_LANG",
        value_enum,
        default_value = "vi"
    )]
    pub lang: LangArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    Vi,
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Vi => Lang::Vi,
            LangArg::En => Lang::En,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS service.
    Serve,
    /// Verify the signatures of a PDF, or a detached CMS signature over a file.
    Verify(VerifyArgs),
    /// Manage API keys (stored hashed; a new key is shown once).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage trust anchors and intermediates.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Sign a result PDF (or a folder of them) with a signing profile: PAdES B-B to B-LTA.
    Sign(sign::SignArgs),
    /// Check the transparency log: checkpoints, proofs, the whole log, issued documents.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Development services on their own: the test OCSP responder or TSA (test PKI keys).
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Run the VNPAY, MoMo, ZaloPay and bank simulators (test credentials; loopback).
    Sim(sim::SimArgs),
    /// Daily reconciliation for finance officers (import, run, report, discrepancies, resolve),
    /// against the local database or, with --remote, a remote antin's API.
    Recon(recon_remote::ReconArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The PDF; with --signature, the signed data.
    pub file: PathBuf,
    /// A detached CMS signature (DER or PEM) over FILE.
    #[arg(long, value_name = "P7S")]
    pub signature: Option<PathBuf>,
    /// Trust anchors (file or folder), instead of the configured store. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub trust: Vec<PathBuf>,
    /// Validate as of this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Fetch nothing over the network.
    #[arg(long)]
    pub offline: bool,
    /// What to do when revocation status cannot be established.
    #[arg(long, value_enum)]
    pub revocation: Option<RevocationArg>,
    /// A CRL to use (DER or PEM). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub crl: Vec<PathBuf>,
    /// Fail unless a signature carries this identifier (e.g. CCCD:001099012345).
    #[arg(long, value_name = "ID")]
    pub expect_id: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevocationArg {
    Require,
    Warn,
    Skip,
}

impl From<RevocationArg> for RevocationMode {
    fn from(r: RevocationArg) -> Self {
        match r {
            RevocationArg::Require => RevocationMode::Require,
            RevocationArg::Warn => RevocationMode::Warn,
            RevocationArg::Skip => RevocationMode::Skip,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a role; the key is printed once.
    Create {
        #[arg(long, value_parser = ["portal", "finance", "auditor", "admin"])]
        role: String,
        /// Who the key is for (e.g. the portal's name).
        #[arg(long)]
        name: String,
    },
    /// List keys (ids, names, roles; never secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Install a trust anchor. Official roots are accepted only when their SHA-256 fingerprint
    /// matches a pin; anything else needs --dangerous-unpinned.
    Add {
        file: PathBuf,
        /// Accept a certificate that matches no official pin (e.g. a test root).
        #[arg(long)]
        dangerous_unpinned: bool,
    },
    /// Install intermediate certificates (never anchors), e.g. the licensed CAs' sub-CAs.
    AddIntermediate { file: PathBuf },
    /// List the configured and installed anchors.
    List,
    /// List the pinned official roots and where to download them.
    Pins,
}

/// A failed command: what to say and which exit code to use.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::new(EXIT_CONFIG, e.to_string())
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::new(EXIT_UNAVAILABLE, e.to_string())
    }
}

/// Runs a parsed command; `Ok(code)` is the process exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let lang: Lang = cli.lang.into();
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Verify(args) => verify::run(&config, args, lang),
        Command::Serve => runtime()?.block_on(serve::run(config)),
        Command::Migrate => runtime()?.block_on(async {
            let store = Store::connect(&config.database).await?;
            println!("schema up to date ({})", config.database.redacted_url());
            store.close().await;
            Ok(0)
        }),
        Command::Keys(cmd) => runtime()?.block_on(keys(&config, cmd)),
        Command::Trust(cmd) => trust::run(&config, cmd, lang),
        Command::Audit(cmd) => audit::run(&config, cmd, lang),
        Command::Sign(args) => sign::run(&config, args, lang),
        Command::Dev(cmd) => dev::run(&config, cmd),
        Command::Sim(args) => sim::run(args),
        Command::Recon(args) => match &args.remote.remote {
            Some(_) => recon_remote::run(&args.remote, args.cmd, lang),
            None => recon::run(&config, args.cmd, lang),
        },
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(EXIT_SOFTWARE, format!("cannot start the runtime: {e}")))
}

async fn keys(config: &Config, cmd: KeysCommand) -> Result<u8, CliError> {
    let store = Store::connect(&config.database).await?;
    let now = time::OffsetDateTime::now_utc();
    match cmd {
        KeysCommand::Create { role, name } => {
            let role = Role::parse(&role)
                .ok_or_else(|| CliError::new(EXIT_USAGE, format!("unknown role {role}")))?;
            let (secret, record) = auth::generate_key(&name, role, now)
                .map_err(|_| CliError::new(EXIT_SOFTWARE, "the system random generator failed"))?;
            let entry = crate::audit::record::api_key(
                "api_key_created",
                &record,
                &crate::audit::record::cli_actor(),
                now,
            );
            store.insert_api_key(&record, &[entry]).await?;
            println!("id:   {}", record.id);
            println!("role: {}", record.role);
            println!("key:  {}", secret.expose_secret());
            eprintln!("The key is shown only now; antin stores only its SHA-256.");
        }
        KeysCommand::List => {
            for k in store.list_api_keys().await? {
                println!(
                    "{}  {:<8} {:<24} created {}{}",
                    k.id,
                    k.role,
                    k.name,
                    crate::timefmt::vietnam(k.created_at),
                    k.revoked_at
                        .map(|t| format!("  REVOKED {}", crate::timefmt::vietnam(t)))
                        .unwrap_or_default()
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let entry =
                crate::audit::record::api_key_revoked(&id, &crate::audit::record::cli_actor(), now);
            if !store.revoke_api_key(&id, now, &[entry]).await? {
                return Err(CliError::new(
                    EXIT_DATA,
                    format!("no active key with id {id}"),
                ));
            }
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(0)
}
