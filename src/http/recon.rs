//! The reconciliation API for finance officers: the operations of `antin recon` under
//! `/v1/reconciliation/...`. Thin: authorise, parse, call `recon::service` (which writes the
//! transparency log in the same transaction as each change), render. An upload is streamed to a
//! private temporary file, never held in memory.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Date, OffsetDateTime};
use tokio::io::AsyncWriteExt as _;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::log::{path, query};
use super::{require, AppState};
use crate::i18n::Lang;
use crate::recon::report::{self, ReportFormat};
use crate::recon::service::{self, ReconError};
use crate::store::recon::{Imported, StoredDiscrepancy};

/// Who may change reconciliation state (import, run, resolve).
const WRITERS: &[Role] = &[Role::Finance, Role::Admin];
/// Who may read it (auditors read everything, as for the ledger).
const READERS: &[Role] = &[Role::Finance, Role::Auditor, Role::Admin];

/// Every route but the upload (which has its own body limit and time budget: [`import_routes`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/reconciliation/runs", post(create_run))
        .route("/v1/reconciliation/reports/{date}", get(report))
        .route("/v1/reconciliation/discrepancies", get(discrepancies))
        .route("/v1/reconciliation/discrepancies/{id}", get(discrepancy))
        .route(
            "/v1/reconciliation/discrepancies/{id}/resolve",
            post(resolve),
        )
}

/// `POST /v1/reconciliation/imports`: mounted outside the server-wide body limit and timeout;
/// bounded by `recon.max_import_bytes` and `recon.import_timeout_secs` instead.
pub fn import_routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/reconciliation/imports", post(import))
}

impl From<ReconError> for ApiError {
    fn from(e: ReconError) -> Self {
        match e {
            ReconError::Rejected(r) => {
                ApiError::with_detail(ErrorCode::ReconFileRejected, format!("{r}"))
                    .field("problems", json!(r.problems))
                    .field("total", json!(r.total))
            }
            ReconError::BadInput(d) => ApiError::with_detail(ErrorCode::BadRequest, d),
            ReconError::NotFound(id) => {
                ApiError::with_detail(ErrorCode::ReconNotFound, format!("no discrepancy {id:?}"))
            }
            ReconError::AlreadyResolved(id) => ApiError::with_detail(
                ErrorCode::ReconAlreadyResolved,
                format!("discrepancy {id:?} is already resolved"),
            ),
            // The upload's temporary file, the configuration, the database: the server's problem.
            other => ApiError::internal(other),
        }
    }
}

fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::with_detail(ErrorCode::BadRequest, detail)
}

fn date_param(name: &str, s: &str) -> Result<Date, ApiError> {
    crate::recon::config::parse_date(s)
        .ok_or_else(|| bad(format!("{name}: {s:?} is not a date YYYY-MM-DD")))
}

fn today_in_vietnam(now: OffsetDateTime) -> Date {
    now.to_offset(crate::timefmt::VIETNAM).date()
}

/// A discrepancy with its class's label in the caller's language.
fn labelled(d: &StoredDiscrepancy, lang: Lang) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(d).map_err(ApiError::internal)?;
    let c = d.discrepancy.class;
    v["label"] = Value::String(lang.pick(c.label_vi(), c.label_en()).to_owned());
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Imports

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    source: Option<String>,
    /// The file's name, as shown in problems and stored with the import (default `upload`).
    name: Option<String>,
}

/// A private directory for one upload, removed with everything in it when dropped.
struct UploadDir(PathBuf);

impl UploadDir {
    fn create() -> std::io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("antin-recon-{}", uuid::Uuid::new_v4().simple()));
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            b.mode(0o700);
        }
        b.create(&path)?;
        Ok(UploadDir(path))
    }
}

impl Drop for UploadDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), error = %e, "cannot remove an upload directory");
        }
    }
}

/// A name safe as a single path component: its last segment, printable, at most 200 characters.
fn upload_name(name: Option<&str>) -> String {
    let raw = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "upload".to_owned()
    } else {
        clean
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("");
    let mime = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/octet-stream" | "text/csv" | "application/xml" | "text/xml" | "text/plain" => {
            Ok(())
        }
        _ => Err(bad(format!(
            "Content-Type must be application/octet-stream, text/csv or application/xml \
             (the raw file), not {v:?}"
        ))),
    }
}

/// Writes the body to `path`, at most `limit` bytes; returns the size.
async fn stream_to_file(body: Body, path: &FsPath, limit: u64) -> Result<u64, ApiError> {
    // Buffered: each write to a tokio file is a trip to the blocking pool, and bodies arrive in
    // chunks of a few KiB.
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(path)
            .await
            .map_err(ApiError::internal)?,
    );
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("cannot read the request body: {e}")))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(ApiError::with_detail(
                ErrorCode::PayloadTooLarge,
                format!("recon.max_import_bytes is {limit}"),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(size)
}

async fn import(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), WRITERS)?;
    let q = query(q)?;
    let source = q.source.ok_or_else(|| {
        bad("the query parameter \"source\" (vnpay, momo, zalopay or bank) is required")
    })?;
    if service::check_source(&source).is_err() {
        return Err(bad(format!(
            "source must be vnpay, momo, zalopay or bank, not {source:?}"
        )));
    }
    check_content_type(&headers)?;
    let cfg = &state.config.recon;
    let limit = cfg.max_import_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::with_detail(
            ErrorCode::PayloadTooLarge,
            format!("recon.max_import_bytes is {limit}"),
        ));
    }
    let dir = UploadDir::create().map_err(ApiError::internal)?;
    let path = dir.0.join(upload_name(q.name.as_deref()));
    let size = stream_to_file(body, &path, limit).await?;
    if size == 0 {
        return Err(bad("the request body (the file) is empty"));
    }
    let now = OffsetDateTime::now_utc();
    let (imported, sha) =
        service::import_file(&state.store, cfg, &path, &source, &caller.id, now).await?;
    drop(dir);
    tracing::info!(
        target: "antin::recon",
        caller = %caller.id,
        source,
        sha256 = %sha,
        size,
        "reconciliation file uploaded"
    );
    Ok(match imported {
        Imported::New(rows) => (
            StatusCode::CREATED,
            Json(json!({"status": "imported", "rows": rows, "sha256": sha})),
        )
            .into_response(),
        Imported::AlreadyImported => (
            StatusCode::OK,
            Json(json!({"status": "already_imported", "sha256": sha})),
        )
            .into_response(),
    })
}

// ---------------------------------------------------------------------------------------------
// Runs and reports

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    date: String,
    agency: Option<String>,
    as_of: Option<String>,
}

async fn create_run(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), WRITERS)?;
    let req: RunRequest =
        serde_json::from_slice(&body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let date = date_param("date", &req.date)?;
    let now = OffsetDateTime::now_utc();
    let as_of = match &req.as_of {
        Some(s) => date_param("as_of", s)?,
        None => today_in_vietnam(now),
    };
    let agency = req
        .agency
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let (run_id, outcome) = service::run(
        &state.store,
        &state.config.recon,
        date,
        agency,
        as_of,
        &caller.id,
        now,
    )
    .await?;
    let open = state
        .store
        .recon_discrepancies(Some(date))
        .await?
        .iter()
        .filter(|d| d.resolution.is_none())
        .count();
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/v1/reconciliation/reports/{date}"),
        )],
        Json(json!({
            "run_id": run_id,
            "date": date.to_string(),
            "agency": agency,
            "as_of": as_of.to_string(),
            "matched": outcome.matches.len(),
            "discrepancies": outcome.discrepancies.len(),
            "awaiting": outcome.awaiting.len(),
            "open": open,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    format: Option<String>,
}

async fn report(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    date: Result<Path<String>, PathRejection>,
    q: Result<Query<ReportQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let (date, q) = (path(date)?, query(q)?);
    let lang = lang_of(&headers);
    let date = date_param("date", &date)?;
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => ReportFormat::Json,
        "csv" => ReportFormat::Csv,
        "xlsx" => ReportFormat::Xlsx,
        "pdf" => ReportFormat::Pdf,
        other => {
            return Err(bad(format!(
                "format must be json, csv, xlsx or pdf, not {other:?}"
            )))
        }
    };
    let Some(data) = service::report_data(&state.store, date).await? else {
        return Err(ApiError::with_detail(
            ErrorCode::ReconNotFound,
            lang.pick(
                "chưa có lần đối soát nào cho ngày này",
                "no run for that day yet",
            ),
        ));
    };
    let mut bytes = report::render(format, &data, lang).map_err(|e| {
        tracing::error!(target: "antin::recon", error = %e, "report rendering failed");
        ApiError::new(ErrorCode::Internal)
    })?;
    if format == ReportFormat::Pdf {
        // The official report, signed with the service's default profile like `antin recon
        // report --format pdf`; never handed out unsigned by the API.
        let profile = state.signer.profile(None)?;
        let _slot = state
            .verify_slots
            .try_acquire()
            .map_err(|_| ApiError::new(ErrorCode::Overloaded))?;
        let caller_id = caller.as_deref().map(|c| c.id.clone()).unwrap_or_default();
        let now = OffsetDateTime::now_utc();
        let signed = service::sign_report(
            &state.store,
            state.verifier.context(),
            profile,
            &bytes,
            date,
            lang,
            &caller_id,
            now,
        )
        .await
        .map_err(|e| match e {
            service::SignReportError::Sign(e) => ApiError::from(e),
            service::SignReportError::Store(e) => ApiError::from(e),
        })?;
        bytes = signed.bytes;
    }
    let (content_type, name) = match format {
        ReportFormat::Json => ("application/json", None),
        ReportFormat::Csv => ("text/csv; charset=utf-8", Some("csv")),
        ReportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Some("xlsx"),
        ),
        _ => ("application/pdf", Some("pdf")),
    };
    let mut resp = ([(header::CONTENT_TYPE, content_type)], bytes).into_response();
    if let Some(ext) = name {
        if let Ok(v) = header::HeaderValue::from_str(&format!(
            "attachment; filename=\"doi-soat-{date}.{ext}\""
        )) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Discrepancies

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    open: Option<String>,
    date: Option<String>,
}

async fn discrepancies(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    q: Result<Query<ListQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let q = query(q)?;
    let lang = lang_of(&headers);
    let open = match q.open.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(bad(format!("open must be true or false, not {other:?}"))),
    };
    let date = q
        .date
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| date_param("date", d))
        .transpose()?;
    let mut ds = state.store.recon_discrepancies(date).await?;
    if open {
        ds.retain(|d| d.resolution.is_none());
    }
    let list = ds
        .iter()
        .map(|d| labelled(d, lang))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "discrepancies": list })).into_response())
}

async fn discrepancy(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let id = path(id)?;
    let d = state
        .store
        .recon_discrepancy(&id)
        .await?
        .ok_or(ReconError::NotFound(id))?;
    Ok(Json(labelled(&d, lang_of(&headers))?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    reason: String,
}

async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), WRITERS)?;
    let id = path(id)?;
    let req: ResolveRequest = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "invalid JSON (expected {{\"reason\": \"...\"}}): {e}"
        ))
    })?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 || reason.chars().any(char::is_control) {
        return Err(bad(
            "\"reason\": 1 to 1000 characters, no control characters",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let d = service::resolve(&state.store, &id, reason, &caller.id, now).await?;
    tracing::info!(
        target: "antin::recon",
        caller = %caller.id,
        discrepancy = %d.id,
        "discrepancy resolved"
    );
    Ok(Json(labelled(&d, lang_of(&headers))?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_directory_is_private_and_removed_with_its_file() {
        let dir = UploadDir::create().unwrap();
        let path = dir.0.clone();
        std::fs::write(path.join("upload"), b"x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn upload_names_are_one_safe_component() {
        assert_eq!(upload_name(None), "upload");
        assert_eq!(upload_name(Some("")), "upload");
        assert_eq!(upload_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(upload_name(Some("..")), "upload");
        assert_eq!(upload_name(Some("a\\b\\vnpay.csv")), "vnpay.csv");
        assert_eq!(upload_name(Some("sao kê\n.xml")), "sao kê.xml");
        assert_eq!(upload_name(Some(&"x".repeat(500))).len(), 200);
    }
}
