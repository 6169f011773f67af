//! `antin sign --extend`: bring signed PDFs (a file or every PDF of a folder) up to B-LT or B-LTA,
//! or renew B-LTA archives (`--if-expiring-within DAYS`, for cron), with a profile's revocation
//! sources and TSA. Refused documents are left untouched and no output is written for them.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::sign::{sign_error, SignArgs};
use super::{CliError, EXIT_CANTCREAT, EXIT_CONFIG, EXIT_DATA, EXIT_NOINPUT, EXIT_USAGE};
use crate::config::Config;
use crate::i18n::Lang;
use crate::sign::extend::{self, ExtendError, ExtendOptions, Extended};
use crate::sign::service::{Level, Profile, Signer};

fn extend_error(e: ExtendError) -> CliError {
    let code = match &e {
        ExtendError::Level(_) => EXIT_USAGE,
        ExtendError::NoTsa(_) => EXIT_CONFIG,
        ExtendError::Sign(_) | ExtendError::Ltv(_) | ExtendError::NoValidationData { .. } => {
            super::EXIT_UNAVAILABLE
        }
        ExtendError::SelfCheck(_) => super::EXIT_SOFTWARE,
        _ => EXIT_DATA,
    };
    match e {
        ExtendError::Sign(s) => sign_error(s),
        other => CliError::new(code, other.to_string()),
    }
}

/// (input, output) pairs: the file, or every *.pdf of the folder into the output folder.
fn jobs(input: &Path, out: &Path) -> Result<Vec<(PathBuf, PathBuf)>, CliError> {
    if !input.is_dir() {
        return Ok(vec![(input.to_owned(), out.to_owned())]);
    }
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", out.display())))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", input.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|p| {
            let o = out.join(p.file_name().unwrap_or_default());
            (p, o)
        })
        .collect())
}

pub fn run(config: &Config, args: &SignArgs, lang: Lang) -> Result<u8, CliError> {
    let level = match args.level.as_deref() {
        None => Level::BLTA,
        Some(l) => l
            .parse::<Level>()
            .map_err(|e| CliError::new(EXIT_USAGE, e))?,
    };
    if level < Level::BLT {
        return Err(extend_error(ExtendError::Level(level.as_str())));
    }
    let opts = ExtendOptions {
        level,
        if_expiring_within: args
            .if_expiring_within
            .map(|d| time::Duration::days(i64::from(d))),
    };
    let signer =
        Signer::from_config(&config.sign, &config.server.public_url).map_err(sign_error)?;
    let profile = signer
        .profile(args.profile.as_deref())
        .map_err(sign_error)?;
    let context = crate::verify::engine::Context::from_config(config, &[])
        .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
    let jobs = jobs(&args.input, &args.out)?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = crate::store::Store::connect(&config.database).await?;
        let total = jobs.len();
        let mut failed = 0usize;
        for (i, (input, out)) in jobs.iter().enumerate() {
            match extend_one(&store, &context, profile, &opts, input, out).await {
                Ok(Extended::Done { level, .. }) => println!(
                    "[{}/{total}] {} {} -> {} ({level})",
                    i + 1,
                    lang.pick("Đã bổ sung dữ liệu kiểm tra", "Extended"),
                    input.display(),
                    out.display(),
                    level = level.as_str(),
                ),
                Ok(Extended::NothingToDo { tsa_not_after }) => println!(
                    "[{}/{total}] {} {}: {} {}",
                    i + 1,
                    lang.pick("Không cần gia hạn", "Nothing to do for"),
                    input.display(),
                    lang.pick(
                        "chứng thư của dấu thời gian cuối cùng còn hiệu lực đến",
                        "the last timestamp's TSA certificate is valid until"
                    ),
                    crate::timefmt::vietnam(tsa_not_after),
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

async fn extend_one(
    store: &crate::store::Store,
    context: &crate::verify::engine::Context,
    profile: &Profile,
    opts: &ExtendOptions,
    input: &Path,
    out: &Path,
) -> Result<Extended, CliError> {
    let bytes = std::fs::read(input)
        .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", input.display())))?;
    let now = OffsetDateTime::now_utc();
    let result = extend::extend(context, profile, &bytes, opts, now)
        .await
        .map_err(extend_error)?;
    if let Extended::Done {
        bytes: extended,
        level,
    } = &result
    {
        // Written under a temporary name, then renamed into place (the output may be the input:
        // renewing an archive in place); a crash leaves at most a `.partial` file.
        let tmp = out.with_extension("pdf.partial");
        std::fs::write(&tmp, extended)
            .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", tmp.display())))?;
        // Logged before it is put in place: a failure to log leaves no extended file behind.
        let entry = extend::log_entry(
            &bytes,
            extended,
            &profile.name,
            *level,
            &crate::audit::record::cli_actor(),
            now,
        );
        if let Err(e) = store.log_append(&[entry], now).await {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        std::fs::rename(&tmp, out).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::new(EXIT_CANTCREAT, format!("{}: {e}", out.display()))
        })?;
    }
    Ok(result)
}
