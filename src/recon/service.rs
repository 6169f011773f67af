//! Reconciliation at the edges: files in (parsed on a blocking thread, streamed to the store in
//! chunks through a bounded channel, so memory stays flat), runs and resolutions out, each with its
//! transparency-log entry in the same transaction.

use std::io::BufReader;
use std::path::Path;

use serde_json::json;
use time::{Date, OffsetDateTime};

use super::config::ReconConfig;
use super::import::{self, camt, csv, mt940, Problem, Rejected};
use super::matching::{reconcile, Params};
use super::{model::Class, resolve, Outcome};
use crate::audit::entry::{EntryKind, NewEntry};
use crate::store::recon::{FileMeta, Imported, Rows, StoredDiscrepancy};
use crate::store::{LogInput, Store, StoreError};

/// Rows per chunk sent to the store.
const CHUNK_ROWS: usize = 2_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconError {
    /// The file breaks its format or does not balance (every problem listed).
    #[error("{0}")]
    Rejected(Rejected),
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    BadInput(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("no discrepancy {0}")]
    NotFound(String),
    #[error("discrepancy {0} is already resolved")]
    AlreadyResolved(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `vnpay`, `momo`, `zalopay` (settlement CSVs) or `bank` (MT940, camt.053, camt.054, told apart
/// by their first bytes).
pub fn check_source(source: &str) -> Result<(), ReconError> {
    match source {
        "vnpay" | "momo" | "zalopay" | "bank" => Ok(()),
        _ => Err(ReconError::BadInput(format!(
            "--source must be vnpay, momo, zalopay or bank, not {source:?}"
        ))),
    }
}

/// Imports one file. The same file again changes nothing (`Imported::AlreadyImported`).
pub async fn import_file(
    store: &Store,
    cfg: &ReconConfig,
    path: &Path,
    source: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(Imported, String), ReconError> {
    import_file_with_progress(store, cfg, path, source, actor, now, None).await
}

/// How far an import's parse has come: bytes of the file read, of `total`, and rows parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub bytes: u64,
    pub total: u64,
    pub rows: u64,
    /// The last call: the parse has ended (accepted or not).
    pub done: bool,
}

/// Called from the parsing thread every [`PROGRESS_EVERY`] rows and once at the end; it must be
/// cheap (throttle any drawing itself).
pub type ProgressFn = std::sync::Arc<dyn Fn(ImportProgress) + Send + Sync>;

/// Rows between two progress calls.
pub const PROGRESS_EVERY: u64 = 512;

/// Counts the bytes the parser pulls from the file (the parsers themselves do no I/O of their
/// own beyond their reader).
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// [`import_file`], reporting its progress to `progress`.
pub async fn import_file_with_progress(
    store: &Store,
    cfg: &ReconConfig,
    path: &Path,
    source: &str,
    actor: &str,
    now: OffsetDateTime,
    progress: Option<ProgressFn>,
) -> Result<(Imported, String), ReconError> {
    check_source(source)?;
    let calendar = cfg
        .calendar()
        .map_err(|e| ReconError::Config(e.to_string()))?;
    let unreadable = |source: std::io::Error| ReconError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let sha = {
        let p = path.to_owned();
        let limit = cfg.max_file_bytes;
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&p).and_then(|f| import::sha256_of(f, limit))
        })
        .await
        .map_err(|e| ReconError::BadInput(e.to_string()))?
        .map_err(unreadable)?
    };
    if store.recon_file_imported(&sha).await? {
        return Ok((Imported::AlreadyImported, sha));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let layout = match source {
        "bank" => None,
        gw => Some(
            cfg.layouts
                .get(gw)
                .cloned()
                .or_else(|| csv::default_layout(gw))
                .ok_or_else(|| ReconError::Config(format!("no layout for {gw}")))?,
        ),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Rows, String>>(4);
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let gw = source.to_owned();
    let display = name.clone();
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Counting {
        inner: file,
        read: read.clone(),
    };
    let rows = std::cell::Cell::new(0u64);
    let report = move |rows: u64, done: bool| {
        if let Some(p) = &progress {
            if done || rows % PROGRESS_EVERY == 0 {
                p(ImportProgress {
                    bytes: read.load(std::sync::atomic::Ordering::Relaxed),
                    total,
                    rows,
                    done,
                });
            }
        }
    };
    let parser = tokio::task::spawn_blocking(move || -> Result<import::Summary, Rejected> {
        let tick = || {
            rows.set(rows.get() + 1);
            report(rows.get(), false);
        };
        let mut r = BufReader::with_capacity(1 << 16, counted);
        let result = match layout {
            Some(layout) => {
                let mut buf = Vec::with_capacity(CHUNK_ROWS);
                let res = csv::parse(&gw, &layout, &display, &mut r, &mut |row| {
                    tick();
                    buf.push(row);
                    if buf.len() >= CHUNK_ROWS {
                        let _ = tx.blocking_send(Ok(Rows::Gateway(std::mem::take(&mut buf))));
                    }
                });
                if res.is_ok() && !buf.is_empty() {
                    let _ = tx.blocking_send(Ok(Rows::Gateway(buf)));
                }
                res
            }
            None => {
                let mut buf = Vec::with_capacity(CHUNK_ROWS);
                let head = {
                    use std::io::BufRead;
                    r.fill_buf().map(|b| b.to_vec()).unwrap_or_default()
                };
                let mut sink = |e| {
                    tick();
                    buf.push(e);
                    if buf.len() >= CHUNK_ROWS {
                        let _ = tx.blocking_send(Ok(Rows::Bank(std::mem::take(&mut buf))));
                    }
                };
                let trimmed: Vec<u8> = head
                    .iter()
                    .copied()
                    .skip_while(|b| {
                        b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF
                    })
                    .take(8)
                    .collect();
                let res = if trimmed.starts_with(b"<") {
                    camt::parse(&display, &mut r, &mut sink)
                } else {
                    mt940::parse(&display, &mut r, &mut sink)
                };
                if res.is_ok() && !buf.is_empty() {
                    let _ = tx.blocking_send(Ok(Rows::Bank(buf)));
                }
                res
            }
        };
        report(rows.get(), true);
        if let Err(e) = &result {
            let _ = tx.blocking_send(Err(e.to_string()));
        }
        result
    });
    let meta = FileMeta {
        sha256: sha.clone(),
        source: source.to_owned(),
        name: name.clone(),
        actor: actor.to_owned(),
    };
    let log = LogInput::new(NewEntry::new(
        EntryKind::Admin,
        now,
        actor,
        json!({"action": "recon_import", "details": {"sha256": sha, "source": source, "name": name}}),
    ))
    .subject(format!("sha256:{sha}"));
    let stored = store.recon_import(&meta, rx, &calendar, &log, now).await?;
    let parsed = parser
        .await
        .map_err(|e| ReconError::BadInput(e.to_string()))?;
    match (parsed, stored) {
        (Err(rejected), _) => Err(ReconError::Rejected(rejected)),
        // A statement number already imported from another file: the file is refused like any
        // other that contradicts what is stored (422 `recon_file_rejected`, not a bad request).
        (Ok(_), Err(why)) => Err(ReconError::Rejected(Rejected {
            problems: vec![Problem {
                file: name,
                line: 0,
                reason: why,
            }],
            total: 1,
        })),
        (Ok(_), Ok(imported)) => Ok((imported, sha)),
    }
}

/// The engine's parameters from the configuration.
pub fn params(cfg: &ReconConfig, date: Date, as_of: Date) -> Result<Params, ReconError> {
    Ok(Params {
        date,
        as_of,
        calendar: cfg
            .calendar()
            .map_err(|e| ReconError::Config(e.to_string()))?,
        settlement_sla_days: cfg.settlement_sla_days,
        match_window_days: cfg.match_window_days,
        memo_prefix: cfg.memo_prefix.clone(),
        payout_memo: cfg.payout_memo.clone(),
        fees: cfg.fees.clone(),
    })
}

/// Reconciles a day from what is stored, stores the run and logs it.
pub async fn run(
    store: &Store,
    cfg: &ReconConfig,
    date: Date,
    agency: Option<&str>,
    as_of: Date,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(String, Outcome), ReconError> {
    let p = params(cfg, date, as_of)?;
    let until = p
        .calendar
        .add_business_days(date, cfg.settlement_sla_days.max(1));
    let mut inputs = store.recon_inputs(date, until).await?;
    if let Some(a) = agency {
        inputs.ledger.retain(|l| &*l.agency == a);
    }
    let outcome = reconcile(&p, &inputs);
    let id = uuid::Uuid::new_v4().to_string();
    let mut counts = serde_json::Map::new();
    for c in Class::ALL {
        counts.insert(c.as_str().into(), json!(outcome.count(c)));
    }
    let log = LogInput::new(NewEntry::new(
        EntryKind::ReconRun,
        now,
        actor,
        json!({
            "run_id": id,
            "date": date.to_string(),
            "agency": agency,
            "as_of": as_of.to_string(),
            "matched": outcome.matches.len(),
            "discrepancies": counts,
        }),
    ))
    .subject(format!("recon_run:{id}"))
    .subject(format!("recon_date:{date}"));
    store
        .recon_insert_run(&id, date, agency, as_of, &outcome, actor, &log, now)
        .await?;
    Ok((id, outcome))
}

/// Resolves a discrepancy with a reason; posts its correction when money is involved.
pub async fn resolve(
    store: &Store,
    id: &str,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<StoredDiscrepancy, ReconError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 || reason.chars().any(char::is_control) {
        return Err(ReconError::BadInput(
            "--reason: 1 to 1000 characters, no control characters".into(),
        ));
    }
    let d = store
        .recon_discrepancy(id)
        .await?
        .ok_or_else(|| ReconError::NotFound(id.to_owned()))?;
    if d.resolution.is_some() {
        return Err(ReconError::AlreadyResolved(id.to_owned()));
    }
    let posting = resolve::correction(&d.discrepancy);
    let resolution_id = uuid::Uuid::new_v4().to_string();
    let log = LogInput::new(NewEntry::new(
        EntryKind::ReconResolution,
        now,
        actor,
        json!({
            "resolution_id": resolution_id,
            "discrepancy_id": d.id,
            "date": d.run_date,
            "key": d.discrepancy.key,
            "class": d.discrepancy.class.as_str(),
            "reason": reason,
            "posting": posting.as_ref().map(|p| p.lines().iter().map(|l| json!({
                "account": l.account.code(), "amount": l.amount})).collect::<Vec<_>>()),
        }),
    ))
    .subject(format!("recon_discrepancy:{}", d.id));
    if !store
        .recon_resolve(
            &d,
            &resolution_id,
            reason,
            actor,
            posting.as_ref(),
            &log,
            now,
        )
        .await?
    {
        return Err(ReconError::AlreadyResolved(id.to_owned()));
    }
    store
        .recon_discrepancy(id)
        .await?
        .ok_or_else(|| ReconError::NotFound(id.to_owned()))
}

/// One day's report data: its latest run and the discrepancies with their resolutions; `None`
/// before the day has a run.
pub async fn report_data(
    store: &Store,
    date: Date,
) -> Result<Option<super::report::ReportData>, StoreError> {
    let Some(run) = store.recon_latest_run(date).await? else {
        return Ok(None);
    };
    let discrepancies = store.recon_discrepancies(Some(date)).await?;
    Ok(Some(super::report::ReportData {
        date,
        run_id: run.id,
        run_at: run.created_at,
        agency: run.agency,
        outcome: run.outcome,
        discrepancies,
    }))
}

/// Why a report could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignReportError {
    #[error(transparent)]
    Sign(#[from] crate::sign::service::SignError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed report and what the signature was made with.
#[derive(Debug)]
pub struct SignedReport {
    pub bytes: Vec<u8>,
    pub document_id: String,
    pub profile: String,
    pub level: &'static str,
}

/// Signs a rendered PDF report with `profile` (invisible signature, the report's day as the
/// reason), checks the result as a verifier would, and records it as an issued document (and in
/// the log) so that `antin audit document` finds it like any other result antin issued.
#[allow(clippy::too_many_arguments)]
pub async fn sign_report(
    store: &Store,
    context: &crate::verify::engine::Context,
    profile: &crate::sign::service::Profile,
    pdf: &[u8],
    date: Date,
    lang: crate::i18n::Lang,
    actor: &str,
    now: OffsetDateTime,
) -> Result<SignedReport, SignReportError> {
    use crate::sign::service::{self as sign, SignOptions};
    let id = sign::new_document_id();
    let opts = SignOptions {
        placement: Some(crate::sign::pdf::Placement::Invisible),
        document_id: Some(id.clone()),
        reason: Some(format!(
            "{} {}",
            lang.pick("Báo cáo đối soát ngày", "Reconciliation report of"),
            super::report::date_dmy(date)
        )),
        ..SignOptions::default()
    };
    let signed = sign::sign(profile, pdf, &opts, now).await?;
    sign::self_check(context, profile, &signed, now)?;
    let (record, entry) = sign::issued(
        &id,
        profile,
        pdf,
        &signed,
        actor,
        None,
        &sign::Published::default(),
        now,
    );
    store.insert_signed_document(&record, &[entry]).await?;
    Ok(SignedReport {
        level: signed.level.as_str(),
        bytes: signed.bytes,
        document_id: id,
        profile: profile.name.clone(),
    })
}
