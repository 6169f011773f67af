//! `antin recon`: the finance officers' daily reconciliation against the local database.
//! Exit codes: 0 everything matched (or no open discrepancy), 1 open discrepancies remain,
//! >= 64 bad input (65 a rejected file, 66 unreadable, 64 usage).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use time::{Date, OffsetDateTime};

use super::{CliError, EXIT_CONFIG, EXIT_DATA, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::config::Config;
use crate::i18n::Lang;
use crate::recon::export::discrepancies_csv;
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
    },
    /// Discrepancies of each day's latest run.
    Discrepancies {
        #[arg(long)]
        open: bool,
        #[arg(long)]
        date: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
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
            let (imported, sha) =
                service::import_file(store, cfg, &file, &source, &actor, now).await?;
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
        ReconCommand::Report { date, format } => {
            let date = date_arg("--date", &date)?;
            let Some((run_id, outcome)) = store.recon_latest_run(date).await? else {
                return Err(CliError::new(
                    EXIT_DATA,
                    lang.pick(
                        "chưa có lần đối soát nào cho ngày này",
                        "no run for that day yet",
                    ),
                ));
            };
            let ds = store.recon_discrepancies(Some(date)).await?;
            let open = ds.iter().filter(|d| d.resolution.is_none()).count();
            match format {
                ReportFormat::Json => {
                    let v = serde_json::json!({"run_id": run_id, "outcome": outcome, "discrepancies": ds});
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                ReportFormat::Csv => print!("{}", discrepancies_csv(&ds, lang)),
                ReportFormat::Table => print!("{}", report_table(&outcome, &ds, lang)),
            }
            Ok(u8::from(open > 0))
        }
        ReconCommand::Discrepancies { open, date, format } => {
            let date = date.map(|d| date_arg("--date", &d)).transpose()?;
            let mut ds = store.recon_discrepancies(date).await?;
            if open {
                ds.retain(|d| d.resolution.is_none());
            }
            match format {
                ReportFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&ds).unwrap_or_default())
                }
                ReportFormat::Csv => print!("{}", discrepancies_csv(&ds, lang)),
                ReportFormat::Table => print!("{}", discrepancy_table(&ds, lang)),
            }
            Ok(u8::from(ds.iter().any(|d| d.resolution.is_none())))
        }
        ReconCommand::Resolve { id, reason } => {
            let d = service::resolve(store, &id, &reason, &actor, now).await?;
            let posted = d.resolution.as_ref().and_then(|r| r.posting_ref.clone());
            println!(
                "{} {id} ({}){}",
                lang.pick("Đã xử lý chênh lệch", "Resolved discrepancy"),
                label(d.discrepancy.class, lang),
                match posted {
                    Some(p) => format!(
                        "; {} {p}",
                        lang.pick("đã ghi bút toán điều chỉnh", "correcting posting")
                    ),
                    None => String::new(),
                }
            );
            Ok(0)
        }
    }
}

pub(super) fn label(c: crate::recon::Class, lang: Lang) -> &'static str {
    lang.pick(c.label_vi(), c.label_en())
}

/// 1234567 -> `1.234.567` (Vietnamese) or `1,234,567` (English).
pub fn money(v: i64, lang: Lang) -> String {
    let sep = lang.pick(".", ",");
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            s.push_str(c);
            s.push_str(&" ".repeat(pad + 2));
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(head.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&line(w.iter().map(|n| "-".repeat(*n)).collect()));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

pub(super) fn report_table(
    o: &crate::recon::Outcome,
    ds: &[StoredDiscrepancy],
    lang: Lang,
) -> String {
    let mut out = format!(
        "{} {}\n\n",
        lang.pick("BÁO CÁO ĐỐI SOÁT NGÀY", "DAILY RECONCILIATION REPORT"),
        o.date
    );
    out.push_str(lang.pick(
        "Tổng hợp theo đơn vị, cổng thanh toán, mã phí\n",
        "Summary by agency, gateway, fee code\n",
    ));
    let rows: Vec<Vec<String>> = o
        .summary
        .iter()
        .map(|s| {
            vec![
                s.agency.clone(),
                s.gateway.clone(),
                s.fee_code.clone(),
                s.payments.to_string(),
                s.refunds.to_string(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
            ]
        })
        .collect();
    out.push_str(&table(
        &if lang == Lang::En {
            [
                "Agency",
                "Gateway",
                "Fee code",
                "Payments",
                "Refunds",
                "Gross (VND)",
                "Fees (VND)",
                "Net (VND)",
            ]
        } else {
            [
                "Đơn vị",
                "Cổng",
                "Mã phí",
                "Số GD thu",
                "Số GD hoàn",
                "Tổng thu (đồng)",
                "Phí (đồng)",
                "Thực nhận (đồng)",
            ]
        },
        &rows,
    ));
    out.push('\n');
    out.push_str(lang.pick(
        "Quyết toán của cổng và tiền về ngân hàng\n",
        "Gateway settlements and the bank\n",
    ));
    let rows: Vec<Vec<String>> = o
        .settlements
        .iter()
        .map(|s| {
            vec![
                s.gateway.clone(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
                money(s.received, lang),
            ]
        })
        .collect();
    out.push_str(&table(
        &if lang == Lang::En {
            ["Gateway", "Gross", "Fees", "Net", "At the bank"]
        } else {
            ["Cổng", "Tổng", "Phí", "Ròng", "Ngân hàng đã nhận"]
        },
        &rows,
    ));
    out.push('\n');
    out.push_str(&format!(
        "{}: {}   {}: {}\n\n",
        lang.pick("Số giao dịch khớp", "Matched"),
        o.matches.len(),
        lang.pick("Đang chờ trong hạn", "Awaiting within SLA"),
        o.awaiting.len()
    ));
    out.push_str(lang.pick("Chênh lệch\n", "Discrepancies\n"));
    out.push_str(&discrepancy_table(ds, lang));
    out
}

pub(super) fn discrepancy_table(ds: &[StoredDiscrepancy], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = ds
        .iter()
        .map(|d| {
            let x = &d.discrepancy;
            vec![
                d.id.clone(),
                d.run_date.clone(),
                label(x.class, lang).to_owned(),
                x.gateway.clone(),
                x.expected.map(|v| money(v, lang)).unwrap_or_default(),
                x.actual.map(|v| money(v, lang)).unwrap_or_default(),
                match &d.resolution {
                    Some(r) => format!("{} ({})", lang.pick("đã xử lý", "resolved"), r.reason),
                    None => lang.pick("chưa xử lý", "open").to_owned(),
                },
                x.detail.clone(),
            ]
        })
        .collect();
    table(
        &if lang == Lang::En {
            [
                "Id", "Day", "Class", "Gateway", "Expected", "Actual", "Status", "Detail",
            ]
        } else {
            [
                "Mã",
                "Ngày",
                "Loại chênh lệch",
                "Cổng",
                "Theo antin",
                "Theo đối tác",
                "Trạng thái",
                "Chi tiết",
            ]
        },
        &rows,
    )
}
