//! ZaloPay API v2 as gateways.md describes it: create (mac key1, app_trans_id prefixed with today's
//! GMT+7 `yymmdd_`, -68 duplicate, -402 bad mac), the order_url page, the callback
//! `{"data":..,"mac":..,"type":1}` (mac key2 over the data string) retried at most 3 times, query,
//! and the asynchronous refund with query_refund. Requests are accepted as JSON or as a form.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::sign::{self, hmac_sha256_hex, mac_matches, vnp_encode};
use super::{
    json_response, page, unix_ms, yymmdd, Gw, Judged, OrderCore, Outbound, RefundRec, RetryPolicy,
    Shared, Status,
};

/// Sub-return code for an order or refund the gateway does not know (gateways.md is silent).
pub const NOT_FOUND: i64 = -101;

#[derive(Default)]
pub(crate) struct ZpState {
    pub orders: HashMap<String, ZpOrder>,
    by_zp_trans: HashMap<i64, String>,
    /// m_refund_id -> app_trans_id.
    refunds: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ZpOrder {
    pub core: OrderCore,
    pub app_id: u64,
    pub app_user: String,
    pub app_time: i64,
    pub embed_data: String,
    pub item: String,
    pub bank_code: String,
    pub callback_url: Option<String>,
    pub redirect_url: Option<String>,
    /// sub_return_code of a final failure.
    pub sub_code: i64,
}

fn keys(shared: &Shared, app_id: u64) -> Option<(&[u8], &[u8])> {
    shared
        .cfg
        .zalopay
        .iter()
        .find(|a| a.app_id == app_id)
        .map(|a| {
            (
                a.key1.expose_secret().as_bytes(),
                a.key2.expose_secret().as_bytes(),
            )
        })
}

/// The request's fields as text, from a JSON object or a form body.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let text = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?;
        let pairs = sign::parse_query(text, 64).map_err(|e| e.to_string())?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect())
    } else {
        super::json_object(body)
    }
}

/// A field as the text that is MACed: a string as is, an integer in decimal.
fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    match m.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn int(m: &Map<String, Value>, k: &str) -> Option<i64> {
    let t = text(m, k)?;
    if t.is_empty()
        || t.len() > 19
        || !t
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return None;
    }
    t.parse().ok()
}

fn sub_message(code: i64) -> &'static str {
    match code {
        1 => "Giao dịch thành công",
        -68 => "Mã giao dịch app_trans_id bị trùng",
        -401 => "Dữ liệu yêu cầu không hợp lệ",
        -402 => "Ứng dụng hoặc chữ ký (mac) không hợp lệ",
        -429 => "Vượt giới hạn yêu cầu",
        -49 => "Người dùng đã hủy giao dịch",
        -54 => "Giao dịch đã hết hạn",
        NOT_FOUND => "Giao dịch không tồn tại",
        _ => "Giao dịch thất bại",
    }
}

fn reply(return_code: i64, sub: i64, extra: Map<String, Value>) -> Response {
    let mut m = Map::new();
    m.insert("return_code".into(), return_code.into());
    m.insert(
        "return_message".into(),
        match return_code {
            1 => "Giao dịch thành công",
            3 => "Giao dịch đang xử lý",
            _ => "Giao dịch thất bại",
        }
        .into(),
    );
    m.insert("sub_return_code".into(), sub.into());
    m.insert("sub_return_message".into(), sub_message(sub).into());
    m.extend(extra);
    json_response(StatusCode::OK, &Value::Object(m))
}

fn fail(sub: i64) -> Response {
    reply(2, sub, Map::new())
}

/// The app id and its key1, key2.
type AppKeys<'a> = (u64, &'a [u8], &'a [u8]);

/// Verifies `mac` = HMAC(key, `|`-joined fields); `Err` is the answer to send.
fn check_mac<'a>(
    shared: &'a Shared,
    m: &Map<String, Value>,
    order: &[&str],
    use_key1_tail: bool,
) -> Result<AppKeys<'a>, Box<Response>> {
    let app_id = int(m, "app_id")
        .and_then(|a| u64::try_from(a).ok())
        .ok_or_else(|| Box::new(fail(-401)))?;
    let (k1, k2) = keys(shared, app_id).ok_or_else(|| Box::new(fail(-402)))?;
    let mut parts = Vec::new();
    for k in order {
        parts.push(text(m, k).ok_or_else(|| Box::new(fail(-401)))?);
    }
    if use_key1_tail {
        parts.push(String::from_utf8_lossy(k1).into_owned());
    }
    let presented = m.get("mac").and_then(Value::as_str).unwrap_or("");
    if !mac_matches(&hmac_sha256_hex(k1, parts.join("|").as_bytes()), presented) {
        return Err(Box::new(fail(-402)));
    }
    Ok((app_id, k1, k2))
}

/// Whether `id` starts with today's GMT+7 `yymmdd_` (yesterday's too within 10 minutes after
/// midnight, so an id made at 23:59:59 is not refused on arrival).
fn dated_today(id: &str, now: OffsetDateTime) -> bool {
    let ok = |t: OffsetDateTime| id.len() > 7 && id.starts_with(&format!("{}_", yymmdd(t)));
    ok(now) || ok(now - time::Duration::minutes(10))
}

/// POST /zalopay/v2/create
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Ok(m) = fields(&headers, &body) else {
        return fail(-401);
    };
    let order = [
        "app_id",
        "app_trans_id",
        "app_user",
        "amount",
        "app_time",
        "embed_data",
        "item",
    ];
    let (app_id, _, _) = match check_mac(&shared, &m, &order, false) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let s = |k: &str| text(&m, k).unwrap_or_default();
    let app_trans_id = s("app_trans_id");
    let app_user = s("app_user");
    let description = s("description");
    let (Some(amount), Some(app_time)) = (int(&m, "amount"), int(&m, "app_time")) else {
        return fail(-401);
    };
    let expire = match m.get("expire_duration_seconds") {
        None => 900,
        Some(_) => match int(&m, "expire_duration_seconds") {
            Some(e) if (300..=2_592_000).contains(&e) => e,
            _ => return fail(-401),
        },
    };
    let embed: Option<Map<String, Value>> = serde_json::from_str::<Value>(&s("embed_data"))
        .ok()
        .and_then(|v| v.as_object().cloned());
    let item_ok = serde_json::from_str::<Value>(&s("item")).is_ok_and(|v| v.is_array());
    let callback_url = m
        .get("callback_url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty());
    let valid = amount > 0
        && !app_user.is_empty()
        && app_user.chars().count() <= 50
        && app_trans_id.len() <= 40
        && app_trans_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && dated_today(&app_trans_id, now)
        && description.chars().count() <= 256
        && embed.is_some()
        && item_ok
        && callback_url.is_none_or(|u| u.starts_with("http://") || u.starts_with("https://"));
    if !valid {
        return fail(-401);
    }
    let redirect_url = embed
        .as_ref()
        .and_then(|e| e.get("redirecturl"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    {
        let mut st = shared.state();
        if st.zalopay.orders.contains_key(&app_trans_id) {
            return fail(-68);
        }
        if st.zalopay.orders.len() >= shared.cfg.max_orders {
            return fail(-429);
        }
        let mut core = OrderCore::new(
            Gw::Zalopay,
            &app_id.to_string(),
            &app_trans_id,
            amount,
            &description,
            (now, now + time::Duration::seconds(expire)),
            "3",
        );
        core.merchant = app_id.to_string();
        st.zalopay.orders.insert(
            app_trans_id.clone(),
            ZpOrder {
                core,
                app_id,
                app_user,
                app_time,
                embed_data: s("embed_data"),
                item: s("item"),
                bank_code: s("bank_code"),
                callback_url: callback_url.map(str::to_owned),
                redirect_url,
                sub_code: 0,
            },
        );
    }
    let token = hex::encode(
        &ring::digest::digest(&ring::digest::SHA256, app_trans_id.as_bytes()).as_ref()[..16],
    );
    let mut extra = Map::new();
    extra.insert(
        "order_url".into(),
        format!(
            "{}/zalopay/pay/{}",
            shared.public_url(),
            vnp_encode(&app_trans_id)
        )
        .into(),
    );
    extra.insert("zp_trans_token".into(), token.clone().into());
    extra.insert("order_token".into(), token.clone().into());
    extra.insert(
        "qr_code".into(),
        format!("00020101021226520010vn.zalopay0203001010627000503173{token}").into(),
    );
    reply(1, 1, extra)
}

/// GET /zalopay/pay/{app_trans_id}
pub(crate) async fn pay_page(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let mut st = shared.state();
    match st.zalopay.orders.get_mut(&id) {
        Some(o) => {
            refresh(o, OffsetDateTime::now_utc());
            super::pay_page(&o.core)
        }
        None => page(
            StatusCode::NOT_FOUND,
            "ZaloPay",
            "<p>Không tìm thấy giao dịch.</p>",
        ),
    }
}

pub(crate) fn refresh(o: &mut ZpOrder, now: OffsetDateTime) {
    if o.core.status == Status::Pending && now >= o.core.expires_at {
        o.core.status = Status::Expired;
        o.core.result_code = "2".into();
        o.sub_code = -54;
        o.core.finished_at = Some(o.core.expires_at);
    }
}

/// The sub_return_code a failure gets (`code` overrides it: a negative number).
pub(crate) fn outcome_code(
    outcome: super::Outcome,
    code: Option<&str>,
) -> Result<(String, i64), String> {
    use super::Outcome::*;
    Ok(match (outcome, code) {
        (Pay, _) => ("1".into(), 1),
        (Cancel, _) => ("2".into(), -49),
        (Expire, _) => ("2".into(), -54),
        (Fail, None) => ("2".into(), -63),
        (Fail, Some(c)) => match c.parse::<i64>() {
            Ok(n) if n < 0 && n > -100_000 => ("2".into(), n),
            _ => {
                return Err(format!(
                    "ZaloPay failure code {c:?} must be a negative number"
                ))
            }
        },
    })
}

pub(crate) fn on_final(o: &mut ZpOrder, seq: u64) {
    if o.core.status == Status::Succeeded {
        let day: i64 = yymmdd(o.core.finished_at.unwrap_or_else(OffsetDateTime::now_utc))
            .parse()
            .unwrap_or(0);
        o.core.txn_id = Some((day * 1_000_000_000 + (seq % 1_000_000_000) as i64).to_string());
    }
}

pub(crate) fn index_trans(st: &mut ZpState, id: &str) {
    if let Some(t) = st
        .orders
        .get(id)
        .and_then(|o| o.core.txn_id.as_deref())
        .and_then(|t| t.parse::<i64>().ok())
    {
        st.by_zp_trans.insert(t, id.to_owned());
    }
}

fn zp_trans_id(o: &ZpOrder) -> i64 {
    o.core
        .txn_id
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// The callback of a paid order (ZaloPay calls back on success only).
pub(crate) fn callback(shared: &Shared, o: &ZpOrder, tamper: bool) -> Result<Outbound, String> {
    if o.core.status != Status::Succeeded {
        return Err("ZaloPay calls back only for a successful payment".into());
    }
    let url = o
        .callback_url
        .clone()
        .or_else(|| {
            shared
                .cfg
                .zalopay
                .iter()
                .find(|a| a.app_id == o.app_id)
                .and_then(|a| a.callback_url.clone())
        })
        .ok_or("no callback_url in the order nor configured for the app")?;
    let (_, k2) = keys(shared, o.app_id).ok_or("unknown app")?;
    let data = json!({
        "app_id": o.app_id,
        "app_trans_id": o.core.gateway_ref,
        "app_time": o.app_time,
        "app_user": o.app_user,
        "amount": o.core.paid_amount.unwrap_or(o.core.amount),
        "embed_data": o.embed_data,
        "item": o.item,
        "zp_trans_id": zp_trans_id(o),
        "server_time": unix_ms(o.core.finished_at.unwrap_or_else(OffsetDateTime::now_utc)),
        "channel": 38,
        "merchant_user_id": format!("zp{}", hex::encode(&ring::digest::digest(&ring::digest::SHA256, o.app_user.as_bytes()).as_ref()[..8])),
        "zp_user_id": format!("zp{}", hex::encode(&ring::digest::digest(&ring::digest::SHA256, o.app_user.as_bytes()).as_ref()[..8])),
        "user_fee_amount": 0,
        "discount_amount": 0
    })
    .to_string();
    let mut mac = hmac_sha256_hex(k2, data.as_bytes());
    if tamper {
        super::control::tamper_hex_tail(&mut mac);
    }
    Ok(Outbound {
        post: true,
        url,
        body: json!({"data": data, "mac": mac, "type": 1})
            .to_string()
            .into_bytes(),
        content_type: Some("application/json"),
        bank_sign: None,
    })
}

/// The browser's way back: embed_data.redirecturl with ZaloPay's checksum (key2).
pub(crate) fn return_redirect(shared: &Shared, o: &ZpOrder) -> Option<String> {
    let base = o.redirect_url.clone()?;
    let (_, k2) = keys(shared, o.app_id)?;
    let status = match o.core.status {
        Status::Succeeded => "1".to_owned(),
        _ => o.sub_code.to_string(),
    };
    let amount = o.core.paid_amount.unwrap_or(o.core.amount).to_string();
    let vals = [
        ("appid", o.app_id.to_string()),
        ("apptransid", o.core.gateway_ref.clone()),
        ("pmcid", "38".to_owned()),
        ("bankcode", o.bank_code.clone()),
        ("amount", amount),
        ("discountamount", "0".to_owned()),
        ("status", status),
    ];
    let joined = vals
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("|");
    let checksum = hmac_sha256_hex(k2, joined.as_bytes());
    let q = vals
        .iter()
        .map(|(k, v)| format!("{k}={}", vnp_encode(v)))
        .chain(std::iter::once(format!("checksum={checksum}")))
        .collect::<Vec<_>>()
        .join("&");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}{q}"))
}

fn judge(status: Option<u16>, body: &[u8]) -> Judged {
    let code = (status == Some(200))
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten()
        .and_then(|v| v.get("return_code").and_then(Value::as_i64));
    match code {
        Some(0) | None => Judged::Retry,
        Some(_) => Judged::Done,
    }
}

/// At most 3 more calls while the merchant answers return_code 0 or nothing usable.
pub(crate) const POLICY: RetryPolicy = RetryPolicy {
    retries: 3,
    interval: Duration::from_secs(60),
    judge,
};

/// POST /zalopay/v2/query
pub(crate) async fn query(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(m) = fields(&headers, &body) else {
        return fail(-401);
    };
    let (app_id, _, _) = match check_mac(&shared, &m, &["app_id", "app_trans_id"], true) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let id = text(&m, "app_trans_id").unwrap_or_default();
    let hang = {
        let mut st = shared.state();
        match st.zalopay.orders.get_mut(&id) {
            Some(o) if o.app_id == app_id => {
                std::mem::replace(&mut o.core.timeout_next_query, false)
            }
            _ => false,
        }
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(shared.cfg.query_hang_secs)).await;
    }
    let mut st = shared.state();
    let Some(o) = st
        .zalopay
        .orders
        .get_mut(&id)
        .filter(|o| o.app_id == app_id)
    else {
        let mut extra = Map::new();
        extra.insert("is_processing".into(), false.into());
        extra.insert("amount".into(), 0.into());
        extra.insert("zp_trans_id".into(), 0.into());
        return reply(2, NOT_FOUND, extra);
    };
    refresh(o, OffsetDateTime::now_utc());
    o.core.queries += 1;
    let (rc, sub) = match o.core.status {
        Status::Succeeded => (1, 1),
        Status::Pending => (3, 0),
        _ => (2, o.sub_code),
    };
    let mut extra = Map::new();
    extra.insert("is_processing".into(), false.into());
    extra.insert(
        "amount".into(),
        o.core.paid_amount.unwrap_or(o.core.amount).into(),
    );
    extra.insert("discount_amount".into(), 0.into());
    extra.insert("zp_trans_id".into(), zp_trans_id(o).into());
    extra.insert(
        "server_time".into(),
        unix_ms(o.core.finished_at.unwrap_or_else(OffsetDateTime::now_utc)).into(),
    );
    drop(st);
    reply(rc, sub, extra)
}

/// Completes ZaloPay's asynchronous refunds that are due (`refund_delay_secs`, scaled).
pub(crate) fn settle_refunds(o: &mut ZpOrder, delay: Duration, now: OffsetDateTime) {
    for r in &mut o.core.refunds {
        if r.status == Status::Pending {
            let due = r.created_at + delay;
            if now >= due {
                r.status = Status::Succeeded;
                r.done_at = Some(due);
            }
        }
    }
}

/// Settles due refunds in every order (before the settlement file is made).
pub(crate) fn settle_all(st: &mut ZpState, delay: Duration, now: OffsetDateTime) {
    for o in st.orders.values_mut() {
        settle_refunds(o, delay, now);
    }
}

/// POST /zalopay/v2/refund (asynchronous: return_code 3, then query_refund).
pub(crate) async fn refund(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Ok(m) = fields(&headers, &body) else {
        return fail(-401);
    };
    let order = [
        "app_id",
        "zp_trans_id",
        "amount",
        "description",
        "timestamp",
    ];
    let (app_id, _, _) = match check_mac(&shared, &m, &order, false) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let refund_id = text(&m, "m_refund_id").unwrap_or_default();
    let (Some(zp_trans), Some(amount), Some(_ts)) = (
        int(&m, "zp_trans_id"),
        int(&m, "amount"),
        int(&m, "timestamp"),
    ) else {
        return fail(-401);
    };
    let prefix_ok = dated_today(&refund_id, now)
        && refund_id
            .get(7..)
            .and_then(|rest| rest.strip_prefix(&format!("{app_id}_")))
            .is_some_and(|tail| {
                !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        && refund_id.len() <= 45;
    if !prefix_ok
        || amount <= 0
        || text(&m, "description").unwrap_or_default().chars().count() > 256
    {
        return fail(-401);
    }
    let delay = shared.scaled(Duration::from_secs(shared.cfg.refund_delay_secs));
    let mut st = shared.state();
    let seq = st.next_seq();
    if let Some(id) = st.zalopay.refunds.get(&refund_id).cloned() {
        // The same m_refund_id again: its current state, never a second refund.
        let Some(o) = st.zalopay.orders.get_mut(&id) else {
            return fail(-401);
        };
        settle_refunds(o, delay, now);
        let r = o.core.refunds.iter().find(|r| r.refund_ref == refund_id);
        let (rc, rid) = match r {
            Some(r) if r.status == Status::Succeeded => (1, r.refund_txn_id.clone()),
            Some(r) => (3, r.refund_txn_id.clone()),
            None => (2, String::new()),
        };
        let mut extra = Map::new();
        extra.insert("refund_id".into(), rid.parse::<i64>().unwrap_or(0).into());
        return reply(rc, rc, extra);
    }
    let Some(id) = st.zalopay.by_zp_trans.get(&zp_trans).cloned() else {
        return fail(NOT_FOUND);
    };
    let Some(o) = st
        .zalopay
        .orders
        .get_mut(&id)
        .filter(|o| o.app_id == app_id)
    else {
        return fail(NOT_FOUND);
    };
    if o.core.status != Status::Succeeded
        || amount > o.core.refundable()
        || o.core.refunds.len() >= super::MAX_REFUNDS
    {
        return fail(-401);
    }
    let refund_txn = (seq % 1_000_000_000) as i64 + 9_000_000_000;
    o.core.refunds.push(RefundRec {
        refund_ref: refund_id.clone(),
        amount,
        status: Status::Pending,
        refund_txn_id: refund_txn.to_string(),
        created_at: now,
        done_at: None,
    });
    settle_refunds(o, delay, now);
    st.zalopay.refunds.insert(refund_id, id);
    drop(st);
    let mut extra = Map::new();
    extra.insert("refund_id".into(), refund_txn.into());
    reply(3, 3, extra)
}

/// POST /zalopay/v2/query_refund
pub(crate) async fn query_refund(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Ok(m) = fields(&headers, &body) else {
        return fail(-401);
    };
    let (app_id, _, _) =
        match check_mac(&shared, &m, &["app_id", "m_refund_id", "timestamp"], false) {
            Ok(k) => k,
            Err(r) => return *r,
        };
    let refund_id = text(&m, "m_refund_id").unwrap_or_default();
    let delay = shared.scaled(Duration::from_secs(shared.cfg.refund_delay_secs));
    let mut st = shared.state();
    let Some(id) = st.zalopay.refunds.get(&refund_id).cloned() else {
        return fail(NOT_FOUND);
    };
    let Some(o) = st
        .zalopay
        .orders
        .get_mut(&id)
        .filter(|o| o.app_id == app_id)
    else {
        return fail(NOT_FOUND);
    };
    settle_refunds(o, delay, now);
    let rc = match o
        .core
        .refunds
        .iter()
        .find(|r| r.refund_ref == refund_id)
        .map(|r| r.status)
    {
        Some(Status::Succeeded) => 1,
        Some(Status::Pending) => 3,
        _ => 2,
    };
    drop(st);
    reply(rc, rc, Map::new())
}
