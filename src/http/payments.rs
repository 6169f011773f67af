//! The payment API: portal calls under Idempotency-Key, and the gateways' public callback endpoints.
//! Thin: parse, authorise, call `pay::service`, render.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use time::OffsetDateTime;

use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorCode};
use super::{require, AppState, ConnInfo};
use crate::i18n::Lang;
use crate::pay::connector::{CallbackInput, GatewayKind};
use crate::pay::service::{parse_gateway, Ctx, Done, NewPayment, PayError, Payments};
use crate::store::payments::IdemBegin;

/// The largest portal request body (a payment request is a few hundred bytes).
const MAX_PORTAL_BODY: usize = 64 * 1024;
/// The largest callback body (a camt.054 with a few entries; MoMo/ZaloPay JSON is < 2 KiB).
const MAX_CALLBACK_BODY: usize = 256 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/payments", post(create))
        .route("/v1/payments/unresolved", get(unresolved))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/attempts", post(start_attempt))
        .route("/v1/payments/{id}/attempts/{aid}/qr.png", get(qr_png))
        .route("/v1/payments/{id}/attempts/{aid}/qr.svg", get(qr_svg))
        .route("/v1/payments/{id}/refunds", post(refund))
        .route("/v1/payments/{id}/cancel", post(cancel))
        .route("/v1/payments/{id}/ledger", get(payment_ledger))
        .route("/v1/ledger/balances", get(balances))
        .route("/callbacks/vnpay/ipn", get(callback_vnpay))
        .route("/callbacks/momo/ipn", post(callback_momo))
        .route("/callbacks/zalopay", post(callback_zalopay))
        .route("/callbacks/bank", post(callback_bank))
}

impl From<PayError> for ApiError {
    fn from(e: PayError) -> Self {
        match e {
            PayError::NotFound => ApiError::new(ErrorCode::NotFound),
            PayError::Invalid(d) => ApiError::with_detail(ErrorCode::BadRequest, d),
            PayError::Illegal(i) => ApiError::with_detail(ErrorCode::InvalidState, i.to_string()),
            PayError::GatewayNotConfigured { .. } => {
                ApiError::with_detail(ErrorCode::BadRequest, e.to_string())
            }
            PayError::GatewayUnavailable(_) => ApiError::new(ErrorCode::GatewayUnavailable),
            PayError::Contended => ApiError::new(ErrorCode::Overloaded),
            PayError::Store(s) => ApiError::internal(s),
        }
    }
}

fn payments(state: &AppState) -> Result<&Arc<Payments>, ApiError> {
    state
        .payments
        .as_ref()
        .ok_or_else(|| ApiError::with_detail(ErrorCode::Unavailable, "payments are disabled"))
}

fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn client_ip(conn: Option<&ConnInfo>) -> String {
    conn.map(|c| c.peer.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into())
}

fn json_response(done: &Done, replayed: bool) -> Response {
    let status = StatusCode::from_u16(done.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, Json(done.body.clone())).into_response();
    if replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    resp
}

async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))
}

fn parse_json(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::with_detail(ErrorCode::BadRequest, format!("invalid JSON: {e}")))
}

/// Runs a mutating call under its Idempotency-Key (draft-ietf-httpapi-idempotency-key-header):
/// the first response is stored (with the change itself when it succeeds), a retry with the same
/// key and request gets it again, a different request 422, a concurrent one 409.
async fn idempotent<F, Fut>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    f: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Result<Done, ApiError>>,
{
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyRequired));
    }
    if key.len() > 255 || !key.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(ApiError::with_detail(
            ErrorCode::BadRequest,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(body);
    let fingerprint = hex::encode(h.finish().as_ref());
    let store = &state.store;
    let now = OffsetDateTime::now_utc();
    let lock_secs = payments(state)?
        .config()
        .idempotency_lock_secs
        .clamp(1, 3600);
    match store
        .idem_begin(
            &caller.id,
            key,
            &fingerprint,
            now,
            time::Duration::seconds(lock_secs as i64),
            time::Duration::hours(48),
        )
        .await?
    {
        IdemBegin::Proceed => {}
        IdemBegin::Replay { status, body } => {
            let body: serde_json::Value =
                serde_json::from_str(&body).map_err(ApiError::internal)?;
            return Ok(json_response(&Done { status, body }, true));
        }
        IdemBegin::Mismatch => return Err(ApiError::new(ErrorCode::IdempotencyKeyReused)),
        IdemBegin::InFlight => return Err(ApiError::new(ErrorCode::IdempotencyInFlight)),
    }
    let ctx = Ctx {
        actor: caller.id.clone(),
        idem: Some((caller.id.clone(), key.to_owned())),
        lang: lang_of(headers),
        client_ip: String::new(),
    };
    match f(ctx).await {
        Ok(done) => Ok(json_response(&done, false)),
        Err(err) if err.code.status().is_client_error() => {
            // Processing started and ended in a definite refusal: a retry gets the same answer.
            let resp = err.render(Lang::Vi);
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), MAX_PORTAL_BODY)
                .await
                .map_err(ApiError::internal)?;
            store
                .idem_finish(&crate::store::payments::IdemResponse {
                    portal: caller.id.clone(),
                    key: key.to_owned(),
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                })
                .await?;
            Err(err)
        }
        Err(err) => {
            // Nothing definite happened: the client may retry under the same key.
            store.idem_release(&caller.id, key).await?;
            Err(err)
        }
    }
}

async fn create(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    conn: Option<Extension<ConnInfo>>,
    req: Request,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal])?;
    let pay = payments(&state)?.clone();
    let headers = req.headers().clone();
    let body = read_body(req, MAX_PORTAL_BODY).await?;
    let ip = client_ip(conn.as_deref());
    let st = state.clone();
    idempotent(
        &state,
        &caller,
        &headers,
        "POST /v1/payments",
        &body.clone(),
        |mut ctx| async move {
            ctx.client_ip = ip;
            let v = parse_json(&body)?;
            let req = NewPayment::parse(&v)?;
            Ok(pay
                .create(&ctx, req, st.log.pseudonymizer(), OffsetDateTime::now_utc())
                .await?)
        },
    )
    .await
}

async fn get_payment(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = require(
        caller.as_deref(),
        &[Role::Portal, Role::Finance, Role::Auditor, Role::Admin],
    )?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let pay = payments(&state)?;
    let portal = (caller.role == Role::Portal).then_some(caller.id.as_str());
    let mut v = pay.get_for(portal, &id).await?;
    if caller.role != Role::Portal {
        let flags = state.store.pay_flags(&id).await?;
        v["flags"] = flags
            .iter()
            .map(|f| serde_json::json!({"kind": f.kind, "attempt_id": f.attempt_id, "detail": f.detail}))
            .collect();
    }
    Ok(Json(v).into_response())
}

async fn start_attempt(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    conn: Option<Extension<ConnInfo>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal])?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let pay = payments(&state)?.clone();
    let headers = req.headers().clone();
    let body = read_body(req, MAX_PORTAL_BODY).await?;
    let ip = client_ip(conn.as_deref());
    let route = format!("POST /v1/payments/{id}/attempts");
    let portal = caller.id.clone();
    idempotent(
        &state,
        &caller,
        &headers,
        &route,
        &body.clone(),
        |mut ctx| async move {
            let v = parse_json(&body)?;
            let gw = v.get("gateway").and_then(|g| g.as_str()).unwrap_or("");
            let kind: GatewayKind = parse_gateway(gw).ok_or_else(|| {
                ApiError::with_detail(
                    ErrorCode::BadRequest,
                    "\"gateway\" must be one of vnpay, momo, zalopay, vietqr",
                )
            })?;
            // The citizen's address, when the portal passes it on (VNPAY wants vnp_IpAddr).
            ctx.client_ip = v
                .get("client_ip")
                .and_then(|c| c.as_str())
                .and_then(|c| c.parse::<std::net::IpAddr>().ok())
                .map(|c| c.to_string())
                .unwrap_or(ip);
            if let Some(l) = v.get("lang").and_then(|l| l.as_str()).and_then(Lang::parse) {
                ctx.lang = l;
            }
            Ok(pay
                .start_attempt(&ctx, Some(&portal), &id, kind, OffsetDateTime::now_utc())
                .await?)
        },
    )
    .await
}

/// The VietQR payload of an attempt (the caller must see the payment).
async fn qr_payload(
    state: &AppState,
    caller: Option<&Caller>,
    id: &str,
    aid: &str,
) -> Result<String, ApiError> {
    let caller = require(
        caller,
        &[Role::Portal, Role::Finance, Role::Auditor, Role::Admin],
    )?;
    let agg = state
        .store
        .pay_load(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    if caller.role == Role::Portal && agg.payment.portal != caller.id {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    agg.attempts
        .iter()
        .find(|a| a.id == aid)
        .and_then(|a| a.qr_payload.clone())
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))
}

async fn qr_png(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let payload = qr_payload(&state, caller.as_deref(), &id, &aid).await?;
    let png = crate::pay::gateways::vietqr::VietqrConnector::render_png(&payload)
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn qr_svg(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let payload = qr_payload(&state, caller.as_deref(), &id, &aid).await?;
    let svg = crate::pay::gateways::vietqr::VietqrConnector::render_svg(&payload)
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

async fn refund(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    conn: Option<Extension<ConnInfo>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal, Role::Finance])?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let pay = payments(&state)?.clone();
    let headers = req.headers().clone();
    let body = read_body(req, MAX_PORTAL_BODY).await?;
    let ip = client_ip(conn.as_deref());
    let route = format!("POST /v1/payments/{id}/refunds");
    let portal = (caller.role == Role::Portal).then(|| caller.id.clone());
    idempotent(
        &state,
        &caller,
        &headers,
        &route,
        &body.clone(),
        |mut ctx| async move {
            ctx.client_ip = ip;
            let v = parse_json(&body)?;
            let amount = match v.get("amount") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::Number(n)) => {
                    Some(n.as_i64().filter(|a| *a > 0).ok_or_else(|| {
                        ApiError::with_detail(
                            ErrorCode::BadRequest,
                            "\"amount\" must be a positive whole number of dong",
                        )
                    })?)
                }
                Some(_) => {
                    return Err(ApiError::with_detail(
                        ErrorCode::BadRequest,
                        "\"amount\" must be a positive whole number of dong",
                    ))
                }
            };
            let reason = v
                .get("reason")
                .and_then(|r| r.as_str())
                .map(str::trim)
                .filter(|r| !r.is_empty() && r.chars().count() <= 200)
                .ok_or_else(|| {
                    ApiError::with_detail(
                        ErrorCode::BadRequest,
                        "\"reason\" (1 to 200 characters) is required",
                    )
                })?
                .to_owned();
            Ok(pay
                .refund(
                    &ctx,
                    portal.as_deref(),
                    &id,
                    amount,
                    &reason,
                    OffsetDateTime::now_utc(),
                )
                .await?)
        },
    )
    .await
}

async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let caller = require(caller.as_deref(), &[Role::Portal, Role::Admin])?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let pay = payments(&state)?.clone();
    let headers = req.headers().clone();
    let body = read_body(req, MAX_PORTAL_BODY).await?;
    let route = format!("POST /v1/payments/{id}/cancel");
    let portal = (caller.role == Role::Portal).then(|| caller.id.clone());
    idempotent(&state, &caller, &headers, &route, &body, |ctx| async move {
        Ok(pay
            .cancel(&ctx, portal.as_deref(), &id, OffsetDateTime::now_utc())
            .await?)
    })
    .await
}

#[derive(serde::Deserialize)]
struct DateQuery {
    date: Option<String>,
}

/// Attempts unresolved at a day's cut-off (23:59:59+07:00), for finance officers.
async fn unresolved(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Query(q): Query<DateQuery>,
) -> Result<Response, ApiError> {
    require(
        caller.as_deref(),
        &[Role::Finance, Role::Auditor, Role::Admin],
    )?;
    let pay = payments(&state)?;
    let date = match q.date {
        Some(d) => time::Date::parse(
            &d,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| ApiError::with_detail(ErrorCode::BadRequest, "date must be YYYY-MM-DD"))?,
        None => OffsetDateTime::now_utc()
            .to_offset(crate::timefmt::VIETNAM)
            .date(),
    };
    let list = pay.unresolved_at_cutoff(date).await?;
    Ok(Json(serde_json::json!({
        "cutoff": crate::timefmt::vietnam(crate::pay::service::cutoff_of(date)),
        "attempts": list.iter().map(|a| serde_json::json!({
            "payment_id": a.payment_id, "attempt_id": a.id, "gateway": a.gateway,
            "state": a.state.as_str(), "amount": a.amount,
            "created_at": crate::timefmt::vietnam(a.created_at),
            "next_query_at": a.next_query_at.map(crate::timefmt::vietnam),
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn payment_ledger(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(
        caller.as_deref(),
        &[Role::Finance, Role::Auditor, Role::Admin],
    )?;
    let lines = state.store.ledger_lines(Some(&id)).await?;
    Ok(Json(serde_json::json!({
        "payment_id": id,
        "lines": lines.iter().map(|(posting, kind, l)| serde_json::json!({
            "posting_id": posting, "kind": kind, "account": l.account.code(), "amount": l.amount,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn balances(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> Result<Response, ApiError> {
    require(
        caller.as_deref(),
        &[Role::Finance, Role::Auditor, Role::Admin],
    )?;
    let lines = state.store.ledger_lines(None).await?;
    let b = crate::pay::ledger::balances(lines.iter().map(|(_, _, l)| l));
    let map: serde_json::Map<String, serde_json::Value> = b
        .into_iter()
        .map(|(a, v)| (a.code(), serde_json::json!(v)))
        .collect();
    Ok(Json(serde_json::json!({"currency": "VND", "balances": map})).into_response())
}

async fn callback(state: Arc<AppState>, kind: GatewayKind, req: Request) -> Response {
    let Some(pay) = state.payments.clone() else {
        return ApiError::new(ErrorCode::Unavailable).into_response();
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_CALLBACK_BODY).await {
        Ok(b) => b,
        Err(_) => {
            // Too large (or broken): answered as malformed in the gateway's own format.
            let c = pay.registry().of_kind(kind);
            return match c.first() {
                Some((_, c)) => {
                    to_response(c.answer(crate::pay::connector::CallbackAnswer::Malformed))
                }
                None => StatusCode::NOT_FOUND.into_response(),
            };
        }
    };
    let input = CallbackInput {
        method: parts.method.as_str(),
        query: parts.uri.query(),
        body: &body,
        headers: &parts.headers,
    };
    let answer = pay.callback(kind, &input, OffsetDateTime::now_utc()).await;
    to_response(answer)
}

fn to_response(a: crate::pay::connector::HttpAnswer) -> Response {
    let mut resp = Response::new(Body::from(a.body));
    *resp.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    if let Some(ct) = a.content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
    }
    resp
}

async fn callback_vnpay(State(state): State<Arc<AppState>>, req: Request) -> Response {
    callback(state, GatewayKind::Vnpay, req).await
}

async fn callback_momo(State(state): State<Arc<AppState>>, req: Request) -> Response {
    callback(state, GatewayKind::Momo, req).await
}

async fn callback_zalopay(State(state): State<Arc<AppState>>, req: Request) -> Response {
    callback(state, GatewayKind::Zalopay, req).await
}

async fn callback_bank(State(state): State<Arc<AppState>>, req: Request) -> Response {
    callback(state, GatewayKind::Vietqr, req).await
}
