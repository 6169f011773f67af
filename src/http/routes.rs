//! Routes: health, metrics, the OpenAPI document, and the verification API.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState};
use crate::config::RevocationMode;
use crate::store::VerificationRecord;
use crate::verify::{Input, VerifyOptions};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/verifications", post(create_verification))
        .route("/v1/verifications/{id}", get(get_verification))
        .merge(super::log::routes())
        .merge(super::signing::routes())
        .merge(super::payments::routes())
        .merge(super::recon::routes())
        .fallback(|| async { ApiError::new(ErrorCode::NotFound) })
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(ErrorCode::Unavailable)
    })?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::DOCUMENT,
    )
        .into_response()
}

/// The multipart form of `POST /v1/verifications`.
#[derive(Default)]
struct VerificationForm {
    file: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    expected_signer_id: Option<String>,
    revocation: Option<RevocationMode>,
    at: Option<OffsetDateTime>,
}

async fn read_form(mut multipart: Multipart) -> Result<VerificationForm, ApiError> {
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let mut form = VerificationForm::default();
    while let Some((name, bytes)) = super::next_field(&mut multipart).await? {
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map(|s| s.trim().to_owned())
                .map_err(|_| bad(format!("field {name:?} must be UTF-8 text")))
        };
        match name.as_str() {
            "file" => form.file = Some(bytes.to_vec()),
            "signature" => form.signature = Some(bytes.to_vec()),
            "expected_signer_id" => {
                let v = text()?;
                if !v.is_empty() {
                    form.expected_signer_id = Some(v);
                }
            }
            "revocation" => {
                form.revocation = Some(text()?.parse().map_err(bad)?);
            }
            "at" => {
                let v = text()?;
                form.at = Some(
                    OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| bad(format!("field \"at\" must be RFC 3339, got {v:?}")))?,
                );
            }
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    Ok(form)
}

async fn create_verification(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal, Role::Admin])?;
    let form = read_form(multipart).await?;
    let Some(file) = form.file else {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "the multipart field \"file\" is required",
        ));
    };
    let mut options = VerifyOptions::from_config(&state.config.verify);
    if let Some(mode) = form.revocation {
        options.revocation = mode;
    }
    options.at = form.at;
    options.expected_signer_id = form.expected_signer_id;
    let input = match form.signature {
        Some(signature) => Input::Detached {
            data: file,
            signature,
        },
        None => Input::Pdf(file),
    };
    let _slot = state
        .verify_slots
        .try_acquire()
        .map_err(|_| ApiError::new(ErrorCode::Overloaded))?;
    let now = OffsetDateTime::now_utc();
    let outcome = state
        .verifier
        .verify(input, options, now)
        .await
        .map_err(|e| match e {
            crate::verify::VerifyError::Unreadable(detail) => {
                ApiError::with_detail(ErrorCode::UnsupportedDocument, detail)
            }
            other => ApiError::internal(other),
        })?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut report = serde_json::to_value(&outcome.report).map_err(ApiError::internal)?;
    report["id"] = serde_json::Value::String(id.clone());
    let record = VerificationRecord {
        id: id.clone(),
        created_at: now,
        caller: caller.id.clone(),
        document_sha256: outcome.report.document.sha256.clone(),
        document_size: i64::try_from(outcome.report.document.size).unwrap_or(i64::MAX),
        detached: outcome.report.document.detached,
        verdict: outcome.report.verdict.as_str().to_owned(),
        signature_count: i64::try_from(outcome.report.signatures.len()).unwrap_or(i64::MAX),
        report_json: report.to_string(),
    };
    let entry = crate::audit::record::verification(
        &id,
        &outcome.report,
        &outcome.evidence,
        &caller.id,
        state.log.pseudonymizer(),
        now,
    );
    state
        .store
        .insert_verification(&record, &outcome.evidence, &[entry])
        .await?;
    state
        .metrics
        .record_verdict(outcome.report.verdict.as_str());
    tracing::info!(
        target: "antin::verify",
        verification = %id,
        caller = %caller.id,
        verdict = outcome.report.verdict.as_str(),
        signatures = outcome.report.signatures.len(),
        "verification stored"
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/verifications/{id}"))],
        Json(report),
    )
        .into_response())
}

async fn get_verification(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = require(
        caller.as_deref(),
        &[Role::Portal, Role::Auditor, Role::Admin],
    )?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let record = state
        .store
        .get_verification(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    // A portal sees only its own verifications (without revealing that others exist).
    if caller.role == Role::Portal && record.caller != caller.id {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        record.report_json,
    )
        .into_response())
}
