//! `antin recon`: the finance officers' daily reconciliation against the local database.
//! Exit codes: 0 everything matched (or no open discrepancy), 1 open discrepancies remain,
//! >= 64 bad input (65 a rejected file, 66 unreadable, 64 usage).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use time::{Date, OffsetDateTime};

use super::{
    CliError, EXIT_CANTCREAT, EXIT_CONFIG, EXIT_DATA, EXIT_NOINPUT, EXIT_SOFTWARE,
    EXIT_UNAVAILABLE, EXIT_USAGE,
};
use crate::config::Config;
use crate::i18n::Lang;
use crate::recon::report::{self, class_label};
use crate::recon::service::{self, ReconError};
use crate::store::recon::{Imported, StoredDiscrepancy};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Import a settlement file (vnpay, momo, zalopay) or a bank statement (MT940, camt.053/054).
    Import {
        file: PathBuf,
        #[arg(long, value_parser = ["vnpay", "momo", "zalopay", "bank"])]
        source: String,
    },
    /// Reconcile a day (YYYY-MM-DD, Vietnam business day).
    Run(RunArgs),
    /// The day's report from its latest run.
    Report {
        #[arg(long)]
        date: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// Where to write it; `-` is standard output. Default: the terminal for table, csv and
        /// json, `doi-soat-YYYY-MM-DD.xlsx|pdf` in the current directory for xlsx and pdf (the PDF
        /// signed with the default signing profile when one is configured).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Discrepancies of each day's latest run.
    Discrepancies {
        #[arg(long)]
        open: bool,
        #[arg(long)]
        date: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Resolve a discrepancy with a reason (posts a correcting ledger entry when money is involved).
    Resolve {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long)]
    pub date: String,
    #[arg(long)]
    pub agency: Option<String>,
    /// Today for SLAs (default: today in Vietnam).
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    Xlsx,
    Pdf,
}

impl From<ReportFormat> for report::ReportFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Table => report::ReportFormat::Table,
            ReportFormat::Csv => report::ReportFormat::Csv,
            ReportFormat::Json => report::ReportFormat::Json,
            ReportFormat::Xlsx => report::ReportFormat::Xlsx,
            ReportFormat::Pdf => report::ReportFormat::Pdf,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Csv,
    Json,
}

pub(super) fn date_arg(flag: &str, s: &str) -> Result<Date, CliError> {
    crate::recon::config::parse_date(s)
        .ok_or_else(|| CliError::new(EXIT_USAGE, format!("{flag} {s:?} is not a date YYYY-MM-DD")))
}

impl From<ReconError> for CliError {
    fn from(e: ReconError) -> Self {
        let code = match &e {
            ReconError::Rejected(_) | ReconError::NotFound(_) | ReconError::AlreadyResolved(_) => {
                EXIT_DATA
            }
            ReconError::Unreadable { .. } => EXIT_NOINPUT,
            ReconError::BadInput(_) => EXIT_DATA,
            ReconError::Config(_) => EXIT_CONFIG,
            ReconError::Store(_) => EXIT_UNAVAILABLE,
        };
        CliError::new(code, e.to_string())
    }
}

pub fn run(config: &Config, cmd: ReconCommand, lang: Lang) -> Result<u8, CliError> {
    super::runtime()?.block_on(async move {
        let store = Store::connect(&config.database).await?;
        let r = exec(config, &store, cmd, lang).await;
        store.close().await;
        r
    })
}

async fn exec(
    config: &Config,
    store: &Store,
    cmd: ReconCommand,
    lang: Lang,
) -> Result<u8, CliError> {
    let cfg = &config.recon;
    let actor = crate::audit::record::cli_actor();
    let now = OffsetDateTime::now_utc();
    match cmd {
        ReconCommand::Import { file, source } => {
            let progress = std::io::stderr().is_terminal().then(|| progress_bar(lang));
            let (imported, sha) = service::import_file_with_progress(
                store, cfg, &file, &source, &actor, now, progress,
            )
            .await?;
            match imported {
                Imported::New(n) => println!(
                    "{} {n} {} ({}) sha256={sha}",
                    lang.pick("Đã nhập", "Imported"),
                    lang.pick("dòng", "rows"),
                    file.display()
                ),
                Imported::AlreadyImported => println!(
                    "{} sha256={sha}",
                    lang.pick(
                        "Tệp đã được nhập trước đó, không thay đổi gì:",
                        "Already imported, nothing changed:"
                    )
                ),
            }
            Ok(0)
        }
        ReconCommand::Run(args) => {
            let date = date_arg("--date", &args.date)?;
            let as_of = match &args.as_of {
                Some(s) => date_arg("--as-of", s)?,
                None => now.to_offset(crate::timefmt::VIETNAM).date(),
            };
            let (id, outcome) =
                service::run(store, cfg, date, args.agency.as_deref(), as_of, &actor, now).await?;
            println!(
                "{} {id}: {} {}, {} {}, {} {}",
                lang.pick("Lần đối soát", "Run"),
                outcome.matches.len(),
                lang.pick("khớp", "matched"),
                outcome.discrepancies.len(),
                lang.pick("chênh lệch", "discrepancies"),
                outcome.awaiting.len(),
                lang.pick("đang chờ", "awaiting"),
            );
            let open = store.recon_discrepancies(Some(date)).await?;
            let open = open.iter().filter(|d| d.resolution.is_none()).count();
            Ok(u8::from(open > 0))
        }
        ReconCommand::Report { date, format, out } => {
            let date = date_arg("--date", &date)?;
            let Some(data) = service::report_data(store, date).await? else {
                return Err(no_run(lang));
            };
            let format = report::ReportFormat::from(format);
            let mut bytes = report::render(format, &data, lang)
                .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
            if format == report::ReportFormat::Pdf {
                bytes = sign_report(config, store, bytes, date, lang, now).await?;
            }
            write_report(format, date, out.as_deref(), &bytes, lang)?;
            Ok(u8::from(data.open_discrepancies() > 0))
        }
        ReconCommand::Discrepancies { open, date, format } => {
            let date = date.map(|d| date_arg("--date", &d)).transpose()?;
            let mut ds = store.recon_discrepancies(date).await?;
            if open {
                ds.retain(|d| d.resolution.is_none());
            }
            print_list(format, &ds, lang);
            Ok(u8::from(ds.iter().any(|d| d.resolution.is_none())))
        }
        ReconCommand::Resolve { id, reason } => {
            let d = service::resolve(store, &id, &reason, &actor, now).await?;
            println!("{}", resolved_line(&id, &d, lang));
            Ok(0)
        }
    }
}

/// Writes a report: text formats to the terminal unless `--out` says otherwise, binary formats to
/// `--out` (default `doi-soat-YYYY-MM-DD.<ext>` here), never binary to a terminal.
pub(super) fn write_report(
    format: report::ReportFormat,
    date: Date,
    out: Option<&Path>,
    bytes: &[u8],
    lang: Lang,
) -> Result<(), CliError> {
    let default_name;
    let path = match out {
        Some(p) => p,
        None if format.is_binary() => {
            default_name = PathBuf::from(report::default_file_name(date, format));
            &default_name
        }
        None => Path::new("-"),
    };
    if path == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        if format.is_binary() && stdout.is_terminal() {
            return Err(CliError::new(
                EXIT_USAGE,
                lang.pick(
                    "không ghi tệp nhị phân ra màn hình: dùng --out TỆP (hoặc chuyển hướng --out -)",
                    "refusing to write a binary file to a terminal: use --out FILE (or redirect --out -)",
                ),
            ));
        }
        return stdout
            .write_all(bytes)
            .and_then(|()| stdout.flush())
            .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("stdout: {e}")));
    }
    std::fs::write(path, bytes)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", path.display())))?;
    if format.is_binary() {
        eprintln!("{} {}", lang.pick("Đã ghi", "Wrote"), path.display());
    }
    Ok(())
}

/// Signs the PDF report with the default signing profile (sign.default_profile) and records it as
/// an issued document, as `antin sign` does; unsigned, said on stderr, when no profile is set up.
async fn sign_report(
    config: &Config,
    store: &Store,
    pdf: Vec<u8>,
    date: Date,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CliError> {
    use crate::sign::service::Signer;
    if !config
        .sign
        .profiles
        .contains_key(&config.sign.default_profile)
    {
        eprintln!(
            "{} {:?}: {}",
            lang.pick("Chưa cấu hình hồ sơ ký", "No signing profile"),
            config.sign.default_profile,
            lang.pick(
                "báo cáo PDF không được ký số",
                "the PDF report is NOT signed"
            )
        );
        return Ok(pdf);
    }
    let signer = Signer::from_config(&config.sign, &config.server.public_url)
        .map_err(super::sign::sign_error)?;
    let profile = signer.profile(None).map_err(super::sign::sign_error)?;
    let context = crate::verify::engine::Context::from_config(config, &[])
        .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
    let signed = service::sign_report(
        store,
        &context,
        profile,
        &pdf,
        date,
        lang,
        &crate::audit::record::cli_actor(),
        now,
    )
    .await
    .map_err(|e| match e {
        service::SignReportError::Sign(e) => super::sign::sign_error(e),
        service::SignReportError::Store(e) => e.into(),
    })?;
    eprintln!(
        "{} {} ({} {}, {})",
        lang.pick("Đã ký số bằng hồ sơ", "Signed with profile"),
        signed.profile,
        lang.pick("mã tài liệu", "document id"),
        signed.document_id,
        signed.level
    );
    Ok(signed.bytes)
}

/// What `antin recon resolve` prints, locally and remotely alike.
pub(super) fn resolved_line(id: &str, d: &StoredDiscrepancy, lang: Lang) -> String {
    let posted = d.resolution.as_ref().and_then(|r| r.posting_ref.as_deref());
    format!(
        "{} {id} ({}){}",
        lang.pick("Đã xử lý chênh lệch", "Resolved discrepancy"),
        class_label(d.discrepancy.class, lang),
        match posted {
            Some(p) => format!(
                "; {} {p}",
                lang.pick("đã ghi bút toán điều chỉnh", "correcting posting")
            ),
            None => String::new(),
        }
    )
}

/// What `antin recon discrepancies` prints, locally and remotely alike.
pub(super) fn print_list(format: ListFormat, ds: &[StoredDiscrepancy], lang: Lang) {
    match format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(ds).unwrap_or_default()),
        ListFormat::Csv => print!("{}", report::discrepancies_csv(ds, lang)),
        ListFormat::Table => print!("{}", report::discrepancy_table(ds, lang)),
    }
}

/// "No run for that day yet" (exit 65), locally and remotely alike.
pub(super) fn no_run(lang: Lang) -> CliError {
    CliError::new(
        EXIT_DATA,
        lang.pick(
            "chưa có lần đối soát nào cho ngày này",
            "no run for that day yet",
        ),
    )
}

/// Redraws of the import's progress bar at most this often.
const REDRAW: std::time::Duration = std::time::Duration::from_millis(100);

/// The progress bar of `antin recon import` on a terminal's stderr: bytes read of the total, rows,
/// rows per second; redrawn at most ten times a second, ended with a newline.
fn progress_bar(lang: Lang) -> service::ProgressFn {
    let start = std::time::Instant::now();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    std::sync::Arc::new(move |p: service::ImportProgress| {
        let now = std::time::Instant::now();
        let Ok(mut last) = last.lock() else { return };
        if !p.done && last.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        *last = Some(now);
        let line = progress_line(p, now.duration_since(start), lang);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K{}", if p.done { "\n" } else { "" });
        let _ = err.flush();
    })
}

fn progress_line(p: service::ImportProgress, elapsed: std::time::Duration, lang: Lang) -> String {
    const WIDTH: u64 = 30;
    let filled = (p.bytes.min(p.total) * WIDTH)
        .checked_div(p.total)
        .unwrap_or(0) as usize;
    // MB for files of a megabyte or more, else kB.
    let (unit, div) = if p.total >= 1_048_576 {
        ("MB", 1_048_576.0)
    } else {
        ("kB", 1_024.0)
    };
    let size = |b: u64| b as f64 / div;
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        p.rows as f64 / secs
    } else {
        0.0
    };
    format!(
        "[{}{}] {:.1}/{:.1} {unit}  {} {}  {} {}/s",
        "#".repeat(filled),
        " ".repeat(WIDTH as usize - filled),
        size(p.bytes),
        size(p.total),
        report::money(p.rows as i64, lang),
        lang.pick("dòng", "rows"),
        report::money(rate as i64, lang),
        lang.pick("dòng", "rows"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_bytes_rows_and_rate() {
        let p = service::ImportProgress {
            bytes: 5 * 1_048_576,
            total: 10 * 1_048_576,
            rows: 20_000,
            done: false,
        };
        let line = progress_line(p, std::time::Duration::from_secs(2), Lang::En);
        assert_eq!(
            line,
            format!(
                "[{}{}] 5.0/10.0 MB  20,000 rows  10,000 rows/s",
                "#".repeat(15),
                " ".repeat(15)
            )
        );
        let empty = service::ImportProgress {
            bytes: 0,
            total: 0,
            rows: 0,
            done: true,
        };
        let line = progress_line(empty, std::time::Duration::ZERO, Lang::Vi);
        assert!(line.ends_with("0.0/0.0 kB  0 dòng  0 dòng/s"), "{line}");
    }
}
