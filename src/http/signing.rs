//! Signing over HTTP: `POST /v1/signatures` (portal, admin) signs a result PDF with a profile and
//! returns it. What antin issued under a document id (the address in the result's QR code) is
//! served by the check page (`super::check`).

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState};
use crate::sign::pdf::Placement;
use crate::sign::service::{self, Level, SignError, SignOptions};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/signatures", post(create_signature))
        .route("/v1/signatures/batch", post(create_batch))
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

/// Most documents in one batch request (the body limit bounds their total size too).
const MAX_BATCH: usize = 100;

#[derive(Default)]
struct SignForm {
    file: Option<Vec<u8>>,
    /// Batch: every `file` part with its file name, in order.
    files: Vec<(String, Vec<u8>)>,
    /// Batch: every `dossier` part, in order (one for all, or one per file).
    dossiers: Vec<String>,
    profile: Option<String>,
    level: Option<Level>,
    page: Option<usize>,
    rect: Option<[f64; 4]>,
    field: Option<String>,
    invisible: bool,
    certify: Option<u8>,
    reason: Option<String>,
    location: Option<String>,
    dossier: Option<String>,
    /// Published on the check page.
    published: service::Published,
}

async fn read_form(mut multipart: Multipart) -> Result<SignForm, ApiError> {
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let mut form = SignForm::default();
    while let Some((name, file_name, bytes)) =
        super::next_field_with_filename(&mut multipart).await?
    {
        if name == "file" {
            if form.files.len() >= MAX_BATCH {
                return Err(bad(format!("at most {MAX_BATCH} files per request")));
            }
            let n = form.files.len() + 1;
            form.files.push((
                file_name.unwrap_or_else(|| format!("document-{n}.pdf")),
                bytes.to_vec(),
            ));
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
            "placement" => match text.as_str() {
                "invisible" => form.invisible = true,
                "default" => {}
                _ => return Err(bad("placement must be \"invisible\" or \"default\"".into())),
            },
            "certify" => {
                form.certify = Some(
                    text.parse()
                        .ok()
                        .filter(|p| (1..=3).contains(p))
                        .ok_or_else(|| bad("certify must be 1, 2 or 3".into()))?,
                )
            }
            "reason" => form.reason = Some(text),
            "document_type" => form.published.document_type = Some(text),
            "document_number" => form.published.document_number = Some(text),
            "location" => form.location = Some(text),
            "dossier" => {
                form.dossiers.push(text.clone());
                form.dossier = Some(text)
            }
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    Ok(form)
}

/// The place a form asks for; `None`: the profile's default.
fn form_placement(form: &SignForm) -> Result<Option<Placement>, ApiError> {
    match (&form.field, form.page, form.rect, form.invisible) {
        (Some(f), None, None, false) => Ok(Some(Placement::Field(f.clone()))),
        (None, Some(page), Some(rect), false) => Ok(Some(Placement::Visible { page, rect })),
        (None, None, None, true) => Ok(Some(Placement::Invisible)),
        (None, None, None, false) => Ok(None),
        _ => Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "give either field, or page with rect, or placement=invisible, or none of them (the profile's default place)",
        )),
    }
}

/// One document signed, self-checked, recorded with its log entry: (record, signed bytes).
async fn sign_and_record(
    state: &AppState,
    caller: &Caller,
    profile: &service::Profile,
    base: &SignOptions,
    file: &[u8],
    dossier: Option<&str>,
    published: &service::Published,
) -> Result<(crate::store::SignedDocumentRecord, service::Signed), ApiError> {
    let id = service::new_document_id();
    let opts = SignOptions {
        document_id: Some(id.clone()),
        ..base.clone()
    };
    let _slot = state
        .verify_slots
        .try_acquire()
        .map_err(|_| ApiError::new(ErrorCode::Overloaded))?;
    let now = OffsetDateTime::now_utc();
    let signed = service::sign(profile, file, &opts, now).await?;
    service::self_check(state.verifier.context(), profile, &signed, now)?;
    let (record, entry) = service::issued(
        &id, profile, file, &signed, &caller.id, dossier, published, now,
    );
    state
        .store
        .insert_signed_document(&record, &[entry])
        .await?;
    tracing::info!(
        target: "antin::sign",
        document = %record.id,
        caller = %caller.id,
        profile = %profile.name,
        level = signed.level.as_str(),
        "document signed"
    );
    Ok((record, signed))
}

fn options(form: &SignForm) -> Result<SignOptions, ApiError> {
    Ok(SignOptions {
        level: form.level,
        placement: form_placement(form)?,
        document_id: None,
        field_name: None,
        certify: form.certify,
        reason: form.reason.clone(),
        location: form.location.clone(),
    })
}

async fn create_signature(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal, Role::Admin])?;
    let form = read_form(multipart).await?;
    if form.files.len() > 1 {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "one \"file\" per request here; several go to /v1/signatures/batch",
        ));
    }
    let Some(file) = &form.file else {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "the multipart field \"file\" is required",
        ));
    };
    let opts = options(&form)?;
    let profile = state.signer.profile(form.profile.as_deref())?;
    let (record, signed) = sign_and_record(
        &state,
        &caller,
        profile,
        &opts,
        file,
        form.dossier.as_deref(),
        &form.published,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::LOCATION, format!("/v/{}", record.id)),
            (
                header::HeaderName::from_static("x-antin-document-id"),
                record.id,
            ),
            (
                header::HeaderName::from_static("x-antin-signed-sha256"),
                record.signed_sha256,
            ),
        ],
        signed.bytes,
    )
        .into_response())
}

/// `POST /v1/signatures/batch`: several `file` parts signed with the same options, answered as
/// NDJSON, one line per document as it is done (so the caller sees the progress): the signed
/// PDF in base64 with its document id, or the error for that document; one failure does not
/// stop the others. `dossier` once (for all) or once per file, in order.
async fn create_batch(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal, Role::Admin])?;
    let form = read_form(multipart).await?;
    if form.files.is_empty() {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "at least one multipart field \"file\" is required",
        ));
    }
    let dossiers: Vec<Option<String>> = match form.dossiers.len() {
        0 => vec![None; form.files.len()],
        1 => vec![form.dossiers.first().cloned(); form.files.len()],
        n if n == form.files.len() => form.dossiers.iter().cloned().map(Some).collect(),
        n => {
            return Err(ApiError::with_detail(
                ErrorCode::BadRequest,
                format!(
                    "{n} dossier fields for {} files: give one, or one per file",
                    form.files.len()
                ),
            ))
        }
    };
    let opts = options(&form)?;
    // The profile must exist before anything streams.
    state.signer.profile(form.profile.as_deref())?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    let total = form.files.len();
    tokio::spawn(async move {
        let Ok(profile) = state.signer.profile(form.profile.as_deref()) else {
            return;
        };
        for (i, ((name, file), dossier)) in form.files.iter().zip(&dossiers).enumerate() {
            let line = match sign_and_record(
                &state,
                &caller,
                profile,
                &opts,
                file,
                dossier.as_deref(),
                &form.published,
            )
            .await
            {
                Ok((record, signed)) => serde_json::json!({
                    "index": i + 1,
                    "total": total,
                    "name": name,
                    "status": "signed",
                    "document_id": record.id,
                    "level": record.level,
                    "signed_sha256": record.signed_sha256,
                    "location": format!("/v/{}", record.id),
                    "pdf_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed.bytes),
                }),
                Err(e) => serde_json::json!({
                    "index": i + 1,
                    "total": total,
                    "name": name,
                    "status": "failed",
                    "error": {
                        "code": e.code.as_str(),
                        "message": e.code.message(crate::i18n::Lang::En),
                        "detail": e.detail,
                    },
                }),
            };
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            if tx.send(Ok(bytes.into())).await.is_err() {
                // The caller went away: what is signed so far is recorded; stop here.
                tracing::warn!(target: "antin::sign", done = i + 1, total, "batch abandoned by the caller");
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
