//! MoMo API v2 ("captureWallet") as gateways.md describes it: create/query/refund signed with
//! HMAC-SHA256 over the raw (never URL-encoded) `key=value&...` string, requestId as the idempotency
//! key (a final result replays, a non-final one answers "duplicated requestId"), orderId rules,
//! amount bounds, the payUrl page, and one signed IPN POST that expects HTTP 204.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::sign::{hmac_sha256_hex, mac_matches, vnp_encode};
use super::{
    json_object, json_response, page, unix_ms, Gw, Judged, OrderCore, Outbound, RefundRec,
    RetryPolicy, Shared, Status,
};

pub const MIN_AMOUNT: i64 = 1_000;
pub const MAX_AMOUNT: i64 = 50_000_000;
/// MoMo's payment window when the merchant gives none (100 minutes).
const WINDOW_SECS: i64 = 100 * 60;

#[derive(Default)]
pub(crate) struct MomoState {
    pub orders: HashMap<String, MomoOrder>,
    /// (partnerCode, requestId) -> (the answer, whether it was final).
    requests: HashMap<(String, String), (Value, bool)>,
    by_trans: HashMap<i64, String>,
    refund_order_ids: HashSet<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MomoOrder {
    pub core: OrderCore,
    pub request_id: String,
    pub redirect_url: String,
    pub ipn_url: String,
    pub extra_data: String,
    pub pay_type: String,
}

fn keys<'a>(shared: &'a Shared, partner: &str) -> Option<(&'a str, &'a [u8])> {
    shared
        .cfg
        .momo
        .iter()
        .find(|m| m.partner_code == partner)
        .map(|m| {
            (
                m.access_key.expose_secret(),
                m.secret_key.expose_secret().as_bytes(),
            )
        })
}

/// `k=v&...` over raw values, in the given order, `accessKey` first.
pub fn raw_string(access_key: &str, pairs: &[(&str, String)]) -> String {
    let mut s = format!("accessKey={access_key}");
    for (k, v) in pairs {
        s.push('&');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

fn message(code: i64) -> &'static str {
    match code {
        0 => "Thành công.",
        1000 => "Giao dịch đã được khởi tạo, chờ người dùng xác nhận thanh toán.",
        1001 => "Giao dịch thanh toán thất bại do tài khoản người dùng không đủ tiền.",
        1003 => "Giao dịch bị đã bị hủy.",
        1005 => "Giao dịch thất bại do url hoặc QR code đã hết hạn.",
        1006 => "Giao dịch thất bại do người dùng đã từ chối xác nhận thanh toán.",
        13 => "Xác thực doanh nghiệp thất bại.",
        20 => "Yêu cầu sai định dạng.",
        22 => "Số tiền giao dịch nằm ngoài phạm vi cho phép.",
        40 => "RequestId bị trùng (duplicated requestId).",
        41 => "OrderId bị trùng.",
        42 => "OrderId không hợp lệ hoặc không được tìm thấy.",
        1080 => "Giao dịch hoàn tiền thất bại: giao dịch gốc không thành công.",
        1081 => "Giao dịch hoàn tiền bị từ chối: số tiền vượt quá số tiền có thể hoàn.",
        99 => "Lỗi không xác định.",
        _ => "Giao dịch thất bại.",
    }
}

/// Non-final resultCodes: a repeated requestId gets "duplicated requestId" instead of a replay.
fn is_final(code: i64) -> bool {
    !matches!(code, 1000 | 7000 | 7002 | 8000 | 9000 | 43 | 99 | 10)
}

fn result(
    partner: &str,
    request_id: &str,
    order_id: &str,
    amount: Option<i64>,
    code: i64,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("partnerCode".into(), partner.into());
    m.insert("requestId".into(), request_id.into());
    m.insert("orderId".into(), order_id.into());
    if let Some(a) = amount {
        m.insert("amount".into(), a.into());
    }
    m.insert(
        "responseTime".into(),
        unix_ms(OffsetDateTime::now_utc()).into(),
    );
    m.insert("message".into(), message(code).into());
    m.insert("resultCode".into(), code.into());
    m
}

fn answer(m: Map<String, Value>) -> Response {
    json_response(StatusCode::OK, &Value::Object(m))
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, String> {
    match m.get(k) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{k} must be a string")),
        None => Err(format!("{k} is required")),
    }
}

/// An integer amount as MoMo takes it: a JSON integer (never a fraction or a string).
fn int_field(m: &Map<String, Value>, k: &str) -> Result<i64, String> {
    m.get(k)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("{k} must be an integer"))
}

/// The orderId rule of gateways.md: `^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$`, <= 200.
pub fn order_id_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty()
        || b.len() > 200
        || !b[0].is_ascii_alphanumeric()
        || !b[b.len() - 1].is_ascii_alphanumeric()
    {
        return false;
    }
    b.iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn extra_data_ok(s: &str) -> bool {
    s.is_empty()
        || base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|v| v.is_object())
}

fn url_ok(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && s.len() <= 1000
}

/// Replays or refuses a repeated requestId; `None` when it is new.
fn replay(shared: &Shared, partner: &str, request_id: &str, order_id: &str) -> Option<Response> {
    let st = shared.state();
    let (v, fin) = st
        .momo
        .requests
        .get(&(partner.to_owned(), request_id.to_owned()))?;
    if *fin {
        return Some(json_response(StatusCode::OK, v));
    }
    Some(answer(result(partner, request_id, order_id, None, 40)))
}

fn remember(shared: &Shared, partner: &str, request_id: &str, m: &Map<String, Value>) {
    let code = m.get("resultCode").and_then(Value::as_i64).unwrap_or(99);
    let mut st = shared.state();
    if st.momo.requests.len() < shared.cfg.max_orders.saturating_mul(4) {
        st.momo.requests.insert(
            (partner.to_owned(), request_id.to_owned()),
            (Value::Object(m.clone()), is_final(code)),
        );
    }
}

/// A verified request: its fields, the partner's access and secret keys.
type Verified<'a> = (Map<String, Value>, &'a str, &'a [u8]);

/// Checks the common head of every request: JSON object, partner, signature over `fields`.
/// Returns the map and the partner's access key.
fn verify<'a>(
    shared: &'a Shared,
    body: &[u8],
    fields: &[&str],
) -> Result<Verified<'a>, Box<Response>> {
    let bad = |msg: String, m: Option<&Map<String, Value>>| {
        let s = |k: &str| {
            m.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut r = result(&s("partnerCode"), &s("requestId"), &s("orderId"), None, 20);
        r.insert("message".into(), format!("{} {msg}", message(20)).into());
        Box::new(answer(r))
    };
    let m = json_object(body).map_err(|e| bad(e, None))?;
    for k in ["partnerCode", "requestId", "signature"] {
        str_field(&m, k).map_err(|e| bad(e, Some(&m)))?;
    }
    let partner = str_field(&m, "partnerCode").unwrap_or("");
    let request_id = str_field(&m, "requestId").unwrap_or("");
    if request_id.is_empty() || request_id.len() > 50 {
        return Err(bad("requestId: 1..=50 characters".into(), Some(&m)));
    }
    let mut pairs = Vec::new();
    for k in fields {
        let v = match m.get(*k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_i64() => n.to_string(),
            Some(_) => return Err(bad(format!("{k} has the wrong type"), Some(&m))),
            None => return Err(bad(format!("{k} is required"), Some(&m))),
        };
        pairs.push((*k, v));
    }
    let order_id = m.get("orderId").and_then(Value::as_str).unwrap_or("");
    let Some((ak, sk)) = keys(shared, partner) else {
        return Err(Box::new(answer(result(
            partner, request_id, order_id, None, 13,
        ))));
    };
    let raw = raw_string(ak, &pairs);
    if !mac_matches(
        &hmac_sha256_hex(sk, raw.as_bytes()),
        str_field(&m, "signature").unwrap_or(""),
    ) {
        return Err(Box::new(answer(result(
            partner, request_id, order_id, None, 13,
        ))));
    }
    Ok((m, ak, sk))
}

const CREATE_FIELDS: &[&str] = &[
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
];

/// POST /momo/v2/gateway/api/create
pub(crate) async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let now = OffsetDateTime::now_utc();
    let (m, _, _) = match verify(&shared, &body, CREATE_FIELDS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (partner, request_id, order_id) = (s("partnerCode"), s("requestId"), s("orderId"));
    if let Some(r) = replay(&shared, &partner, &request_id, &order_id) {
        return r;
    }
    let amount = int_field(&m, "amount").ok();
    let finish = |code: i64, extra: Option<(String, String)>| {
        let mut r = result(&partner, &request_id, &order_id, amount, code);
        if let Some((pay_url, sid)) = extra {
            r.insert("payUrl".into(), pay_url.into());
            r.insert(
                "deeplink".into(),
                format!(
                    "momo://app?action=payWithApp&isScanQR=false&serviceType=app&sid={sid}&v=3.0"
                )
                .into(),
            );
            r.insert(
                "qrCodeUrl".into(),
                format!(
                    "momo://app?action=payWithApp&isScanQR=true&serviceType=qr&sid={sid}&v=3.0"
                )
                .into(),
            );
        }
        remember(&shared, &partner, &request_id, &r);
        answer(r)
    };
    let lang = m.get("lang").and_then(Value::as_str).unwrap_or("vi");
    if s("requestType") != "captureWallet"
        || !matches!(lang, "vi" | "en")
        || !extra_data_ok(&s("extraData"))
        || !url_ok(&s("ipnUrl"))
        || !url_ok(&s("redirectUrl"))
        || s("orderInfo").is_empty()
        || s("orderInfo").chars().count() > 255
    {
        return finish(20, None);
    }
    let Some(amount) = amount else {
        return finish(20, None);
    };
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&amount) {
        return finish(22, None);
    }
    if !order_id_ok(&order_id) {
        return finish(42, None);
    }
    {
        let mut st = shared.state();
        if st.momo.orders.contains_key(&order_id) || st.momo.refund_order_ids.contains(&order_id) {
            drop(st);
            return finish(41, None);
        }
        if st.momo.orders.len() >= shared.cfg.max_orders {
            drop(st);
            return finish(99, None);
        }
        let core = OrderCore::new(
            Gw::Momo,
            &partner,
            &order_id,
            amount,
            &s("orderInfo"),
            (now, now + time::Duration::seconds(WINDOW_SECS)),
            "1000",
        );
        st.momo.orders.insert(
            order_id.clone(),
            MomoOrder {
                core,
                request_id: request_id.clone(),
                redirect_url: s("redirectUrl"),
                ipn_url: s("ipnUrl"),
                extra_data: s("extraData"),
                pay_type: String::new(),
            },
        );
    }
    let pay_url = format!("{}/momo/pay/{}", shared.public_url(), vnp_encode(&order_id));
    let sid = hex::encode(
        &ring::digest::digest(&ring::digest::SHA256, order_id.as_bytes()).as_ref()[..12],
    );
    finish(0, Some((pay_url, sid)))
}

/// GET /momo/pay/{orderId}: the payUrl page.
pub(crate) async fn pay_page(
    State(shared): State<Arc<Shared>>,
    Path(order_id): Path<String>,
) -> Response {
    let mut st = shared.state();
    match st.momo.orders.get_mut(&order_id) {
        Some(o) => {
            refresh(o, OffsetDateTime::now_utc());
            super::pay_page(&o.core)
        }
        None => page(
            StatusCode::NOT_FOUND,
            "MoMo",
            "<p>Không tìm thấy giao dịch.</p>",
        ),
    }
}

pub(crate) fn refresh(o: &mut MomoOrder, now: OffsetDateTime) {
    if o.core.status == Status::Pending && now >= o.core.expires_at {
        o.core.status = Status::Expired;
        o.core.result_code = "1005".into();
        o.core.finished_at = Some(o.core.expires_at);
    }
}

pub(crate) fn outcome_code(outcome: super::Outcome, code: Option<&str>) -> Result<String, String> {
    use super::Outcome::*;
    Ok(match (outcome, code) {
        (Pay, _) => "0".into(),
        (Cancel, _) => "1006".into(),
        (Expire, _) => "1005".into(),
        (Fail, None) => "1001".into(),
        (Fail, Some(c)) if c.parse::<u32>().is_ok_and(|n| n != 0 && n < 100_000) => c.into(),
        (Fail, Some(c)) => {
            return Err(format!("MoMo failure code {c:?} must be a non-zero number"))
        }
    })
}

pub(crate) fn on_final(o: &mut MomoOrder, seq: u64) {
    o.core.txn_id = Some((4_100_000_000 + seq as i64).to_string());
    o.pay_type = "qr".into();
}

fn trans_id(o: &MomoOrder) -> i64 {
    o.core
        .txn_id
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// The IPN / redirect fields of a final order, signed (`tamper` breaks the signature).
fn result_fields(ak: &str, sk: &[u8], o: &MomoOrder, tamper: bool) -> Map<String, Value> {
    let code: i64 = o.core.result_code.parse().unwrap_or(99);
    let amount = o.core.paid_amount.unwrap_or(o.core.amount);
    let response_time = unix_ms(o.core.finished_at.unwrap_or_else(OffsetDateTime::now_utc));
    let msg = message(code);
    let pairs: Vec<(&str, String)> = vec![
        ("amount", amount.to_string()),
        ("extraData", o.extra_data.clone()),
        ("message", msg.to_owned()),
        ("orderId", o.core.gateway_ref.clone()),
        ("orderInfo", o.core.order_info.clone()),
        ("orderType", "momo_wallet".to_owned()),
        ("partnerCode", o.core.merchant.clone()),
        ("payType", o.pay_type.clone()),
        ("requestId", o.request_id.clone()),
        ("responseTime", response_time.to_string()),
        ("resultCode", code.to_string()),
        ("transId", trans_id(o).to_string()),
    ];
    let mut sig = hmac_sha256_hex(sk, raw_string(ak, &pairs).as_bytes());
    if tamper {
        super::control::tamper_hex_tail(&mut sig);
    }
    let mut m = Map::new();
    m.insert("partnerCode".into(), o.core.merchant.clone().into());
    m.insert("orderId".into(), o.core.gateway_ref.clone().into());
    m.insert("requestId".into(), o.request_id.clone().into());
    m.insert("amount".into(), amount.into());
    m.insert("orderInfo".into(), o.core.order_info.clone().into());
    m.insert("orderType".into(), "momo_wallet".into());
    m.insert("transId".into(), trans_id(o).into());
    m.insert("resultCode".into(), code.into());
    m.insert("message".into(), msg.into());
    m.insert("payType".into(), o.pay_type.clone().into());
    m.insert("responseTime".into(), response_time.into());
    m.insert("extraData".into(), o.extra_data.clone().into());
    m.insert("signature".into(), sig.into());
    m
}

pub(crate) fn callback(shared: &Shared, o: &MomoOrder, tamper: bool) -> Result<Outbound, String> {
    if o.core.status == Status::Pending {
        return Err("the order is still pending".into());
    }
    let (ak, sk) = keys(shared, &o.core.merchant).ok_or("unknown partner")?;
    Ok(Outbound {
        post: true,
        url: o.ipn_url.clone(),
        body: Value::Object(result_fields(ak, sk, o, tamper))
            .to_string()
            .into_bytes(),
        content_type: Some("application/json"),
        bank_sign: None,
    })
}

pub(crate) fn return_redirect(shared: &Shared, o: &MomoOrder) -> String {
    let Some((ak, sk)) = keys(shared, &o.core.merchant) else {
        return o.redirect_url.clone();
    };
    let q = result_fields(ak, sk, o, false)
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={}", vnp_encode(&v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let sep = if o.redirect_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{q}", o.redirect_url)
}

fn judge(status: Option<u16>, _body: &[u8]) -> Judged {
    if status == Some(204) {
        Judged::Done
    } else {
        Judged::Retry
    }
}

/// One IPN, no retry (MoMo expects 204 within 15 s; the merchant queries if it missed it): an
/// answer other than 204 is only recorded (`accepted: false`).
pub(crate) const POLICY: RetryPolicy = RetryPolicy {
    retries: 0,
    interval: Duration::from_secs(0),
    judge,
};

const QUERY_FIELDS: &[&str] = &["orderId", "partnerCode", "requestId"];

/// POST /momo/v2/gateway/api/query
pub(crate) async fn query(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let (m, _, _) = match verify(&shared, &body, QUERY_FIELDS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (partner, request_id, order_id) = (s("partnerCode"), s("requestId"), s("orderId"));
    if let Some(r) = replay(&shared, &partner, &request_id, &order_id) {
        return r;
    }
    let hang = {
        let mut st = shared.state();
        match st.momo.orders.get_mut(&order_id) {
            Some(o) if o.core.merchant == partner => {
                std::mem::replace(&mut o.core.timeout_next_query, false)
            }
            _ => false,
        }
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(shared.cfg.query_hang_secs)).await;
    }
    let r = {
        let mut st = shared.state();
        match st
            .momo
            .orders
            .get_mut(&order_id)
            .filter(|o| o.core.merchant == partner)
        {
            None => result(&partner, &request_id, &order_id, None, 42),
            Some(o) => {
                refresh(o, OffsetDateTime::now_utc());
                o.core.queries += 1;
                let code: i64 = o.core.result_code.parse().unwrap_or(99);
                let mut r = result(
                    &partner,
                    &request_id,
                    &order_id,
                    Some(o.core.paid_amount.unwrap_or(o.core.amount)),
                    code,
                );
                r.insert("extraData".into(), o.extra_data.clone().into());
                r.insert("transId".into(), trans_id(o).into());
                r.insert("payType".into(), o.pay_type.clone().into());
                let refunds: Vec<Value> = o
                    .core
                    .refunds
                    .iter()
                    .map(|f| {
                        json!({"orderId": f.refund_ref, "amount": f.amount, "resultCode": 0,
                        "transId": f.refund_txn_id.parse::<i64>().unwrap_or(0),
                        "createdTime": unix_ms(f.created_at)})
                    })
                    .collect();
                r.insert("refundTrans".into(), refunds.into());
                r.insert(
                    "lastUpdated".into(),
                    unix_ms(o.core.finished_at.unwrap_or(o.core.created_at)).into(),
                );
                r
            }
        }
    };
    remember(&shared, &partner, &request_id, &r);
    answer(r)
}

const REFUND_FIELDS: &[&str] = &[
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "transId",
];

/// POST /momo/v2/gateway/api/refund (synchronous: resultCode 0 means refunded).
pub(crate) async fn refund(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let now = OffsetDateTime::now_utc();
    let (m, _, _) = match verify(&shared, &body, REFUND_FIELDS) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (partner, request_id, refund_order_id) = (s("partnerCode"), s("requestId"), s("orderId"));
    if let Some(r) = replay(&shared, &partner, &request_id, &refund_order_id) {
        return r;
    }
    let amount = int_field(&m, "amount").ok();
    let trans = int_field(&m, "transId").ok();
    let finish = |code: i64, trans_out: Option<i64>| {
        let mut r = result(&partner, &request_id, &refund_order_id, amount, code);
        if let Some(t) = trans_out {
            r.insert("transId".into(), t.into());
        }
        remember(&shared, &partner, &request_id, &r);
        answer(r)
    };
    let (Some(amount), Some(trans)) = (amount, trans) else {
        return finish(20, None);
    };
    if !order_id_ok(&refund_order_id) {
        return finish(42, None);
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&amount) {
        return finish(22, None);
    }
    let mut st = shared.state();
    if st.momo.orders.contains_key(&refund_order_id)
        || st.momo.refund_order_ids.contains(&refund_order_id)
    {
        drop(st);
        return finish(41, None);
    }
    let seq = st.next_seq();
    let Some(key) = st.momo.by_trans.get(&trans).cloned() else {
        drop(st);
        return finish(42, None);
    };
    let Some(o) = st
        .momo
        .orders
        .get_mut(&key)
        .filter(|o| o.core.merchant == partner)
    else {
        drop(st);
        return finish(42, None);
    };
    if o.core.status != Status::Succeeded {
        drop(st);
        return finish(1080, None);
    }
    if amount > o.core.refundable() || o.core.refunds.len() >= super::MAX_REFUNDS {
        drop(st);
        return finish(1081, None);
    }
    let refund_trans = 4_100_000_000 + seq as i64;
    o.core.refunds.push(RefundRec {
        refund_ref: refund_order_id.clone(),
        amount,
        status: Status::Succeeded,
        refund_txn_id: refund_trans.to_string(),
        created_at: now,
        done_at: Some(now),
    });
    st.momo.refund_order_ids.insert(refund_order_id.clone());
    drop(st);
    finish(0, Some(refund_trans))
}

/// Indexes a paid order by its transId (refunds name the payment by transId).
pub(crate) fn index_trans(st: &mut MomoState, order_id: &str) {
    if let Some(t) = st.orders.get(order_id).map(trans_id).filter(|t| *t != 0) {
        st.by_trans.insert(t, order_id.to_owned());
    }
}
