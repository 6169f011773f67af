//! Signing over HTTP: `POST /v1/signatures` (portal, admin) signs a result PDF with a profile and
//! returns it; `GET /v/{id}` and `GET /v1/documents/{id}/status` say what antin issued under a
//! document id (the address in the result's QR code; the page for people is built on this).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState};
use crate::sign::pdf::Placement;
use crate::sign::service::{self, Level, SignError, SignOptions};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/signatures", post(create_signature))
        .route("/v/{id}", get(document_status))
        .route("/v1/documents/{id}/status", get(document_status))
}

impl From<SignError> for ApiError {
    fn from(e: SignError) -> Self {
        match &e {
            SignError::UnknownProfile(_) => {
                ApiError::with_detail(ErrorCode::BadRequest, e.to_string())
            }
            SignError::Pdf(_) => {
                ApiError::with_detail(ErrorCode::UnsupportedDocument, e.to_string())
            }
            SignError::Tsa(_) => {
                tracing::warn!(target: "antin::sign", error = %e, "timestamp authority failed");
                ApiError::with_detail(ErrorCode::Unavailable, "the timestamp authority failed")
            }
            SignError::Ltv(_) => {
                tracing::warn!(target: "antin::sign", error = %e, "no validation data for B-LT");
                ApiError::with_detail(
                    ErrorCode::Unavailable,
                    "revocation data for the long-term level could not be obtained",
                )
            }
            _ => ApiError::internal(e),
        }
    }
}

#[derive(Default)]
struct SignForm {
    file: Option<Vec<u8>>,
    profile: Option<String>,
    level: Option<Level>,
    page: Option<usize>,
    rect: Option<[f64; 4]>,
    field: Option<String>,
    certify: Option<u8>,
    reason: Option<String>,
    location: Option<String>,
    dossier: Option<String>,
}

async fn read_form(mut multipart: Multipart) -> Result<SignForm, ApiError> {
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let mut form = SignForm::default();
    while let Some((name, bytes)) = super::next_field(&mut multipart).await? {
        if name == "file" {
            form.file = Some(bytes.to_vec());
            continue;
        }
        let text = String::from_utf8(bytes.to_vec())
            .map(|s| s.trim().to_owned())
            .map_err(|_| bad(format!("field {name:?} must be UTF-8 text")))?;
        if text.is_empty() {
            continue;
        }
        if text.len() > 1024 {
            return Err(bad(format!("field {name:?} is too long")));
        }
        match name.as_str() {
            "profile" => form.profile = Some(text),
            "level" => form.level = Some(text.parse().map_err(bad)?),
            "page" => {
                form.page = Some(
                    text.parse()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad(format!("page {text:?} is not a page number")))?,
                )
            }
            "rect" => {
                form.rect = Some(service::parse_rect(&text).map_err(|e| {
                    bad(match e {
                        service::RectError::NotNumbers => "rect must be x,y,w,h".into(),
                        service::RectError::Invalid => "rect must be x,y,w,h with w, h > 0".into(),
                    })
                })?)
            }
            "field" => form.field = Some(text),
            "certify" => {
                form.certify = Some(
                    text.parse()
                        .ok()
                        .filter(|p| (1..=3).contains(p))
                        .ok_or_else(|| bad("certify must be 1, 2 or 3".into()))?,
                )
            }
            "reason" => form.reason = Some(text),
            "location" => form.location = Some(text),
            "dossier" => form.dossier = Some(text),
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    Ok(form)
}

async fn create_signature(
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
    let placement = match (&form.field, form.page, form.rect) {
        (Some(f), None, None) => Placement::Field(f.clone()),
        (None, Some(page), Some(rect)) => Placement::Visible { page, rect },
        (None, None, None) => Placement::Invisible,
        _ => {
            return Err(ApiError::with_detail(
                ErrorCode::BadRequest,
                "give either field, or page with rect, or neither (invisible)",
            ))
        }
    };
    let profile = state.signer.profile(form.profile.as_deref())?;
    let opts = SignOptions {
        level: form.level,
        placement,
        field_name: None,
        certify: form.certify,
        reason: form.reason,
        location: form.location,
    };
    let _slot = state
        .verify_slots
        .try_acquire()
        .map_err(|_| ApiError::new(ErrorCode::Overloaded))?;
    let now = OffsetDateTime::now_utc();
    let signed = service::sign(profile, &file, &opts, now).await?;
    service::self_check(state.verifier.context(), profile, &signed, now)?;
    let (record, entry) = service::issued(
        profile,
        &file,
        &signed,
        &caller.id,
        form.dossier.as_deref(),
        now,
    );
    let (id, signed_sha) = (record.id.clone(), record.signed_sha256.clone());
    state
        .store
        .insert_signed_document(&record, &[entry])
        .await?;
    tracing::info!(
        target: "antin::sign",
        document = %id,
        caller = %caller.id,
        profile = %profile.name,
        level = signed.level.as_str(),
        "document signed"
    );
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::LOCATION, format!("/v/{id}")),
            (header::HeaderName::from_static("x-antin-document-id"), id),
            (
                header::HeaderName::from_static("x-antin-signed-sha256"),
                signed_sha,
            ),
        ],
        signed.bytes,
    )
        .into_response())
}

/// What antin issued under a document id: public, and without personal data (the agency, the
/// level, the time, the status, the hash of the issued file, its log entry).
async fn document_status(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::new(ErrorCode::NotFound));
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let rec = state
        .store
        .get_signed_document(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    let log_index = state
        .store
        .log_find_subject(&format!("document:{}", rec.id))
        .await?
        .first()
        .copied();
    Ok(Json(serde_json::json!({
        "document_id": rec.id,
        "agency": rec.agency,
        "status": rec.status,
        "status_reason": rec.status_reason,
        "issued_at": crate::timefmt::vietnam(rec.created_at),
        "level": rec.level,
        "signed_sha256": rec.signed_sha256,
        "signer_certificate_sha256": rec.signer_cert_sha256,
        "log_index": log_index,
    }))
    .into_response())
}
