//! `POST /v1/signatures/extend` (portal, admin): a signed PDF in, the same PDF brought up to B-LT
//! or B-LTA out (or, with `if_expiring_within`, "nothing to do" while the last document
//! timestamp is not due for renewal). The same core as `antin sign --extend` (`sign::extend`).

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState};
use crate::sign::extend::{self, ExtendError, ExtendOptions, Extended};
use crate::sign::service::Level;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/signatures/extend", post(extend_signatures))
}

impl From<ExtendError> for ApiError {
    fn from(e: ExtendError) -> Self {
        match &e {
            ExtendError::Level(_) | ExtendError::NoTsa(_) => {
                ApiError::with_detail(ErrorCode::BadRequest, e.to_string())
            }
            ExtendError::Pdf(_)
            | ExtendError::Unreadable(_)
            | ExtendError::NoSignature
            | ExtendError::InvalidSignature { .. } => {
                ApiError::with_detail(ErrorCode::UnsupportedDocument, e.to_string())
            }
            ExtendError::NoValidationData { .. } | ExtendError::Ltv(_) => {
                tracing::warn!(target: "antin::sign", error = %e, "cannot extend");
                ApiError::with_detail(
                    ErrorCode::Unavailable,
                    "revocation data for the long-term level could not be obtained",
                )
            }
            ExtendError::Sign(_) => {
                tracing::warn!(target: "antin::sign", error = %e, "cannot extend");
                ApiError::with_detail(ErrorCode::Unavailable, "the timestamp authority failed")
            }
            _ => ApiError::internal(e),
        }
    }
}

#[derive(Default)]
struct ExtendForm {
    file: Option<Vec<u8>>,
    profile: Option<String>,
    level: Option<Level>,
    if_expiring_within: Option<u32>,
}

async fn read_form(mut multipart: Multipart) -> Result<ExtendForm, ApiError> {
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let mut form = ExtendForm::default();
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
        if text.len() > 256 {
            return Err(bad(format!("field {name:?} is too long")));
        }
        match name.as_str() {
            "profile" => form.profile = Some(text),
            "level" => form.level = Some(text.parse().map_err(bad)?),
            "if_expiring_within" => {
                form.if_expiring_within = Some(
                    text.parse()
                        .map_err(|_| bad("if_expiring_within must be a number of days".into()))?,
                )
            }
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    Ok(form)
}

async fn extend_signatures(
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
    let profile = state.signer.profile(form.profile.as_deref())?;
    let opts = ExtendOptions {
        level: form.level.unwrap_or(Level::BLTA),
        if_expiring_within: form
            .if_expiring_within
            .map(|d| time::Duration::days(i64::from(d))),
    };
    let _slot = state
        .verify_slots
        .try_acquire()
        .map_err(|_| ApiError::new(ErrorCode::Overloaded))?;
    let now = OffsetDateTime::now_utc();
    match extend::extend(state.verifier.context(), profile, &file, &opts, now).await? {
        Extended::NothingToDo { tsa_not_after } => Ok(Json(serde_json::json!({
            "status": "nothing_to_do",
            "tsa_not_after": crate::timefmt::vietnam(tsa_not_after),
        }))
        .into_response()),
        Extended::Done { bytes, level } => {
            let entry = extend::log_entry(&file, &bytes, &profile.name, level, &caller.id, now);
            state.store.log_append(&[entry], now).await?;
            Ok((
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/pdf".to_owned()),
                    (
                        header::HeaderName::from_static("x-antin-level"),
                        level.as_str().to_owned(),
                    ),
                    (
                        header::HeaderName::from_static("x-antin-signed-sha256"),
                        hex::encode(openssl::sha::sha256(&bytes)),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
    }
}
