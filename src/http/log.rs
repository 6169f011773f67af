//! The transparency log over HTTP: the signed checkpoint and the verifier key for anyone; entries,
//! proofs and proof bundles for auditors and administrators.
//!
//! Checkpoints and bundles are served as the exact text an auditor verifies (C2SP formats,
//! `text/plain`); entries and proofs as JSON with hashes in standard base64.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState};
use crate::audit::log::LogError;
use crate::store::log::MAX_ENTRIES_PER_READ;

const READERS: &[Role] = &[Role::Auditor, Role::Admin];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/log/checkpoint",
            get(get_checkpoint).post(post_checkpoint),
        )
        .route("/v1/log/key", get(get_key))
        .route("/v1/log/entries", get(get_entries))
        .route("/v1/log/entries/{index}/proof", get(get_bundle))
        .route("/v1/log/proof/inclusion", get(get_inclusion))
        .route("/v1/log/proof/consistency", get(get_consistency))
        .route("/v1/log/lookup", get(get_lookup))
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::OutOfRange { .. } | LogError::BadSizes { .. } => {
                ApiError::with_detail(ErrorCode::BadRequest, e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

/// Query and path errors become our JSON errors, not axum's plain-text rejections.
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::with_detail(ErrorCode::BadRequest, e.body_text()))
}

pub(super) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::with_detail(ErrorCode::BadRequest, e.body_text()))
}

fn text(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn b64(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
        .collect()
}

/// The latest signed checkpoint (signing the first one if the log has none yet).
async fn get_checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let cp = match state.store.log_latest_checkpoint().await? {
        Some(cp) => cp,
        None => state.log.checkpoint_now(OffsetDateTime::now_utc()).await?,
    };
    Ok(text(cp.note))
}

/// Signs a checkpoint of the current tree now.
async fn post_checkpoint(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let cp = state.log.checkpoint_now(OffsetDateTime::now_utc()).await?;
    Ok(text(cp.note))
}

async fn get_key(State(state): State<Arc<AppState>>) -> Response {
    text(format!("{}\n", state.log.vkey()))
}

#[derive(Deserialize)]
struct Range {
    start: u64,
    end: u64,
}

async fn get_entries(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    range: Result<Query<Range>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let range = query(range)?;
    if range.end < range.start {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "end must not be smaller than start",
        ));
    }
    let entries = state.store.log_entry_rows(range.start, range.end).await?;
    let body = serde_json::json!({
        "start": range.start,
        "max_per_request": MAX_ENTRIES_PER_READ,
        "entries": entries
            .iter()
            .map(|e| serde_json::json!({
                "index": e.index,
                "entry": e.body,
                "leaf_hash": e.stored_leaf.map(|h| base64::engine::general_purpose::STANDARD.encode(h)),
            }))
            .collect::<Vec<_>>(),
    });
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: u64,
}

async fn get_inclusion(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let q = query(q)?;
    let proof = state.log.inclusion_proof(q.index, q.size).await?;
    Ok(
        Json(serde_json::json!({"index": q.index, "size": q.size, "proof": b64(&proof)}))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

async fn get_consistency(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let q = query(q)?;
    let proof = state.log.consistency_proof(q.old, q.new).await?;
    Ok(Json(serde_json::json!({"old": q.old, "new": q.new, "proof": b64(&proof)})).into_response())
}

/// The offline proof bundle (`.tlog-proof`) of one entry, against the latest checkpoint.
async fn get_bundle(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    index: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let index = path(index)?;
    let bundle = state.log.bundle(index, OffsetDateTime::now_utc()).await?;
    Ok(text(bundle.encode()))
}

#[derive(Deserialize)]
struct LookupQuery {
    subject: String,
}

/// The indices of the entries recorded with a subject (`sha256:<hex>`, `verification:<id>`, ...).
async fn get_lookup(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    require(caller.as_deref(), READERS)?;
    let q = query(q)?;
    if q.subject.len() > 256 {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "subject is too long",
        ));
    }
    let indices = state.store.log_find_subject(&q.subject).await?;
    Ok(Json(serde_json::json!({"subject": q.subject, "indices": indices})).into_response())
}
