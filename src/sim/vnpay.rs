//! VNPAY PAY API 2.1.0 as gateways.md describes it: the signed pay URL (checked byte for byte: decode
//! the query, re-encode it per the rule, HMAC-SHA512), the payment page, the Return URL redirect,
//! the IPN GET with its 10 retries, and querydr/refund with the `|`-joined request and response hashes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use time::{Date, OffsetDateTime};

use super::sign::{self, get, hmac_sha512_hex, mac_matches};
use super::{
    json_object, json_response, page, pay_page, vn_compact, vn_date, Gw, Judged, OrderCore,
    Outbound, RefundRec, RetryPolicy, Shared, Status,
};

/// A pay URL query longer than this is refused (the real one is well under 2 KiB).
const MAX_QUERY: usize = 8 * 1024;
/// How far vnp_CreateDate may be ahead of the gateway's clock.
const MAX_SKEW_SECS: i64 = 15 * 60;

#[derive(Default)]
pub(crate) struct VnpState {
    pub orders: HashMap<String, VnpOrder>,
    /// vnp_RequestId seen per GMT+7 day (unique per day per merchant).
    request_ids: HashMap<Date, HashSet<(String, String)>>,
}

#[derive(Debug, Clone)]
pub(crate) struct VnpOrder {
    pub core: OrderCore,
    /// vnp_CreateDate as sent: querydr/refund name the order by TxnRef + this date.
    pub create_date: String,
    pub bank_code: String,
    pub card_type: String,
    pub bank_tran_no: String,
    pub return_url: String,
    /// The pay URL's hash: the same URL opened again shows the same order.
    url_hash: String,
}

/// The payment-page error VNPAY would show instead of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayError {
    pub code: &'static str,
    pub message: String,
}

fn pay_err(code: &'static str, message: impl Into<String>) -> PayError {
    PayError {
        code,
        message: message.into(),
    }
}

/// A verified, validated pay request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    pub tmn_code: String,
    pub amount: i64,
    pub txn_ref: String,
    pub order_info: String,
    pub return_url: String,
    pub create_date: String,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
    pub bank_code: String,
    pub hash: String,
}

/// Verifies and validates a pay URL's query (pure). `secret_for` gives a merchant's hash secret.
pub fn parse_pay<'s>(
    query: &str,
    secret_for: impl Fn(&str) -> Option<&'s [u8]>,
    now: OffsetDateTime,
) -> Result<PayRequest, PayError> {
    const BAD: &str = "03";
    if query.len() > MAX_QUERY {
        return Err(pay_err(BAD, "URL quá dài"));
    }
    let pairs = sign::parse_query(query, 64).map_err(|e| pay_err(BAD, e.to_string()))?;
    let field = |k: &str| get(&pairs, k).unwrap_or("");
    let tmn = field("vnp_TmnCode");
    let secret = secret_for(tmn).ok_or_else(|| pay_err("02", "Merchant không hợp lệ"))?;
    let presented = field("vnp_SecureHash");
    let data = sign::vnp_sign_data(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if presented.is_empty() || !mac_matches(&hmac_sha512_hex(secret, data.as_bytes()), presented) {
        return Err(pay_err("70", "Sai chữ ký"));
    }
    let need = |k: &str| -> Result<&str, PayError> {
        match field(k) {
            "" => Err(pay_err(BAD, format!("thiếu {k}"))),
            v => Ok(v),
        }
    };
    if need("vnp_Version")? != "2.1.0" {
        return Err(pay_err(BAD, "vnp_Version phải là 2.1.0"));
    }
    if need("vnp_Command")? != "pay" {
        return Err(pay_err(BAD, "vnp_Command phải là pay"));
    }
    if need("vnp_CurrCode")? != "VND" {
        return Err(pay_err(BAD, "vnp_CurrCode phải là VND"));
    }
    let raw_amount = need("vnp_Amount")?;
    let amount_x100: i64 = (raw_amount.len() <= 15
        && raw_amount.bytes().all(|b| b.is_ascii_digit()))
    .then(|| raw_amount.parse().ok())
    .flatten()
    .ok_or_else(|| pay_err(BAD, "vnp_Amount không hợp lệ"))?;
    if amount_x100 <= 0 || amount_x100 % 100 != 0 {
        return Err(pay_err(BAD, "vnp_Amount phải là số tiền x 100, lớn hơn 0"));
    }
    let txn_ref = need("vnp_TxnRef")?;
    if txn_ref.len() > 100 || !txn_ref.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(pay_err(BAD, "vnp_TxnRef không hợp lệ"));
    }
    let info = need("vnp_OrderInfo")?;
    if info.len() > 255 || !info.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(pay_err(
            BAD,
            "vnp_OrderInfo: tiếng Việt không dấu, không ký tự đặc biệt, <= 255",
        ));
    }
    need("vnp_OrderType")?;
    if !matches!(need("vnp_Locale")?, "vn" | "en") {
        return Err(pay_err(BAD, "vnp_Locale phải là vn hoặc en"));
    }
    let return_url = need("vnp_ReturnUrl")?;
    if !(return_url.starts_with("https://") || return_url.starts_with("http://"))
        || return_url.len() > 1000
    {
        return Err(pay_err(BAD, "vnp_ReturnUrl không hợp lệ"));
    }
    if need("vnp_IpAddr")?.parse::<std::net::IpAddr>().is_err() {
        return Err(pay_err(BAD, "vnp_IpAddr không hợp lệ"));
    }
    let create_date = need("vnp_CreateDate")?;
    let created = super::parse_vn_compact(create_date)
        .ok_or_else(|| pay_err(BAD, "vnp_CreateDate: yyyyMMddHHmmss"))?;
    let expires = super::parse_vn_compact(need("vnp_ExpireDate")?)
        .ok_or_else(|| pay_err(BAD, "vnp_ExpireDate: yyyyMMddHHmmss"))?;
    if expires <= created || (created - now).whole_seconds() > MAX_SKEW_SECS {
        return Err(pay_err(BAD, "vnp_CreateDate/vnp_ExpireDate không hợp lệ"));
    }
    if expires <= now {
        return Err(pay_err("15", "Giao dịch đã quá thời gian chờ thanh toán"));
    }
    Ok(PayRequest {
        tmn_code: tmn.to_owned(),
        amount: amount_x100 / 100,
        txn_ref: txn_ref.to_owned(),
        order_info: info.to_owned(),
        return_url: return_url.to_owned(),
        create_date: create_date.to_owned(),
        created,
        expires,
        bank_code: field("vnp_BankCode").to_owned(),
        hash: presented.to_ascii_lowercase(),
    })
}

/// [`parse_pay`] for one merchant at a unix time (the fuzz target's entry point).
pub fn parse_pay_at(
    query: &str,
    tmn_code: &str,
    secret: &[u8],
    unix_now: i64,
) -> Result<PayRequest, PayError> {
    let now = OffsetDateTime::from_unix_timestamp(unix_now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    parse_pay(query, |t| (t == tmn_code).then_some(secret), now)
}

fn secret<'a>(shared: &'a Shared, tmn: &str) -> Option<&'a [u8]> {
    shared
        .cfg
        .vnpay
        .iter()
        .find(|m| m.tmn_code == tmn)
        .map(|m| m.hash_secret.expose_secret().as_bytes())
}

fn error_page(headers: &HeaderMap, e: &PayError) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"code": e.code, "message": e.message}),
        );
    }
    page(
        StatusCode::BAD_REQUEST,
        "VNPAY — Thông báo lỗi",
        &format!(
            "<p>Mã lỗi: <b id=\"code\">{}</b></p><p>{}</p>",
            e.code,
            super::html_escape(&e.message)
        ),
    )
}

/// GET /vnpay/paymentv2/vpcpay.html
pub(crate) async fn pay(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let req = match parse_pay(q.as_deref().unwrap_or(""), |t| secret(&shared, t), now) {
        Ok(r) => r,
        Err(e) => return error_page(&headers, &e),
    };
    let mut st = shared.state();
    if let Some(o) = st.vnpay.orders.get_mut(&req.txn_ref) {
        if o.url_hash == req.hash {
            refresh(o, now);
            return pay_page(&o.core);
        }
        return error_page(
            &headers,
            &pay_err("01", "Giao dịch đã tồn tại (vnp_TxnRef)"),
        );
    }
    if st.vnpay.orders.len() >= shared.cfg.max_orders {
        return error_page(
            &headers,
            &pay_err("99", "Hệ thống đang bận (giới hạn mô phỏng)"),
        );
    }
    let core = OrderCore::new(
        Gw::Vnpay,
        &req.tmn_code,
        &req.txn_ref,
        req.amount,
        &req.order_info,
        (
            req.created.to_offset(time::UtcOffset::UTC),
            req.expires.to_offset(time::UtcOffset::UTC),
        ),
        "01",
    );
    let order = VnpOrder {
        core,
        create_date: req.create_date,
        bank_code: if req.bank_code.is_empty() {
            "NCB".into()
        } else {
            req.bank_code
        },
        card_type: String::new(),
        bank_tran_no: String::new(),
        return_url: req.return_url,
        url_hash: req.hash,
    };
    let resp = pay_page(&order.core);
    st.vnpay.orders.insert(req.txn_ref, order);
    resp
}

/// Past its expiry a pending order is expired (VNPAY sends no IPN for an abandoned payment).
pub(crate) fn refresh(o: &mut VnpOrder, now: OffsetDateTime) {
    if o.core.status == Status::Pending && now >= o.core.expires_at {
        o.core.status = Status::Expired;
        o.core.result_code = "11".into();
        o.core.finished_at = Some(o.core.expires_at);
    }
}

/// vnp_ResponseCode for an outcome (`code` overrides the failure code).
pub(crate) fn outcome_code(outcome: super::Outcome, code: Option<&str>) -> Result<String, String> {
    use super::Outcome::*;
    Ok(match (outcome, code) {
        (Pay, _) => "00".into(),
        (Cancel, _) => "24".into(),
        (Expire, _) => "11".into(),
        (Fail, None) => "51".into(),
        (Fail, Some(c)) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()) && c != "00" => {
            c.into()
        }
        (Fail, Some(c)) => {
            return Err(format!(
                "VNPAY failure code {c:?} must be two digits, not 00"
            ))
        }
    })
}

/// Fills in what VNPAY records when an order becomes final.
pub(crate) fn on_final(o: &mut VnpOrder, seq: u64) {
    if o.core.status == Status::Expired {
        return;
    }
    o.core.txn_id = Some(format!("{}", 14_000_000 + seq % 86_000_000));
    if o.core.status == Status::Succeeded {
        o.card_type = if o.bank_code == "VNPAYQR" {
            "QRCODE".into()
        } else {
            "ATM".into()
        };
        o.bank_tran_no = format!("VNP{}", 14_000_000 + seq % 86_000_000);
    }
}

fn txn_status(o: &VnpOrder) -> &'static str {
    match o.core.status {
        Status::Succeeded => "00",
        Status::Pending => "01",
        Status::Failed | Status::Cancelled | Status::Expired => "02",
    }
}

/// The IPN / Return URL parameters for a final order.
fn result_pairs(o: &VnpOrder) -> Vec<(String, String)> {
    let amount = o.core.paid_amount.unwrap_or(o.core.amount);
    let mut v = vec![
        ("vnp_Amount", (amount * 100).to_string()),
        ("vnp_BankCode", o.bank_code.clone()),
        ("vnp_BankTranNo", o.bank_tran_no.clone()),
        ("vnp_CardType", o.card_type.clone()),
        ("vnp_OrderInfo", o.core.order_info.clone()),
        (
            "vnp_PayDate",
            o.core.finished_at.map(vn_compact).unwrap_or_default(),
        ),
        ("vnp_ResponseCode", o.core.result_code.clone()),
        ("vnp_TmnCode", o.core.merchant.clone()),
        (
            "vnp_TransactionNo",
            o.core.txn_id.clone().unwrap_or_else(|| "0".into()),
        ),
        ("vnp_TransactionStatus", txn_status(o).to_owned()),
        ("vnp_TxnRef", o.core.gateway_ref.clone()),
    ];
    v.retain(|(_, val)| !val.is_empty());
    v.into_iter().map(|(k, val)| (k.to_owned(), val)).collect()
}

fn signed_result_query(shared: &Shared, o: &VnpOrder, tamper: bool) -> String {
    let key = secret(shared, &o.core.merchant).unwrap_or_default();
    let mut q = sign::vnp_signed_query(&result_pairs(o), key);
    if tamper {
        super::control::tamper_hex_tail(&mut q);
    }
    q
}

fn join_url(base: &str, query: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

/// The IPN for a final order, or `None` when VNPAY sends none (expired) or no IPN URL is set.
pub(crate) fn callback(shared: &Shared, o: &VnpOrder, tamper: bool) -> Result<Outbound, String> {
    if matches!(o.core.status, Status::Pending | Status::Expired) {
        return Err(format!(
            "VNPAY sends no IPN for a {:?} order",
            o.core.status
        ));
    }
    let url = shared
        .url(&format!("vnpay:{}", o.core.merchant))
        .ok_or_else(|| format!("no IPN URL configured for merchant {}", o.core.merchant))?;
    Ok(Outbound {
        post: false,
        url: join_url(&url, &signed_result_query(shared, o, tamper)),
        body: Vec::new(),
        content_type: None,
        bank_sign: None,
    })
}

/// Where the citizen's browser goes after the page.
pub(crate) fn return_redirect(shared: &Shared, o: &VnpOrder) -> String {
    join_url(&o.return_url, &signed_result_query(shared, o, false))
}

fn judge(status: Option<u16>, body: &[u8]) -> Judged {
    let ok = status == Some(200)
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("RspCode").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|c| c == "00" || c == "02");
    if ok {
        Judged::Done
    } else {
        Judged::Retry
    }
}

/// Up to 10 retries, 5 minutes apart, while the answer is not RspCode 00 or 02.
pub(crate) const POLICY: RetryPolicy = RetryPolicy {
    retries: 10,
    interval: Duration::from_secs(300),
    judge,
};

/// PUT /vnpay/sim/ipn-url `{"tmn_code": "..", "url": ".."}`
pub(crate) async fn set_ipn_url(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let m = match json_object(&body) {
        Ok(m) => m,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
    };
    let (Some(tmn), Some(url)) = (
        m.get("tmn_code").and_then(Value::as_str),
        m.get("url").and_then(Value::as_str),
    ) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "need tmn_code and url"}),
        );
    };
    if secret(&shared, tmn).is_none() {
        return json_response(StatusCode::NOT_FOUND, &json!({"error": "unknown tmn_code"}));
    }
    shared
        .urls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(format!("vnpay:{tmn}"), url.to_owned());
    json_response(StatusCode::OK, &json!({"tmn_code": tmn, "url": url}))
}

// ---- querydr and refund ----

const QUERY_REQ: &[&str] = &[
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];
const REFUND_REQ: &[&str] = &[
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];
const QUERY_RESP: &[&str] = &[
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
];

/// HMAC-SHA512 over the values of `order` joined with `|` (a missing value is empty).
pub fn pipe_hash(secret: &[u8], fields: &Map<String, Value>, order: &[&str]) -> String {
    let joined = order
        .iter()
        .map(|k| fields.get(*k).and_then(Value::as_str).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("|");
    hmac_sha512_hex(secret, joined.as_bytes())
}

/// A response: every field of the command's response order present (empty when unknown), signed.
fn api_response(
    shared: &Shared,
    command: &str,
    tmn: &str,
    code: &str,
    message: &str,
    values: &[(&str, String)],
) -> Response {
    let order: Vec<&str> = if command == "refund" {
        QUERY_RESP[..13].to_vec()
    } else {
        QUERY_RESP.to_vec()
    };
    let mut m = Map::new();
    for k in &order {
        m.insert((*k).to_owned(), Value::String(String::new()));
    }
    let response_id = hex::encode(uuid::Uuid::new_v4().as_bytes());
    m.insert("vnp_ResponseId".into(), response_id.into());
    m.insert("vnp_Command".into(), command.into());
    m.insert("vnp_ResponseCode".into(), code.into());
    m.insert("vnp_Message".into(), message.into());
    m.insert("vnp_TmnCode".into(), tmn.into());
    for (k, v) in values {
        m.insert((*k).to_owned(), Value::String(v.clone()));
    }
    let hash = match secret(shared, tmn) {
        Some(s) => pipe_hash(s, &m, &order),
        None => String::new(),
    };
    m.insert("vnp_SecureHash".into(), hash.into());
    json_response(StatusCode::OK, &Value::Object(m))
}

/// POST /vnpay/merchant_webapi/api/transaction (querydr and refund).
pub(crate) async fn api(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let now = OffsetDateTime::now_utc();
    let m = match json_object(&body) {
        Ok(m) => m,
        Err(e) => return api_response(&shared, "", "", "03", &e, &[]),
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    let command = s("vnp_Command").to_owned();
    let tmn = s("vnp_TmnCode").to_owned();
    let txn_ref = s("vnp_TxnRef").to_owned();
    let bad = |msg: &str| {
        api_response(
            &shared,
            &command,
            &tmn,
            "03",
            msg,
            &[("vnp_TxnRef", txn_ref.clone())],
        )
    };
    if m.values().any(|v| !v.is_string()) {
        return bad("every field must be a string");
    }
    let order = match command.as_str() {
        "querydr" => QUERY_REQ,
        "refund" => REFUND_REQ,
        _ => return bad("vnp_Command must be querydr or refund"),
    };
    let Some(key) = secret(&shared, &tmn) else {
        return api_response(&shared, &command, &tmn, "02", "Invalid TmnCode", &[]);
    };
    if !mac_matches(&pipe_hash(key, &m, order), s("vnp_SecureHash")) {
        return api_response(
            &shared,
            &command,
            &tmn,
            "97",
            "Invalid Checksum",
            &[("vnp_TxnRef", txn_ref.clone())],
        );
    }
    let request_id = s("vnp_RequestId");
    if request_id.is_empty() || request_id.len() > 32 {
        return bad("vnp_RequestId: 1..=32 characters");
    }
    if s("vnp_Version") != "2.1.0" {
        return bad("vnp_Version must be 2.1.0");
    }
    if super::parse_vn_compact(s("vnp_CreateDate")).is_none()
        || super::parse_vn_compact(s("vnp_TransactionDate")).is_none()
    {
        return bad("vnp_CreateDate and vnp_TransactionDate: yyyyMMddHHmmss");
    }
    if s("vnp_IpAddr").is_empty() || txn_ref.is_empty() {
        return bad("vnp_IpAddr and vnp_TxnRef are required");
    }
    let refund = if command == "refund" {
        match parse_refund(&m) {
            Ok(r) => Some(r),
            Err(e) => return bad(&e),
        }
    } else {
        None
    };
    // Duplicate request ids are refused per GMT+7 day (after the checksum: a forged request
    // must not burn an id).
    {
        let mut st = shared.state();
        let today = vn_date(now);
        st.vnpay
            .request_ids
            .retain(|d, _| *d >= today.previous_day().unwrap_or(today));
        let seen = st.vnpay.request_ids.entry(today).or_default();
        if seen.len() >= shared.cfg.max_orders.saturating_mul(4) {
            return api_response(
                &shared,
                &command,
                &tmn,
                "99",
                "Too many requests today",
                &[],
            );
        }
        if !seen.insert((tmn.clone(), request_id.to_owned())) {
            return api_response(
                &shared,
                &command,
                &tmn,
                "94",
                "Duplicate request (vnp_RequestId)",
                &[("vnp_TxnRef", txn_ref.clone())],
            );
        }
    }
    let date = s("vnp_TransactionDate").to_owned();
    match refund {
        None => querydr(&shared, &tmn, &txn_ref, &date, now).await,
        Some(r) => do_refund(&shared, &tmn, &txn_ref, &date, r, now),
    }
}

struct RefundIn {
    full: bool,
    amount: i64,
    txn_no: String,
    request_id: String,
}

fn parse_refund(m: &Map<String, Value>) -> Result<RefundIn, String> {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    let full = match s("vnp_TransactionType") {
        "02" => true,
        "03" => false,
        _ => return Err("vnp_TransactionType must be 02 (full) or 03 (partial)".into()),
    };
    let a = s("vnp_Amount");
    let amount_x100: i64 =
        (a.len() <= 15 && !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
            .then(|| a.parse().ok())
            .flatten()
            .ok_or("vnp_Amount must be digits (VND x 100)")?;
    if amount_x100 <= 0 || amount_x100 % 100 != 0 {
        return Err("vnp_Amount must be VND x 100, > 0".into());
    }
    if s("vnp_CreateBy").is_empty() {
        return Err("vnp_CreateBy is required".into());
    }
    Ok(RefundIn {
        full,
        amount: amount_x100 / 100,
        txn_no: s("vnp_TransactionNo").to_owned(),
        request_id: s("vnp_RequestId").to_owned(),
    })
}

async fn querydr(
    shared: &Arc<Shared>,
    tmn: &str,
    txn_ref: &str,
    date: &str,
    now: OffsetDateTime,
) -> Response {
    let hang = {
        let mut st = shared.state();
        match st.vnpay.orders.get_mut(txn_ref) {
            Some(o) if o.core.merchant == tmn && o.create_date == date => {
                std::mem::replace(&mut o.core.timeout_next_query, false)
            }
            _ => false,
        }
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(shared.cfg.query_hang_secs)).await;
    }
    let mut st = shared.state();
    let found = st
        .vnpay
        .orders
        .get_mut(txn_ref)
        .filter(|o| o.core.merchant == tmn && o.create_date == date);
    let Some(o) = found else {
        drop(st);
        return api_response(
            shared,
            "querydr",
            tmn,
            "91",
            "Transaction not found",
            &[("vnp_TxnRef", txn_ref.to_owned())],
        );
    };
    refresh(o, now);
    o.core.queries += 1;
    let (ttype, tstatus) = match (o.core.status, o.core.refunded()) {
        (Status::Succeeded, r) if r > 0 => {
            let paid = o.core.paid_amount.unwrap_or(o.core.amount);
            (if r >= paid { "02" } else { "03" }, "06".to_owned())
        }
        _ => ("01", txn_status(o).to_owned()),
    };
    let values = [
        ("vnp_TxnRef", txn_ref.to_owned()),
        (
            "vnp_Amount",
            (o.core.paid_amount.unwrap_or(o.core.amount) * 100).to_string(),
        ),
        ("vnp_BankCode", o.bank_code.clone()),
        (
            "vnp_PayDate",
            o.core
                .finished_at
                .filter(|_| o.core.status != Status::Expired)
                .map(vn_compact)
                .unwrap_or_default(),
        ),
        (
            "vnp_TransactionNo",
            o.core.txn_id.clone().unwrap_or_default(),
        ),
        ("vnp_TransactionType", ttype.to_owned()),
        ("vnp_TransactionStatus", tstatus),
        ("vnp_OrderInfo", o.core.order_info.clone()),
    ];
    drop(st);
    api_response(shared, "querydr", tmn, "00", "QueryDR Success", &values)
}

fn do_refund(
    shared: &Shared,
    tmn: &str,
    txn_ref: &str,
    date: &str,
    r: RefundIn,
    now: OffsetDateTime,
) -> Response {
    let mut st = shared.state();
    let seq = st.next_seq();
    let found = st
        .vnpay
        .orders
        .get_mut(txn_ref)
        .filter(|o| o.core.merchant == tmn && o.create_date == date)
        .filter(|o| r.txn_no.is_empty() || o.core.txn_id.as_deref() == Some(r.txn_no.as_str()));
    let Some(o) = found else {
        drop(st);
        return api_response(
            shared,
            "refund",
            tmn,
            "91",
            "Transaction not found",
            &[("vnp_TxnRef", txn_ref.to_owned())],
        );
    };
    refresh(o, now);
    let echo = ("vnp_TxnRef", txn_ref.to_owned());
    if o.core.status != Status::Succeeded {
        drop(st);
        return api_response(
            shared,
            "refund",
            tmn,
            "95",
            "Original transaction not successful",
            &[echo],
        );
    }
    let paid = o.core.paid_amount.unwrap_or(o.core.amount);
    let refundable = o.core.refundable();
    if refundable == 0 || o.core.refunds.len() >= super::MAX_REFUNDS {
        drop(st);
        return api_response(
            shared,
            "refund",
            tmn,
            "94",
            "The transaction has been refunded already",
            &[echo],
        );
    }
    if r.amount > refundable || (r.full && (r.amount != paid || o.core.refunded() > 0)) {
        drop(st);
        return api_response(
            shared,
            "refund",
            tmn,
            "03",
            "Invalid refund amount",
            &[echo],
        );
    }
    let refund_no = format!("{}", 14_000_000 + seq % 86_000_000);
    o.core.refunds.push(RefundRec {
        refund_ref: r.request_id,
        amount: r.amount,
        status: Status::Succeeded,
        refund_txn_id: refund_no.clone(),
        created_at: now,
        done_at: Some(now),
    });
    let values = [
        echo,
        ("vnp_Amount", (r.amount * 100).to_string()),
        ("vnp_BankCode", o.bank_code.clone()),
        ("vnp_PayDate", vn_compact(now)),
        ("vnp_TransactionNo", refund_no),
        (
            "vnp_TransactionType",
            if r.full { "02" } else { "03" }.to_owned(),
        ),
        ("vnp_TransactionStatus", "05".to_owned()),
        ("vnp_OrderInfo", o.core.order_info.clone()),
    ];
    drop(st);
    api_response(shared, "refund", tmn, "00", "Refund success", &values)
}
