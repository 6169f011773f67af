//! `antin sign`: sign a result PDF (or every PDF of a folder) with a configured profile, check
//! it with antin's own verifier, record it (and its transparency-log entry), write it out.

use std::path::{Path, PathBuf};

use clap::Args;
use time::OffsetDateTime;

use super::{CliError, EXIT_CANTCREAT, EXIT_CONFIG, EXIT_DATA, EXIT_NOINPUT, EXIT_USAGE};
use crate::config::Config;
use crate::i18n::Lang;
use crate::sign::pdf::Placement;
use crate::sign::service::{self, Level, SignError, SignOptions, Signer};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The PDF to sign, or a folder: every *.pdf in it is signed (batch).
    pub input: PathBuf,
    /// The signed PDF, or for a folder the output folder.
    #[arg(long, short = 'o', value_name = "OUT")]
    pub out: PathBuf,
    /// The signing profile (default: sign.default_profile).
    #[arg(long)]
    pub profile: Option<String>,
    /// PAdES level (default: the profile's).
    #[arg(long, value_name = "B-B|B-T|B-LT|B-LTA")]
    pub level: Option<String>,
    /// Sign into this existing empty signature field.
    #[arg(long, conflicts_with_all = ["page", "rect", "invisible"])]
    pub field: Option<String>,
    /// No visible signature, even when the profile's appearance has a default place.
    #[arg(long, conflicts_with_all = ["page", "rect"])]
    pub invisible: bool,
    /// A visible signature on this page (1-based), with --rect.
    #[arg(long, requires = "rect")]
    pub page: Option<usize>,
    /// x,y,w,h in PDF points.
    #[arg(long, requires = "page", value_name = "X,Y,W,H")]
    pub rect: Option<String>,
    /// A certification signature with DocMDP /P 1, 2 or 3.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub certify: Option<u8>,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub location: Option<String>,
    /// The dossier (hồ sơ) the result belongs to.
    #[arg(long)]
    pub dossier: Option<String>,
    /// Extend an already signed PDF (or every PDF of a folder) to --level B-LT or B-LTA (default
    /// B-LTA): add the validation data of every signature and timestamp in it, then for B-LTA a
    /// document timestamp. On a B-LTA archive this is the renewal step.
    #[arg(long, conflicts_with_all = ["field", "page", "rect", "certify", "reason", "location", "dossier"])]
    pub extend: bool,
    /// With --extend: renew only when the last document timestamp's TSA certificate expires
    /// within DAYS days; otherwise say there is nothing to do and exit 0.
    #[arg(long, requires = "extend", value_name = "DAYS")]
    pub if_expiring_within: Option<u32>,
}

fn parse_rect(s: &str) -> Result<[f64; 4], CliError> {
    service::parse_rect(s).map_err(|e| {
        CliError::new(
            EXIT_USAGE,
            match e {
                service::RectError::NotNumbers => format!("--rect {s:?}: expected x,y,w,h"),
                service::RectError::Invalid => {
                    format!("--rect {s:?}: expected x,y,w,h with w, h > 0")
                }
            },
        )
    })
}

pub(super) fn sign_error(e: SignError) -> CliError {
    match e {
        SignError::UnknownProfile(_) | SignError::Profile { .. } | SignError::NoTsa { .. } => {
            CliError::new(EXIT_CONFIG, e.to_string())
        }
        SignError::Pdf(_) => CliError::new(EXIT_DATA, e.to_string()),
        SignError::Tsa(_) | SignError::Ltv(_) => {
            CliError::new(super::EXIT_UNAVAILABLE, e.to_string())
        }
        other => CliError::new(super::EXIT_SOFTWARE, other.to_string()),
    }
}

pub fn run(config: &Config, args: SignArgs, lang: Lang) -> Result<u8, CliError> {
    if args.extend {
        return super::extend::run(config, &args, lang);
    }
    let signer =
        Signer::from_config(&config.sign, &config.server.public_url).map_err(sign_error)?;
    let profile = signer
        .profile(args.profile.as_deref())
        .map_err(sign_error)?;
    let level = args
        .level
        .as_deref()
        .map(|l| l.parse::<Level>())
        .transpose()
        .map_err(|e| CliError::new(EXIT_USAGE, e))?;
    let placement = match (&args.field, args.page, &args.rect) {
        (Some(f), _, _) => Some(Placement::Field(f.clone())),
        (None, Some(page), Some(rect)) => Some(Placement::Visible {
            page,
            rect: parse_rect(rect)?,
        }),
        _ if args.invisible => Some(Placement::Invisible),
        // The profile's default place.
        _ => None,
    };
    let opts = SignOptions {
        level,
        placement,
        document_id: None,
        field_name: None,
        certify: args.certify,
        reason: args.reason.clone(),
        location: args.location.clone(),
    };
    let jobs: Vec<(PathBuf, PathBuf)> = if args.input.is_dir() {
        std::fs::create_dir_all(&args.out)
            .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", args.out.display())))?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&args.input)
            .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", args.input.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let out = args.out.join(p.file_name().unwrap_or_default());
                (p, out)
            })
            .collect()
    } else {
        vec![(args.input.clone(), args.out.clone())]
    };
    let context = crate::verify::engine::Context::from_config(config, &[])
        .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = Store::connect(&config.database).await?;
        let total = jobs.len();
        let mut failed = 0usize;
        for (i, (input, out)) in jobs.iter().enumerate() {
            let result = sign_one(
                &store,
                &context,
                profile,
                &opts,
                input,
                out,
                args.dossier.as_deref(),
            )
            .await;
            match result {
                Ok((id, level, sha)) => println!(
                    "[{}/{total}] {} {} -> {} ({} {id}, {level}, SHA-256 {sha})",
                    i + 1,
                    lang.pick("Đã ký", "Signed"),
                    input.display(),
                    out.display(),
                    lang.pick("mã tài liệu", "document id"),
                ),
                Err(e) if total == 1 => {
                    store.close().await;
                    return Err(e);
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("[{}/{total}] {}: {}", i + 1, input.display(), e.message);
                }
            }
        }
        store.close().await;
        Ok(if failed == 0 { 0 } else { EXIT_DATA })
    })
}

async fn sign_one(
    store: &Store,
    context: &crate::verify::engine::Context,
    profile: &service::Profile,
    opts: &SignOptions,
    input: &Path,
    out: &Path,
    dossier: Option<&str>,
) -> Result<(String, &'static str, String), CliError> {
    let bytes = std::fs::read(input)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", input.display())))?;
    let now = OffsetDateTime::now_utc();
    let id = service::new_document_id();
    let opts = SignOptions {
        document_id: Some(id.clone()),
        ..opts.clone()
    };
    let signed = service::sign(profile, &bytes, &opts, now)
        .await
        .map_err(sign_error)?;
    service::self_check(context, profile, &signed, now).map_err(sign_error)?;
    let (record, entry) = service::issued(
        &id,
        profile,
        &bytes,
        &signed,
        &crate::audit::record::cli_actor(),
        dossier,
        &service::Published::default(),
        now,
    );
    // Written under a temporary name, recorded, then renamed into place: a failure to record
    // leaves no signed file behind, and a crash leaves at most a `.partial` file.
    let tmp = out.with_extension("pdf.partial");
    std::fs::write(&tmp, &signed.bytes)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", tmp.display())))?;
    if let Err(e) = store.insert_signed_document(&record, &[entry]).await {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    std::fs::rename(&tmp, out)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", out.display())))?;
    Ok((record.id, signed.level.as_str(), record.signed_sha256))
}
