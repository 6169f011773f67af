//! The public check page: `GET /v/{id}` (the address in a result's QR code), the upload form at
//! `/verify`, and the same facts as JSON (`GET /v1/documents/{id}/status`, or `/v/{id}` with
//! `Accept: application/json`). Agencies change a document's status through
//! `POST /v1/documents/{id}/revoke` and `/supersede`, each written with its log entry.
//!
//! Anyone may call the public routes, so each is rate limited per client address (`limit`),
//! uploads are bounded (`check.max_upload_bytes`), verified in memory and never stored, and what
//! is shown carries no personal data (`page`). The log proof is checked here, on the server,
//! against the latest signed checkpoint before the page says "đã kiểm tra".

pub mod limit;
pub mod page;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState, ConnInfo};
use crate::audit::merkle;
use crate::audit::note::{self, Checkpoint};
use crate::i18n::Lang;
use crate::sign::status::{self, DocumentStatus, StatusAction, StatusError};
use crate::store::{SignedDocumentRecord, StatusChangeRecord};
use crate::verify::report::Verdict;
use crate::verify::{Input, VerifyOptions};
use limit::{Rate, RateLimiter};
use page::{DocView, Light, ProofView, ResultView};

/// Form overhead allowed on top of the file (boundaries, part headers, the small text fields).
const FORM_OVERHEAD: usize = 64 * 1024;

/// Marks a response as an HTML page, so the error middleware leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HtmlPage;

pub fn routes(state: &AppState) -> Router<Arc<AppState>> {
    let cfg = &state.config.check;
    let limiter = Arc::new(RateLimiter::new(
        Rate {
            per_minute: cfg.rate_per_minute,
            burst: cfg.rate_burst,
        },
        cfg.max_tracked_clients,
    ));
    let body_limit = cfg
        .max_upload_bytes
        .saturating_add(FORM_OVERHEAD)
        .min(state.config.server.max_body_bytes);
    let public = Router::new()
        .route("/v/{id}", get(document_page))
        .route("/v1/documents/{id}/status", get(document_json))
        .route(
            "/verify",
            get(verify_form)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .layer(axum::middleware::from_fn(move |req, next| {
            rate_limit(limiter.clone(), req, next)
        }));
    Router::new()
        .route("/v1/documents/{id}/revoke", post(revoke))
        .route("/v1/documents/{id}/supersede", post(supersede))
        .merge(public)
}

// --- Negotiation and responses ------------------------------------------------------------------

/// RFC 9110 12.5.1: JSON only when the client prefers it to HTML (`*/*` and no Accept get HTML).
pub fn wants_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (mut json_q, mut html_q) = (0.0f32, 0.0f32);
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        match media.as_str() {
            "application/json" => json_q = json_q.max(q),
            "text/html" | "application/xhtml+xml" => html_q = html_q.max(q),
            _ => {}
        }
    }
    json_q > 0.0 && json_q > html_q
}

#[derive(Debug, Default)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

/// `?lang=` first, then Accept-Language, else Vietnamese.
fn page_lang(query: &LangQuery, headers: &HeaderMap) -> Lang {
    query
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

/// An HTML page with the headers every page carries.
fn html(status: StatusCode, body: String, no_store: bool) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&page::CSP) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if no_store { "no-store" } else { "no-cache" }),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language"),
    );
    resp.extensions_mut().insert(HtmlPage);
    resp
}

/// The error pages, by the API's error codes (same status codes).
pub(crate) fn error_html(lang: Lang, code: ErrorCode, detail: &str, switch_to: &str) -> Response {
    let title = match code {
        ErrorCode::NotFound => lang.pick("Không tìm thấy văn bản", "Document not found"),
        ErrorCode::BadRequest => lang.pick(
            "Địa chỉ hoặc yêu cầu không hợp lệ",
            "Invalid address or request",
        ),
        ErrorCode::PayloadTooLarge => lang.pick("Tệp quá lớn", "File too large"),
        ErrorCode::UnsupportedDocument => lang.pick("Không phải tệp PDF", "Not a PDF file"),
        ErrorCode::RateLimited => lang.pick("Quá nhiều yêu cầu", "Too many requests"),
        _ => lang.pick("Không thực hiện được", "Something went wrong"),
    };
    let message = if detail.is_empty() {
        code.message(lang).to_owned()
    } else {
        format!("{} {detail}", code.message(lang))
    };
    html(
        code.status(),
        page::error_page(lang, title, &message, switch_to),
        true,
    )
}

async fn rate_limit(limiter: Arc<RateLimiter>, req: Request, next: Next) -> Response {
    let addr = req
        .extensions()
        .get::<ConnInfo>()
        .map(|c| c.peer.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match limiter.check(addr, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::info!(target: "antin::check", %addr, "rate limited");
            let path = req.uri().path().to_owned();
            let mut resp = if wants_json(req.headers()) || path.starts_with("/v1/") {
                ApiError::new(ErrorCode::RateLimited).into_response()
            } else {
                error_html(
                    page_lang(&query_lang(req.uri()), req.headers()),
                    ErrorCode::RateLimited,
                    "",
                    &path,
                )
            };
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// `lang=` out of the query string (the rest is ignored).
fn query_lang(uri: &Uri) -> LangQuery {
    LangQuery {
        lang: uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("lang="))
                .map(str::to_owned)
        }),
    }
}

// --- What was issued ----------------------------------------------------------------------------

/// Why a document id did not lead to a document.
enum Lookup {
    Malformed,
    Unknown,
    Failed(ApiError),
}

fn parse_id(id: Result<Path<String>, PathRejection>) -> Result<String, Lookup> {
    let Ok(Path(id)) = id else {
        return Err(Lookup::Malformed);
    };
    match uuid::Uuid::parse_str(&id) {
        // The canonical form only, so one document has one address.
        Ok(u) if u.hyphenated().to_string() == id => Ok(id),
        _ => Err(Lookup::Malformed),
    }
}

async fn find(state: &AppState, id: &str) -> Result<SignedDocumentRecord, Lookup> {
    match state.store.get_signed_document(id).await {
        Ok(Some(rec)) => Ok(rec),
        Ok(None) => Err(Lookup::Unknown),
        Err(e) => Err(Lookup::Failed(e.into())),
    }
}

/// Checks, on the server, that the document's signing entry (the one that names this id and this
/// file hash) and its latest status change are in the log: their inclusion proofs against the
/// latest checkpoint, whose signature verifies with the log's key (RFC 9162 2.1.3.2; C2SP
/// signed-note).
async fn log_proof(
    state: &AppState,
    rec: &SignedDocumentRecord,
    history: &[StatusChangeRecord],
) -> ProofView {
    match check_inclusion(state, rec, history).await {
        Ok(v) => v,
        Err((index, detail)) => {
            tracing::warn!(target: "antin::check", document = %rec.id, ?index, %detail, "log proof not checked");
            ProofView::Failed { index, detail }
        }
    }
}

/// The body of entry `index`, if it decodes and `accept` says it is the one expected.
async fn entry_if(
    state: &AppState,
    index: u64,
    accept: impl Fn(&crate::audit::entry::DecodedEntry) -> bool,
) -> Result<Option<String>, (Option<u64>, String)> {
    let entries = state
        .store
        .log_entries(index, index + 1)
        .await
        .map_err(|e| (Some(index), e.to_string()))?;
    let Some(entry) = entries.into_iter().find(|e| e.index == index) else {
        return Ok(None);
    };
    Ok(crate::audit::entry::decode(&entry.body, index)
        .ok()
        .filter(|d| accept(d))
        .map(|_| entry.body))
}

async fn check_inclusion(
    state: &AppState,
    rec: &SignedDocumentRecord,
    history: &[StatusChangeRecord],
) -> Result<ProofView, (Option<u64>, String)> {
    let fail = |i: Option<u64>| move |e: &dyn std::fmt::Display| (i, e.to_string());
    let indices = state
        .store
        .log_find_subject(&format!("document:{}", rec.id))
        .await
        .map_err(|e| fail(None)(&e))?;
    let mut signed = None;
    for &i in indices.iter().take(50) {
        if let Some(body) = entry_if(state, i, |d| {
            d.kind == "document_signed"
                && d.data["document_id"] == rec.id.as_str()
                && d.data["signed_sha256"] == rec.signed_sha256.as_str()
        })
        .await?
        {
            signed = Some((i, body));
            break;
        }
    }
    let (index, body) = signed.ok_or((None, "no log entry records this document".to_owned()))?;
    let mut leaves = vec![(index, body)];
    let mut status_index = None;
    if let Some(last) = history.last() {
        let i = last.log_index;
        let body = entry_if(state, i, |d| {
            d.kind == "document_status"
                && d.data["document_id"] == rec.id.as_str()
                && d.data["to"] == last.to_status.as_str()
                && d.data["reason"] == last.reason.as_str()
        })
        .await?
        .ok_or((
            Some(i),
            "the status change's log entry does not match".to_owned(),
        ))?;
        leaves.push((i, body));
        status_index = Some(i);
    }
    let newest = leaves.iter().map(|(i, _)| *i).max().unwrap_or(index);
    let now = OffsetDateTime::now_utc();
    let cp = state
        .log
        .checkpoint_covering(newest, now)
        .await
        .map_err(|e| fail(Some(newest))(&e))?;
    let verifier = state.log.verifier().map_err(|e| fail(Some(index))(&e))?;
    let opened = note::open(&cp.note, &[verifier]).map_err(|e| fail(Some(index))(&e))?;
    let checkpoint = Checkpoint::parse(&opened.text).map_err(|e| fail(Some(index))(&e))?;
    for (i, body) in &leaves {
        let proof = state
            .log
            .inclusion_proof(*i, checkpoint.size)
            .await
            .map_err(|e| fail(Some(*i))(&e))?;
        merkle::verify_inclusion(
            &merkle::leaf_hash(body.as_bytes()),
            *i,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        )
        .map_err(|e| fail(Some(*i))(&e))?;
    }
    Ok(ProofView::Checked {
        index,
        status_index,
        size: checkpoint.size,
        root_hex: hex::encode(checkpoint.root),
    })
}

fn status_json(
    rec: &SignedDocumentRecord,
    history: &[StatusChangeRecord],
    proof: &ProofView,
) -> serde_json::Value {
    let status = DocumentStatus::parse(&rec.status);
    let log = match proof {
        ProofView::Checked {
            index,
            status_index,
            size,
            root_hex,
        } => json!({
            "index": index,
            "status_index": status_index,
            "inclusion": "checked",
            "checkpoint": {"size": size, "root": root_hex},
        }),
        ProofView::Failed { index, detail } => json!({
            "index": index,
            "inclusion": "failed",
            "detail": detail,
        }),
    };
    json!({
        "document_id": rec.id,
        "agency": rec.agency,
        "document_type": rec.document_type,
        "document_number": rec.document_number,
        "signer": rec.published_signer,
        "status": rec.status,
        "status_label": status.map(|s| json!({"vi": s.label(Lang::Vi), "en": s.label(Lang::En)})),
        "status_reason": rec.status_reason,
        "status_changed_at": rec.status_changed_at.map(crate::timefmt::vietnam),
        "superseded_by": rec.superseded_by,
        "issued_at": crate::timefmt::vietnam(rec.created_at),
        "level": rec.level,
        "signed_sha256": rec.signed_sha256,
        "signer_certificate_sha256": rec.signer_cert_sha256,
        "log_index": match proof {
            ProofView::Checked { index, .. } => Some(*index),
            ProofView::Failed { index, .. } => *index,
        },
        "log": log,
        "history": history.iter().map(|h| json!({
            "from": h.from_status,
            "to": h.to_status,
            "reason": h.reason,
            "replaced_by": h.replaced_by,
            "actor": h.actor,
            "at": crate::timefmt::vietnam(h.created_at),
            "log_index": h.log_index,
        })).collect::<Vec<_>>(),
    })
}

async fn document_facts(
    state: &AppState,
    rec: &SignedDocumentRecord,
) -> Result<(Vec<StatusChangeRecord>, ProofView), ApiError> {
    let history = state.store.document_status_history(&rec.id).await?;
    let proof = log_proof(state, rec, &history).await;
    Ok((history, proof))
}

fn lookup_api_error(e: Lookup) -> ApiError {
    match e {
        Lookup::Malformed => ApiError::with_detail(
            ErrorCode::BadRequest,
            "a document id is a UUID in its canonical form",
        ),
        Lookup::Unknown => ApiError::new(ErrorCode::NotFound),
        Lookup::Failed(e) => e,
    }
}

/// `GET /v/{id}`: the page, or JSON for clients that prefer it.
async fn document_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    if wants_json(&headers) {
        return document_json(State(state), id).await;
    }
    let lang = page_lang(&query_lang(&uri), &headers);
    let found = match parse_id(id) {
        Ok(id) => find(&state, &id).await,
        Err(e) => Err(e),
    };
    let rec = match found {
        Ok(rec) => rec,
        Err(Lookup::Malformed) => {
            return error_html(
                lang,
                ErrorCode::BadRequest,
                lang.pick(
                    "Mã văn bản không đúng định dạng.",
                    "The document id is malformed.",
                ),
                "/verify",
            )
        }
        Err(Lookup::Unknown) => {
            return error_html(
                lang,
                ErrorCode::NotFound,
                lang.pick(
                    "Không có văn bản nào được cấp với mã này.",
                    "No document was issued under this id.",
                ),
                "/verify",
            )
        }
        Err(Lookup::Failed(e)) => return error_html(lang, e.code, "", "/verify"),
    };
    let (history, proof) = match document_facts(&state, &rec).await {
        Ok(f) => f,
        Err(e) => return error_html(lang, e.code, "", "/verify"),
    };
    let view = DocView {
        rec: &rec,
        history: &history,
        proof: &proof,
    };
    html(
        StatusCode::OK,
        page::document_page(lang, &view, state.config.check.max_upload_bytes),
        false,
    )
}

/// `GET /v1/documents/{id}/status` (and `/v/{id}` with `Accept: application/json`).
async fn document_json(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let id = parse_id(id).map_err(lookup_api_error)?;
        let rec = find(&state, &id).await.map_err(lookup_api_error)?;
        let (history, proof) = document_facts(&state, &rec).await?;
        Ok::<_, ApiError>(Json(status_json(&rec, &history, &proof)))
    }
    .await;
    match result {
        Ok(body) => {
            let mut resp = body.into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

// --- Agencies change the status -----------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    reason: String,
    #[serde(default)]
    replaced_by: Option<String>,
}

async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    change_status(&state, caller.as_deref(), id, body, false).await
}

async fn supersede(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    change_status(&state, caller.as_deref(), id, body, true).await
}

/// A portal acts on the documents it issued (others look unknown to it); an admin on any.
fn may_act(caller: &Caller, rec: &SignedDocumentRecord) -> bool {
    caller.role == Role::Admin || rec.caller == caller.id
}

async fn change_status(
    state: &AppState,
    caller: Option<&Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StatusRequest>, JsonRejection>,
    supersede: bool,
) -> Result<Response, ApiError> {
    let caller = require(caller, &[Role::Portal, Role::Admin])?;
    let id = parse_id(id).map_err(lookup_api_error)?;
    let Json(req) = body.map_err(|e| {
        ApiError::with_detail(
            ErrorCode::BadRequest,
            format!(
                "the body must be JSON {{\"reason\": ...}}: {}",
                e.body_text()
            ),
        )
    })?;
    let rec = find(state, &id).await.map_err(lookup_api_error)?;
    if !may_act(&caller, &rec) {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let reason = status::clean_reason(&req.reason).map_err(|e| bad(e.to_string()))?;
    let action = if supersede {
        let by = req
            .replaced_by
            .ok_or_else(|| bad("\"replaced_by\" (the new document's id) is required".into()))?;
        let replacement = match find(state, &by).await {
            Ok(r) => r,
            Err(Lookup::Failed(e)) => return Err(e),
            Err(_) => return Err(bad(format!("no document {by:?} to replace it with"))),
        };
        if !may_act(&caller, &replacement) {
            return Err(bad(format!("no document {by:?} to replace it with")));
        }
        StatusAction::Supersede {
            reason,
            replaced_by: replacement.id,
        }
    } else {
        if req.replaced_by.is_some() {
            return Err(bad("\"replaced_by\" belongs to /supersede".into()));
        }
        StatusAction::Revoke { reason }
    };
    let from = DocumentStatus::parse(&rec.status)
        .ok_or_else(|| ApiError::internal(format!("document {id} has status {:?}", rec.status)))?;
    let to = status::transition(&id, from, &action).map_err(|e| match e {
        StatusError::NotAllowed { .. } => {
            ApiError::with_detail(ErrorCode::InvalidState, e.to_string())
        }
        other => bad(other.to_string()),
    })?;
    let now = OffsetDateTime::now_utc();
    let change = StatusChangeRecord {
        id: uuid::Uuid::new_v4().to_string(),
        document_id: id.clone(),
        from_status: from.as_str().to_owned(),
        to_status: to.as_str().to_owned(),
        reason: action.reason().to_owned(),
        replaced_by: action.replaced_by().map(str::to_owned),
        actor: caller.id.clone(),
        created_at: now,
        log_index: 0,
    };
    let entry = crate::audit::record::document_status(
        &id,
        &change.from_status,
        &change.to_status,
        &change.reason,
        change.replaced_by.as_deref(),
        &caller.id,
        now,
    );
    let Some(done) = state
        .store
        .change_document_status(&change, &[entry])
        .await?
    else {
        return Err(ApiError::with_detail(
            ErrorCode::InvalidState,
            "the document's status changed meanwhile; read it again",
        ));
    };
    tracing::info!(
        target: "antin::sign",
        document = %id,
        caller = %caller.id,
        from = from.as_str(),
        to = to.as_str(),
        log_index = done.log_index,
        "document status changed"
    );
    let rec = find(state, &id).await.map_err(lookup_api_error)?;
    let (history, proof) = document_facts(state, &rec).await?;
    Ok(Json(status_json(&rec, &history, &proof)).into_response())
}

// --- Uploads ------------------------------------------------------------------------------------

async fn verify_form(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = page_lang(&query_lang(&uri), &headers);
    html(
        StatusCode::OK,
        page::verify_page(lang, state.config.check.max_upload_bytes),
        false,
    )
}

/// What a lay reader is told, from the verdict, the comparison with the issued file and the
/// document's status. Pure.
pub fn judge(
    lang: Lang,
    verdict: Verdict,
    identical: Option<bool>,
    status: Option<DocumentStatus>,
) -> (Light, &'static str) {
    match (verdict, identical, status) {
        (Verdict::TotalFailed, _, _) => (
            Light::Red,
            lang.pick(
                "Chữ ký số không hợp lệ: tệp đã bị sửa đổi sau khi ký hoặc chữ ký không đúng. Không nên tin cậy tệp này.",
                "The digital signature is not valid: the file was changed after signing or the signature is wrong. Do not rely on this file.",
            ),
        ),
        (Verdict::NoSignature, _, _) => (
            Light::Red,
            lang.pick(
                "Tệp này không có chữ ký số nên không thể xác nhận nguồn gốc.",
                "This file carries no digital signature, so its origin cannot be confirmed.",
            ),
        ),
        (_, Some(true), Some(DocumentStatus::Revoked)) => (
            Light::Red,
            lang.pick(
                "Đây đúng là văn bản đã được cấp, nhưng cơ quan ban hành đã thu hồi văn bản này.",
                "This is the document that was issued, but the issuing agency has revoked it.",
            ),
        ),
        (_, Some(true), Some(DocumentStatus::Superseded)) => (
            Light::Amber,
            lang.pick(
                "Đây đúng là văn bản đã được cấp, nhưng văn bản đã được thay thế bằng một văn bản khác.",
                "This is the document that was issued, but it has been replaced by another document.",
            ),
        ),
        (_, Some(false), _) => (
            Light::Amber,
            lang.pick(
                "Tệp này không giống hệt văn bản đã được cấp với mã này; hãy đối chiếu với bản gốc.",
                "This file is not the exact document issued under this id; compare it with the original.",
            ),
        ),
        (Verdict::Indeterminate, _, _) => (
            Light::Amber,
            lang.pick(
                "Chưa xác định được chữ ký số (thiếu thông tin thu hồi hoặc chứng thư chưa được tin cậy).",
                "The digital signature could not be confirmed (revocation data missing or the certificate is not trusted).",
            ),
        ),
        (Verdict::TotalPassed, Some(true), _) => (
            Light::Green,
            lang.pick(
                "Văn bản hợp lệ: chữ ký số đúng và tệp giống hệt văn bản đã được cấp.",
                "The document is valid: the digital signature is correct and the file is the one issued.",
            ),
        ),
        (Verdict::TotalPassed, _, _) => (
            Light::Green,
            lang.pick(
                "Chữ ký số hợp lệ; tệp này không có trong danh sách văn bản do hệ thống này cấp.",
                "The digital signature is valid; this file is not among the documents issued by this service.",
            ),
        ),
    }
}

#[derive(Default)]
struct UploadForm {
    file: Option<bytes::Bytes>,
    document_id: Option<String>,
    lang: Option<Lang>,
}

async fn read_upload(mut multipart: Multipart) -> Result<UploadForm, ApiError> {
    let bad = |d: &str| ApiError::with_detail(ErrorCode::BadRequest, d);
    let mut form = UploadForm::default();
    while let Some((name, bytes)) = super::next_field(&mut multipart).await? {
        match name.as_str() {
            "file" if form.file.is_none() => form.file = Some(bytes),
            "document_id" | "lang" if bytes.len() <= 64 => {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| bad("form fields must be UTF-8"))?
                    .trim();
                if name == "lang" {
                    form.lang = Lang::parse(text);
                } else if !text.is_empty() {
                    form.document_id = Some(text.to_owned());
                }
            }
            _ => return Err(bad("unexpected form field")),
        }
    }
    Ok(form)
}

/// `POST /verify`: verifies the uploaded PDF in memory and says what it is. Nothing is stored.
async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut lang = page_lang(&query_lang(&uri), &headers);
    let err = |lang: Lang, code: ErrorCode, detail: &str| error_html(lang, code, detail, "/verify");
    let Ok(multipart) = multipart else {
        return err(
            lang,
            ErrorCode::BadRequest,
            lang.pick(
                "Hãy gửi tệp qua biểu mẫu.",
                "Send the file through the form.",
            ),
        );
    };
    let form = match read_upload(multipart).await {
        Ok(f) => f,
        Err(e) if e.code == ErrorCode::PayloadTooLarge => {
            return too_large(lang, Some(state.config.check.max_upload_bytes))
        }
        Err(e) => return err(lang, e.code, e.detail.as_deref().unwrap_or("")),
    };
    if let Some(l) = form.lang {
        lang = l;
    }
    let max = state.config.check.max_upload_bytes;
    let file = match form.file {
        Some(f) if !f.is_empty() => f,
        _ => {
            return err(
                lang,
                ErrorCode::BadRequest,
                lang.pick("Chưa chọn tệp PDF.", "No PDF file was chosen."),
            )
        }
    };
    if file.len() > max {
        return too_large(lang, Some(max));
    }
    // A PDF starts with its header within the first 1024 bytes (ISO 32000-1 7.5.2, as readers
    // tolerate); anything else is turned away before any parsing.
    if memchr::memmem::find(&file[..file.len().min(1024)], b"%PDF-").is_none() {
        return err(
            lang,
            ErrorCode::UnsupportedDocument,
            lang.pick(
                "Tệp tải lên không phải là tệp PDF.",
                "The uploaded file is not a PDF.",
            ),
        );
    }
    let issued = match &form.document_id {
        None => None,
        Some(id) => match uuid::Uuid::parse_str(id) {
            Ok(u) if u.hyphenated().to_string() == *id => match find(&state, id).await {
                Ok(rec) => Some(rec),
                Err(Lookup::Failed(e)) => return err(lang, e.code, ""),
                Err(_) => {
                    return err(
                        lang,
                        ErrorCode::NotFound,
                        lang.pick(
                            "Không có văn bản nào được cấp với mã này.",
                            "No document was issued under this id.",
                        ),
                    )
                }
            },
            _ => {
                return err(
                    lang,
                    ErrorCode::BadRequest,
                    lang.pick(
                        "Mã văn bản không đúng định dạng.",
                        "The document id is malformed.",
                    ),
                )
            }
        },
    };
    let Ok(_slot) = state.verify_slots.try_acquire() else {
        return err(lang, ErrorCode::Overloaded, "");
    };
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &file));
    let now = OffsetDateTime::now_utc();
    let options = VerifyOptions::from_config(&state.config.verify);
    let outcome = match state
        .verifier
        .verify(Input::Pdf(file.to_vec()), options, now)
        .await
    {
        Ok(o) => o,
        Err(crate::verify::VerifyError::Unreadable(detail)) => {
            tracing::info!(target: "antin::check", %detail, "upload unreadable");
            return err(
                lang,
                ErrorCode::UnsupportedDocument,
                lang.pick(
                    "Không đọc được tệp PDF này.",
                    "This PDF file cannot be read.",
                ),
            );
        }
        Err(e) => return err(lang, ApiError::internal(e).code, ""),
    };
    drop(_slot);
    // Compared with the document named, or else looked up by the file's hash.
    let (issued, identical) = match issued {
        Some(rec) => {
            let same = rec.signed_sha256 == sha;
            (Some(rec), Some(same))
        }
        None => match state.store.find_signed_document_by_sha256(&sha).await {
            Ok(Some(rec)) => (Some(rec), Some(true)),
            Ok(None) => (None, None),
            Err(e) => return err(lang, ApiError::from(e).code, ""),
        },
    };
    let facts = match &issued {
        Some(rec) => match document_facts(&state, rec).await {
            Ok(f) => Some(f),
            Err(e) => return err(lang, e.code, ""),
        },
        None => None,
    };
    let status = issued
        .as_ref()
        .and_then(|r| DocumentStatus::parse(&r.status));
    let report = &outcome.report;
    let (light, sentence) = judge(lang, report.verdict, identical, status);
    state.metrics.record_verdict(report.verdict.as_str());
    tracing::info!(
        target: "antin::check",
        verdict = report.verdict.as_str(),
        light = light.as_str(),
        identical = ?identical,
        "public upload checked (not stored)"
    );
    let view = ResultView {
        light,
        sentence: sentence.to_owned(),
        identical: issued
            .as_ref()
            .zip(identical)
            .map(|(r, s)| (r.id.as_str(), s)),
        report,
        document: match (&issued, &facts) {
            (Some(rec), Some((history, proof))) => Some(DocView {
                rec,
                history,
                proof,
            }),
            _ => None,
        },
    };
    html(StatusCode::OK, page::result_page(lang, &view, max), true)
}

pub(crate) fn too_large(lang: Lang, max: Option<usize>) -> Response {
    let detail = match (lang, max) {
        (Lang::Vi, Some(max)) => format!("Tối đa {} MB.", max / (1024 * 1024)),
        (Lang::En, Some(max)) => format!("At most {} MB.", max / (1024 * 1024)),
        (_, None) => String::new(),
    };
    error_html(lang, ErrorCode::PayloadTooLarge, &detail, "/verify")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn negotiation_prefers_html() {
        assert!(!wants_json(&HeaderMap::new()));
        assert!(!wants_json(&accept("*/*")));
        assert!(!wants_json(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(wants_json(&accept("application/json")));
        assert!(wants_json(&accept("application/json, text/html;q=0.5")));
        assert!(!wants_json(&accept("application/json;q=0, text/html")));
    }

    #[test]
    fn lights() {
        use DocumentStatus::*;
        let j = |v, i, s| judge(Lang::Vi, v, i, s).0;
        assert_eq!(
            j(Verdict::TotalPassed, Some(true), Some(Valid)),
            Light::Green
        );
        assert_eq!(j(Verdict::TotalPassed, None, None), Light::Green);
        assert_eq!(
            j(Verdict::TotalFailed, Some(false), Some(Valid)),
            Light::Red
        );
        assert_eq!(j(Verdict::NoSignature, None, None), Light::Red);
        assert_eq!(
            j(Verdict::TotalPassed, Some(true), Some(Revoked)),
            Light::Red
        );
        assert_eq!(
            j(Verdict::TotalPassed, Some(true), Some(Superseded)),
            Light::Amber
        );
        assert_eq!(
            j(Verdict::TotalPassed, Some(false), Some(Valid)),
            Light::Amber
        );
        assert_eq!(
            j(Verdict::Indeterminate, Some(true), Some(Valid)),
            Light::Amber
        );
    }
}
