//! `antin audit`: the auditors' tools. They need no database of their own: they work against a
//! remote antin over HTTPS (an auditor API key), from an exported bundle, or (for the operator's
//! own checks) read the configured database directly. Everything the server says is verified here
//! against the log's verifier key: signatures, proofs, and the tree itself.
//!
//! Exit codes: 0 verified, 1 verification failed (tampering, forgery, inconsistency), >= 64 usage or
//! unreadable input (sysexits.h, as for every antin command).

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::{CliError, EXIT_DATA, EXIT_NOINPUT, EXIT_SOFTWARE, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::audit::bundle::ProofBundle;
use crate::audit::entry;
use crate::audit::merkle::{self, Hash};
use crate::audit::note::{self, Checkpoint, NoteVerifier};
use crate::audit::replay::{Anchor, Replay};
use crate::config::Config;
use crate::i18n::Lang;
use crate::store::Store;

/// Exit code when a check fails.
const EXIT_FAILED: u8 = 1;
/// Entries fetched per request (the server's maximum).
const PAGE: u64 = 1000;
/// Largest export or response body read (bounded memory for an outsider's file).
const MAX_READ: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Fetch the log's checkpoint and verify its signature; with --trusted, also prove it
    /// consistent with a checkpoint you trusted before.
    Checkpoint {
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        key: KeyArg,
        /// A checkpoint you trusted before (signed note file): demand a consistency proof from it.
        #[arg(long, value_name = "FILE")]
        trusted: Option<PathBuf>,
        /// Write the verified checkpoint here (e.g. to use as --trusted next time).
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Download every entry, recompute the tree and compare it with the signed checkpoint(s).
    VerifyLog {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        key: KeyArg,
        /// Compare with this checkpoint (signed note file) instead of the latest one.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Fetch the offline proof bundle (.tlog-proof) of one entry and check it.
    Prove {
        index: u64,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        key: KeyArg,
        /// Where to write the bundle (default: entry-INDEX.tlog-proof).
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a .tlog-proof bundle offline: the checkpoint's signature and the entry's inclusion.
    VerifyProof {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        /// The entry's bytes, when the bundle does not carry them.
        #[arg(long, value_name = "FILE")]
        entry: Option<PathBuf>,
    },
    /// Prove that checkpoint NEW extends checkpoint OLD (both signed note files).
    Consistency {
        old: PathBuf,
        new: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Export entries FROM..TO (TO exclusive; default: the checkpoint's size) with their inclusion
    /// proofs and the signed checkpoint, for an inspection.
    Export {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        key: KeyArg,
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify a result PDF antin signed AND find the log entry that records its issuance, with
    /// its inclusion proof: a "result" antin never issued is exposed even if its signature is valid.
    Document {
        file: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        key: KeyArg,
        /// Trust anchors for the signature check (file or folder), instead of the configured ones.
        #[arg(long, value_name = "PATH")]
        trust: Vec<PathBuf>,
        /// Check the signature without fetching revocation data.
        #[arg(long)]
        offline: bool,
    },
}

#[derive(Debug, Args)]
pub struct KeyArg {
    /// The log's verifier key (`<name>+<id>+<key>`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    pub vkey: String,
}

#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// The antin service, e.g. https://127.0.0.1:8443.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// An auditor API key (also ANTIN_API_KEY).
    #[arg(
        long,
        env = "ANTIN_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// CA certificates (PEM) to trust for the service's TLS certificate (default: the system's).
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Read an exported bundle instead of a service.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub export: Option<PathBuf>,
    /// Read the configured database directly (the operator's own check).
    #[arg(long, conflicts_with_all = ["url", "export"])]
    pub database: bool,
}

pub fn run(config: &Config, cmd: AuditCommand, lang: Lang) -> Result<u8, CliError> {
    if let AuditCommand::Document {
        file,
        source,
        key,
        trust,
        offline,
    } = cmd
    {
        // The signature check runs its own runtime when it fetches revocation data: before ours.
        let verify_args = super::VerifyArgs {
            file: file.clone(),
            signature: None,
            trust,
            at: None,
            offline,
            revocation: None,
            crl: Vec::new(),
            expect_id: None,
            format: super::Format::Text,
        };
        let verdict = super::verify::run(config, verify_args, lang)?;
        return super::runtime()?.block_on(document(config, &file, verdict, source, &key, lang));
    }
    super::runtime()?.block_on(run_async(config, cmd, lang))
}

async fn run_async(config: &Config, cmd: AuditCommand, lang: Lang) -> Result<u8, CliError> {
    match cmd {
        AuditCommand::Checkpoint {
            remote,
            key,
            trusted,
            out,
        } => checkpoint(remote, &key, trusted.as_deref(), out.as_deref(), lang).await,
        AuditCommand::VerifyLog {
            source,
            key,
            checkpoint,
        } => verify_log(config, source, &key, checkpoint.as_deref(), lang).await,
        AuditCommand::Prove {
            index,
            remote,
            key,
            out,
        } => prove(index, remote, &key, out, lang).await,
        AuditCommand::VerifyProof { file, key, entry } => {
            verify_proof(&file, &key, entry.as_deref(), lang)
        }
        AuditCommand::Consistency {
            old,
            new,
            source,
            key,
        } => consistency(config, &old, &new, source, &key, lang).await,
        AuditCommand::Export {
            from,
            to,
            source,
            key,
            out,
        } => export(config, from, to, source, &key, &out, lang).await,
        AuditCommand::Document { .. } => Err(CliError::new(EXIT_SOFTWARE, "unreachable")),
    }
}

// --- Sources ---------------------------------------------------------------------------------

/// Where the log comes from. Nothing it returns is trusted before it is verified here.
enum Source {
    Remote(Remote),
    Export(Export),
    Database(Box<crate::audit::log::TransparencyLog>),
}

struct Remote {
    base: String,
    client: reqwest::Client,
    api_key: Option<String>,
}

/// One entry as read from a source, with the leaf hash the source claims for it.
struct Row {
    index: u64,
    body: String,
    stored_leaf: Option<Hash>,
}

fn unavailable(e: impl std::fmt::Display) -> CliError {
    CliError::new(EXIT_UNAVAILABLE, e.to_string())
}

fn bad_data(e: impl std::fmt::Display) -> CliError {
    CliError::new(EXIT_DATA, e.to_string())
}

fn decode_b64_hash(s: &str) -> Result<Hash, CliError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| bad_data(format!("bad base64 hash {s:?}: {e}")))?;
    Hash::try_from(bytes.as_slice()).map_err(|_| bad_data(format!("hash {s:?} is not 32 bytes")))
}

impl Remote {
    fn new(args: &RemoteArgs) -> Result<Self, CliError> {
        let base = args.url.clone().ok_or_else(|| {
            CliError::new(EXIT_USAGE, "--url (or --export / --database) is required")
        })?;
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(10));
        let ca_path = args
            .cacert
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        let pem = std::fs::read(&ca_path)
            .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", ca_path.display())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad_data(format!("{}: {e}", ca_path.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
        Ok(Remote {
            base: base.trim_end_matches('/').to_owned(),
            client,
            api_key: args.api_key.clone(),
        })
    }

    async fn get(&self, path: &str) -> Result<String, CliError> {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(unavailable)?;
        let status = resp.status();
        let body = read_limited(resp).await?;
        if !status.is_success() {
            return Err(CliError::new(
                EXIT_UNAVAILABLE,
                format!(
                    "{path}: HTTP {status}: {}",
                    body.chars().take(300).collect::<String>()
                ),
            ));
        }
        Ok(body)
    }

    async fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let body = self.get(path).await?;
        serde_json::from_str(&body).map_err(|e| bad_data(format!("{path}: {e}")))
    }
}

async fn read_limited(mut resp: reqwest::Response) -> Result<String, CliError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(unavailable)? {
        out.extend_from_slice(&chunk);
        if out.len() as u64 > MAX_READ {
            return Err(bad_data("response too large"));
        }
    }
    String::from_utf8(out).map_err(|_| bad_data("response is not UTF-8"))
}

/// The exported bundle (`antin audit export`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Export {
    format: String,
    origin: String,
    checkpoint: String,
    from: u64,
    to: u64,
    entries: Vec<ExportEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ExportEntry {
    index: u64,
    entry: String,
    proof: Vec<String>,
}

const EXPORT_FORMAT: &str = "antin-log-export/v1";

fn read_file(path: &Path) -> Result<String, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_READ {
        return Err(bad_data(format!("{}: file too large", path.display())));
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", path.display())))
}

impl Source {
    async fn open(config: &Config, args: &SourceArgs) -> Result<Source, CliError> {
        if let Some(path) = &args.export {
            let export: Export = serde_json::from_str(&read_file(path)?).map_err(|e| {
                bad_data(format!("{}: not an antin log export: {e}", path.display()))
            })?;
            if export.format != EXPORT_FORMAT {
                return Err(bad_data(format!(
                    "{}: unknown export format {:?}",
                    path.display(),
                    export.format
                )));
            }
            return Ok(Source::Export(export));
        }
        if args.database {
            let store = Store::connect_for_audit(&config.database).await?;
            let log = crate::audit::log::TransparencyLog::open(
                store,
                &config.audit,
                &config.server.public_url,
            )
            .map_err(|e| CliError::new(super::EXIT_CONFIG, e.to_string()))?;
            return Ok(Source::Database(Box::new(log)));
        }
        Ok(Source::Remote(Remote::new(&args.remote)?))
    }

    /// The latest signed checkpoint note.
    async fn checkpoint(&self) -> Result<String, CliError> {
        match self {
            Source::Remote(r) => r.get("/v1/log/checkpoint").await,
            Source::Export(e) => Ok(e.checkpoint.clone()),
            Source::Database(log) => log
                .store()
                .log_latest_checkpoint()
                .await?
                .map(|c| c.note)
                .ok_or_else(|| bad_data("the database holds no signed checkpoint")),
        }
    }

    /// Every signed checkpoint the source keeps (the database keeps them all).
    async fn all_checkpoints(&self) -> Result<Vec<String>, CliError> {
        match self {
            Source::Database(log) => Ok(log
                .store()
                .log_checkpoints()
                .await?
                .into_iter()
                .map(|c| c.note)
                .collect()),
            _ => Ok(vec![self.checkpoint().await?]),
        }
    }

    /// Entries `start..end`, possibly fewer (a page).
    async fn entries(&self, start: u64, end: u64) -> Result<Vec<Row>, CliError> {
        match self {
            Source::Remote(r) => {
                let v = r
                    .get_json(&format!("/v1/log/entries?start={start}&end={end}"))
                    .await?;
                let items = v["entries"]
                    .as_array()
                    .ok_or_else(|| bad_data("entries: not a list"))?;
                items
                    .iter()
                    .map(|e| {
                        Ok(Row {
                            index: e["index"]
                                .as_u64()
                                .ok_or_else(|| bad_data("entries: index missing"))?,
                            body: e["entry"]
                                .as_str()
                                .ok_or_else(|| bad_data("entries: entry missing"))?
                                .to_owned(),
                            stored_leaf: e["leaf_hash"]
                                .as_str()
                                .map(decode_b64_hash)
                                .transpose()?,
                        })
                    })
                    .collect()
            }
            Source::Export(x) => Ok(x
                .entries
                .iter()
                .filter(|e| e.index >= start && e.index < end)
                .map(|e| Row {
                    index: e.index,
                    body: e.entry.clone(),
                    stored_leaf: None,
                })
                .collect()),
            Source::Database(log) => Ok(log
                .store()
                .log_entry_rows(start, end)
                .await?
                .into_iter()
                .map(|r| Row {
                    index: r.index,
                    body: r.body,
                    stored_leaf: r.stored_leaf,
                })
                .collect()),
        }
    }

    async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, CliError> {
        match self {
            Source::Remote(r) => {
                let v = r
                    .get_json(&format!("/v1/log/proof/consistency?old={old}&new={new}"))
                    .await?;
                hashes(&v["proof"])
            }
            Source::Export(_) => Err(CliError::new(
                EXIT_USAGE,
                "an export carries no consistency proofs: use --url or --database",
            )),
            Source::Database(log) => log
                .consistency_proof(old, new)
                .await
                .map_err(|e| bad_data(e.to_string())),
        }
    }

    async fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, CliError> {
        match self {
            Source::Remote(r) => {
                let v = r
                    .get_json(&format!(
                        "/v1/log/proof/inclusion?index={index}&size={size}"
                    ))
                    .await?;
                hashes(&v["proof"])
            }
            Source::Export(x) => {
                let e = x
                    .entries
                    .iter()
                    .find(|e| e.index == index)
                    .ok_or_else(|| bad_data(format!("entry {index} is not in the export")))?;
                e.proof.iter().map(|h| decode_b64_hash(h)).collect()
            }
            Source::Database(log) => log
                .inclusion_proof(index, size)
                .await
                .map_err(|e| bad_data(e.to_string())),
        }
    }

    async fn lookup(&self, subject: &str) -> Result<Vec<u64>, CliError> {
        match self {
            Source::Remote(r) => {
                let v = r
                    .get_json(&format!("/v1/log/lookup?subject={}", url_encode(subject)))
                    .await?;
                v["indices"]
                    .as_array()
                    .ok_or_else(|| bad_data("lookup: not a list"))?
                    .iter()
                    .map(|i| i.as_u64().ok_or_else(|| bad_data("lookup: bad index")))
                    .collect()
            }
            Source::Export(x) => {
                // An export has no subject index: scan its entries' data for the subject.
                let want = subject.strip_prefix("sha256:").unwrap_or(subject);
                Ok(x.entries
                    .iter()
                    .filter(|e| e.entry.contains(want))
                    .map(|e| e.index)
                    .collect())
            }
            Source::Database(log) => Ok(log.store().log_find_subject(subject).await?),
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hashes(v: &Value) -> Result<Vec<Hash>, CliError> {
    v.as_array()
        .ok_or_else(|| bad_data("proof: not a list"))?
        .iter()
        .map(|h| {
            h.as_str()
                .ok_or_else(|| bad_data("proof: not a string"))
                .and_then(decode_b64_hash)
        })
        .collect()
}

// --- Keys and checkpoints --------------------------------------------------------------------

fn verifier(key: &KeyArg) -> Result<NoteVerifier, CliError> {
    let text = if key.vkey.contains('+') {
        key.vkey.clone()
    } else {
        read_file(Path::new(&key.vkey))?.trim().to_owned()
    };
    NoteVerifier::parse(text.trim()).map_err(|e| CliError::new(EXIT_USAGE, format!("--vkey: {e}")))
}

/// Opens a signed checkpoint note with the log's key; a bad signature is a failed check (exit 1).
fn open_checkpoint(note_text: &str, v: &NoteVerifier, lang: Lang) -> Result<Checkpoint, CliError> {
    let opened = note::open(note_text, std::slice::from_ref(v)).map_err(|e| {
        CliError::new(
            EXIT_FAILED,
            format!(
                "{}: {e}",
                lang.pick(
                    "chữ ký của điểm kiểm tra (checkpoint) không hợp lệ",
                    "the checkpoint's signature does not verify"
                )
            ),
        )
    })?;
    let cp = Checkpoint::parse(&opened.text)
        .map_err(|e| CliError::new(EXIT_FAILED, format!("checkpoint: {e}")))?;
    if cp.origin != v.name() {
        return Err(CliError::new(
            EXIT_FAILED,
            format!(
                "checkpoint origin {:?} is not the log named by the key ({:?})",
                cp.origin,
                v.name()
            ),
        ));
    }
    Ok(cp)
}

fn b64(h: &Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

fn print_checkpoint(cp: &Checkpoint, lang: Lang) {
    println!("{} {}", lang.pick("Nhật ký:", "Log:"), cp.origin);
    println!("{} {}", lang.pick("Số mục:", "Entries:"), cp.size);
    println!("{} {}", lang.pick("Gốc cây:", "Root:"), b64(&cp.root));
}

async fn checkpoint(
    remote: RemoteArgs,
    key: &KeyArg,
    trusted: Option<&Path>,
    out: Option<&Path>,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let source = Source::Remote(Remote::new(&remote)?);
    let note_text = source.checkpoint().await?;
    let cp = open_checkpoint(&note_text, &v, lang)?;
    if let Some(path) = trusted {
        let old = open_checkpoint(&read_file(path)?, &v, lang)?;
        check_consistent(&source, &old, &cp, lang).await?;
        println!(
            "{} {} -> {}",
            lang.pick(
                "Nhất quán với điểm kiểm tra đã tin cậy:",
                "Consistent with the trusted checkpoint:"
            ),
            old.size,
            cp.size
        );
    }
    print_checkpoint(&cp, lang);
    println!("{}", lang.pick("Chữ ký hợp lệ.", "Signature valid."));
    if let Some(path) = out {
        std::fs::write(path, &note_text).map_err(|e| {
            CliError::new(super::EXIT_CANTCREAT, format!("{}: {e}", path.display()))
        })?;
    }
    Ok(0)
}

async fn check_consistent(
    source: &Source,
    old: &Checkpoint,
    new: &Checkpoint,
    lang: Lang,
) -> Result<(), CliError> {
    if old.size > new.size {
        return Err(CliError::new(
            EXIT_FAILED,
            format!(
                "{} ({} > {})",
                lang.pick(
                    "điểm kiểm tra mới nhỏ hơn điểm đã tin cậy: nhật ký bị cắt bớt",
                    "the new checkpoint is smaller than the trusted one: the log was truncated"
                ),
                old.size,
                new.size
            ),
        ));
    }
    let proof = source.consistency(old.size, new.size).await?;
    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof).map_err(|e| {
        CliError::new(
            EXIT_FAILED,
            format!(
                "{}: {e}",
                lang.pick(
                    "nhật ký KHÔNG nhất quán: lịch sử đã bị thay đổi",
                    "the log is NOT consistent: its history was changed"
                )
            ),
        )
    })
}

async fn consistency(
    config: &Config,
    old: &Path,
    new: &Path,
    source: SourceArgs,
    key: &KeyArg,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let old = open_checkpoint(&read_file(old)?, &v, lang)?;
    let new = open_checkpoint(&read_file(new)?, &v, lang)?;
    let source = Source::open(config, &source).await?;
    check_consistent(&source, &old, &new, lang).await?;
    println!(
        "{} {} -> {}",
        lang.pick("Nhất quán:", "Consistent:"),
        old.size,
        new.size
    );
    Ok(0)
}

// --- verify-log -----------------------------------------------------------------------------

async fn verify_log(
    config: &Config,
    args: SourceArgs,
    key: &KeyArg,
    checkpoint_file: Option<&Path>,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let source = Source::open(config, &args).await?;
    let notes = match checkpoint_file {
        Some(p) => vec![read_file(p)?],
        None => source.all_checkpoints().await?,
    };
    let mut anchors = Vec::new();
    let mut target = 0u64;
    for n in &notes {
        let cp = open_checkpoint(n, &v, lang)?;
        target = target.max(cp.size);
        anchors.push(Anchor {
            size: cp.size,
            root: cp.root,
        });
    }
    if let Source::Export(x) = &source {
        if x.from != 0 {
            return verify_partial_export(x, &v, lang);
        }
    }
    let mut replay = Replay::new(anchors);
    read_pages(&source, &mut replay, target).await?;
    let result = replay.finish();
    match &result.finding {
        None => {
            println!(
                "{} {} {}; {} {:?}",
                lang.pick("Đã kiểm tra", "Verified"),
                result.size,
                lang.pick("mục", "entries"),
                lang.pick(
                    "khớp các điểm kiểm tra đã ký ở cỡ",
                    "matching the signed checkpoints at sizes"
                ),
                result.matched
            );
            println!("{} {}", lang.pick("Gốc cây:", "Root:"), b64(&result.root));
            Ok(0)
        }
        Some(f) => {
            eprintln!(
                "{} {}: {f}",
                lang.pick(
                    "NHẬT KÝ BỊ SỬA ĐỔI — mục sai đầu tiên",
                    "LOG TAMPERED — first bad index"
                ),
                f.index
            );
            println!("first_bad_index={}", f.index);
            Ok(EXIT_FAILED)
        }
    }
}

/// Pages read one after the other, each from where the last one ended (a server may answer
/// fewer entries than asked), the next fetched while this one is checked: the database (or the
/// network) works while the cores hash.
async fn read_pages(source: &Source, replay: &mut Replay, target: u64) -> Result<(), CliError> {
    let mut start = 0u64;
    let mut rows = source.entries(start, start + PAGE).await?;
    while let Some(last) = rows.last().map(|r| r.index) {
        if last < start {
            replay.push_batch(&batch_of(&rows));
            break;
        }
        start = last + 1;
        let (next, ()) = tokio::join!(source.entries(start, start + PAGE), async {
            tokio::task::block_in_place(|| replay.push_batch(&batch_of(&rows)))
        });
        rows = next?;
        if replay.finding().is_some_and(|f| f.index < replay.size()) && start > target {
            break;
        }
    }
    Ok(())
}

fn batch_of(rows: &[Row]) -> Vec<(u64, &str, Option<Hash>)> {
    rows.iter()
        .map(|r| (r.index, r.body.as_str(), r.stored_leaf))
        .collect()
}

fn verify_partial_export(x: &Export, v: &NoteVerifier, lang: Lang) -> Result<u8, CliError> {
    let cp = open_checkpoint(&x.checkpoint, v, lang)?;
    for e in &x.entries {
        let proof: Vec<Hash> = e
            .proof
            .iter()
            .map(|h| decode_b64_hash(h))
            .collect::<Result<_, _>>()?;
        let bad = entry::decode(&e.entry, e.index)
            .err()
            .map(|x| x.to_string())
            .or_else(|| {
                merkle::verify_inclusion(
                    &merkle::leaf_hash(e.entry.as_bytes()),
                    e.index,
                    cp.size,
                    &proof,
                    &cp.root,
                )
                .err()
                .map(|x| x.to_string())
            });
        if let Some(why) = bad {
            eprintln!("entry {}: {why}", e.index);
            println!("first_bad_index={}", e.index);
            return Ok(EXIT_FAILED);
        }
    }
    println!(
        "{} {} {} ({}..{}) {} {}",
        lang.pick("Đã kiểm tra", "Verified"),
        x.entries.len(),
        lang.pick("mục", "entries"),
        x.from,
        x.to,
        lang.pick("với điểm kiểm tra cỡ", "against the checkpoint of size"),
        cp.size
    );
    Ok(0)
}

// --- Proofs ---------------------------------------------------------------------------------

async fn prove(
    index: u64,
    remote: RemoteArgs,
    key: &KeyArg,
    out: Option<PathBuf>,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let r = Remote::new(&remote)?;
    let text = r.get(&format!("/v1/log/entries/{index}/proof")).await?;
    let bundle = ProofBundle::parse(&text).map_err(bad_data)?;
    let code = check_bundle(&bundle, &v, None, lang)?;
    if code == 0 {
        let out = out.unwrap_or_else(|| PathBuf::from(format!("entry-{index}.tlog-proof")));
        std::fs::write(&out, &text)
            .map_err(|e| CliError::new(super::EXIT_CANTCREAT, format!("{}: {e}", out.display())))?;
        println!("{} {}", lang.pick("Đã ghi", "Wrote"), out.display());
    }
    Ok(code)
}

fn verify_proof(
    file: &Path,
    key: &KeyArg,
    entry: Option<&Path>,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let bundle = ProofBundle::parse(&read_file(file)?)
        .map_err(|e| CliError::new(EXIT_FAILED, format!("{}: {e}", file.display())))?;
    let entry_bytes = entry.map(read_file).transpose()?;
    check_bundle(&bundle, &v, entry_bytes.as_deref(), lang)
}

/// Checks a bundle: the checkpoint's signature, the entry's inclusion, the entry's encoding.
fn check_bundle(
    bundle: &ProofBundle,
    v: &NoteVerifier,
    entry_override: Option<&str>,
    lang: Lang,
) -> Result<u8, CliError> {
    let body = match (entry_override, &bundle.extra) {
        (Some(e), _) => e.to_owned(),
        (None, Some(extra)) => String::from_utf8(extra.clone())
            .map_err(|_| CliError::new(EXIT_FAILED, "the bundle's entry is not UTF-8"))?,
        (None, None) => {
            return Err(CliError::new(
                EXIT_USAGE,
                "the bundle carries no entry: give it with --entry FILE",
            ))
        }
    };
    let leaf = merkle::leaf_hash(body.as_bytes());
    let cp = match bundle.verify(&leaf, std::slice::from_ref(v)) {
        Ok(cp) => cp,
        Err(e) => {
            eprintln!(
                "{}: {e}",
                lang.pick("BẰNG CHỨNG KHÔNG HỢP LỆ", "PROOF INVALID")
            );
            return Ok(EXIT_FAILED);
        }
    };
    let decoded = match entry::decode(&body, bundle.index) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("entry {}: {e}", bundle.index);
            return Ok(EXIT_FAILED);
        }
    };
    println!(
        "{} {} {} {} {}",
        lang.pick("Mục", "Entry"),
        bundle.index,
        lang.pick("có trong nhật ký cỡ", "is included in the log of size"),
        cp.size,
        lang.pick(
            "(chữ ký điểm kiểm tra hợp lệ)",
            "(checkpoint signature valid)"
        )
    );
    println!("  kind:  {}", decoded.kind);
    println!("  time:  {}", decoded.time);
    println!("  actor: {}", decoded.actor);
    println!("  data:  {}", decoded.data);
    Ok(0)
}

// --- Export ---------------------------------------------------------------------------------

async fn export(
    config: &Config,
    from: u64,
    to: Option<u64>,
    args: SourceArgs,
    key: &KeyArg,
    out: &Path,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let source = Source::open(config, &args).await?;
    let note_text = source.checkpoint().await?;
    let cp = open_checkpoint(&note_text, &v, lang)?;
    let to = to.unwrap_or(cp.size).min(cp.size);
    if from > to {
        return Err(CliError::new(
            EXIT_USAGE,
            format!("--from {from} is after --to {to}"),
        ));
    }
    let mut entries = Vec::new();
    let mut start = from;
    while start < to {
        let rows = source.entries(start, to.min(start + PAGE)).await?;
        let Some(last) = rows.last().map(|r| r.index) else {
            break;
        };
        for r in rows {
            let proof = source.inclusion(r.index, cp.size).await?;
            if merkle::verify_inclusion(
                &merkle::leaf_hash(r.body.as_bytes()),
                r.index,
                cp.size,
                &proof,
                &cp.root,
            )
            .is_err()
            {
                eprintln!(
                    "{} {}",
                    lang.pick(
                        "Mục không khớp điểm kiểm tra:",
                        "Entry does not match the checkpoint:"
                    ),
                    r.index
                );
                println!("first_bad_index={}", r.index);
                return Ok(EXIT_FAILED);
            }
            entries.push(ExportEntry {
                index: r.index,
                entry: r.body,
                proof: proof.iter().map(b64).collect(),
            });
        }
        start = last + 1;
    }
    if entries.len() as u64 != to - from {
        eprintln!(
            "{}",
            lang.pick(
                "Thiếu mục trong khoảng đã chọn.",
                "Entries are missing in the range."
            )
        );
        return Ok(EXIT_FAILED);
    }
    let export = Export {
        format: EXPORT_FORMAT.into(),
        origin: cp.origin.clone(),
        checkpoint: note_text,
        from,
        to,
        entries,
    };
    let json =
        serde_json::to_string(&export).map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
    std::fs::write(out, json)
        .map_err(|e| CliError::new(super::EXIT_CANTCREAT, format!("{}: {e}", out.display())))?;
    println!(
        "{} {} {} ({}..{}) -> {}",
        lang.pick("Đã xuất", "Exported"),
        to - from,
        lang.pick("mục", "entries"),
        from,
        to,
        out.display()
    );
    Ok(0)
}

// --- document -------------------------------------------------------------------------------

async fn document(
    config: &Config,
    file: &Path,
    verdict: u8,
    args: SourceArgs,
    key: &KeyArg,
    lang: Lang,
) -> Result<u8, CliError> {
    let v = verifier(key)?;
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", file.display())))?;
    let sha = hex::encode(openssl::sha::sha256(&bytes));
    // 2. The issuance in the log.
    let source = Source::open(config, &args).await?;
    let cp = open_checkpoint(&source.checkpoint().await?, &v, lang)?;
    let mut issued = None;
    for index in source.lookup(&format!("sha256:{sha}")).await? {
        if index >= cp.size {
            continue;
        }
        let Some(row) = source.entries(index, index + 1).await?.into_iter().next() else {
            continue;
        };
        let Ok(decoded) = entry::decode(&row.body, index) else {
            continue;
        };
        if decoded.kind != "document_signed"
            || decoded.data["signed_sha256"].as_str() != Some(sha.as_str())
        {
            continue;
        }
        let proof = source.inclusion(index, cp.size).await?;
        if merkle::verify_inclusion(
            &merkle::leaf_hash(row.body.as_bytes()),
            index,
            cp.size,
            &proof,
            &cp.root,
        )
        .is_ok()
        {
            issued = Some(decoded);
            break;
        }
    }
    println!();
    match issued {
        Some(d) => {
            println!(
                "{} {} ({} {}, {} {})",
                lang.pick(
                    "Nhật ký minh bạch: antin đã phát hành tài liệu này — mục",
                    "Transparency log: antin issued this document — entry"
                ),
                d.index,
                lang.pick("lúc", "at"),
                d.time,
                lang.pick(
                    "có trong điểm kiểm tra cỡ",
                    "included in the checkpoint of size"
                ),
                cp.size
            );
            println!("  data: {}", d.data);
            Ok(if verdict == 0 { 0 } else { verdict })
        }
        None => {
            println!(
                "{} (SHA-256 {sha})",
                lang.pick(
                    "Nhật ký minh bạch: KHÔNG có ghi nhận antin phát hành tài liệu này",
                    "Transparency log: NO record that antin issued this document"
                )
            );
            Ok(EXIT_FAILED)
        }
    }
}
