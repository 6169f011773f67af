//! VNPAY's merchant_webapi (querydr, refund): JSON requests signed with HMAC-SHA512 over the
//! values joined with `|` in a fixed order, and the same check of every response's signature
//! (a response whose signature does not verify is not an answer).
use ring::hmac;
use serde_json::{Map, Value};

use crate::pay::connector::{GatewayReport, RefundOutcome, ReportedStatus};

use super::status::{api_code, query_status, ApiCode};

pub const VERSION: &str = "2.1.0";

pub const QUERYDR_REQUEST_FIELDS: [&str; 9] = [
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

pub const QUERYDR_RESPONSE_FIELDS: [&str; 15] = [
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

pub const REFUND_REQUEST_FIELDS: [&str; 13] = [
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

/// The querydr response order without the two promotion fields.
pub const REFUND_RESPONSE_FIELDS: [&str; 13] = [
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
];

/// `v1|v2|...` of the named fields (a missing value is the empty string).
pub fn joined(fields: &[&str], obj: &Map<String, Value>) -> String {
    fields
        .iter()
        .map(|f| super::super::json_text(obj.get(*f)))
        .collect::<Vec<_>>()
        .join("|")
}

pub fn sign_joined(secret: &[u8], joined: &str) -> String {
    super::super::hmac_hex(hmac::HMAC_SHA512, secret, joined.as_bytes())
}

fn signed(secret: &[u8], fields: &[&str], mut obj: Map<String, Value>) -> Value {
    let hash = sign_joined(secret, &joined(fields, &obj));
    obj.insert("vnp_SecureHash".into(), Value::String(hash));
    Value::Object(obj)
}

/// What a querydr request carries. Dates are `yyyyMMddHHmmss` in Vietnam time.
#[derive(Debug, Clone)]
pub struct Querydr<'a> {
    pub request_id: &'a str,
    pub tmn_code: &'a str,
    pub txn_ref: &'a str,
    /// The original pay request's vnp_CreateDate.
    pub transaction_date: &'a str,
    pub create_date: &'a str,
    pub ip_addr: &'a str,
    pub order_info: &'a str,
    pub transaction_no: Option<&'a str>,
}

pub fn querydr_request(secret: &[u8], q: &Querydr<'_>) -> Value {
    let mut obj = Map::new();
    let mut put = |k: &str, v: &str| {
        obj.insert(k.into(), Value::String(v.into()));
    };
    put("vnp_RequestId", q.request_id);
    put("vnp_Version", VERSION);
    put("vnp_Command", "querydr");
    put("vnp_TmnCode", q.tmn_code);
    put("vnp_TxnRef", q.txn_ref);
    put("vnp_OrderInfo", q.order_info);
    if let Some(no) = q.transaction_no {
        put("vnp_TransactionNo", no);
    }
    put("vnp_TransactionDate", q.transaction_date);
    put("vnp_CreateDate", q.create_date);
    put("vnp_IpAddr", q.ip_addr);
    signed(secret, &QUERYDR_REQUEST_FIELDS, obj)
}

#[derive(Debug, Clone)]
pub struct Refund<'a> {
    pub request_id: &'a str,
    pub tmn_code: &'a str,
    pub full: bool,
    pub txn_ref: &'a str,
    pub amount_vnd: i64,
    pub transaction_no: Option<&'a str>,
    pub transaction_date: &'a str,
    pub create_by: &'a str,
    pub create_date: &'a str,
    pub ip_addr: &'a str,
    pub order_info: &'a str,
}

pub fn refund_request(secret: &[u8], r: &Refund<'_>) -> Value {
    let mut obj = Map::new();
    let mut put = |k: &str, v: String| {
        obj.insert(k.into(), Value::String(v));
    };
    put("vnp_RequestId", r.request_id.into());
    put("vnp_Version", VERSION.into());
    put("vnp_Command", "refund".into());
    put("vnp_TmnCode", r.tmn_code.into());
    put(
        "vnp_TransactionType",
        if r.full { "02" } else { "03" }.into(),
    );
    put("vnp_TxnRef", r.txn_ref.into());
    put("vnp_Amount", (r.amount_vnd.saturating_mul(100)).to_string());
    put("vnp_TransactionNo", r.transaction_no.unwrap_or("").into());
    put("vnp_TransactionDate", r.transaction_date.into());
    put("vnp_CreateBy", r.create_by.into());
    put("vnp_CreateDate", r.create_date.into());
    put("vnp_IpAddr", r.ip_addr.into());
    put("vnp_OrderInfo", r.order_info.into());
    signed(secret, &REFUND_REQUEST_FIELDS, obj)
}

/// Parses a JSON answer and checks its vnp_SecureHash over `fields`; `Err` when it cannot be
/// trusted.
pub fn verified_response(
    key: &hmac::Key,
    fields: &[&str],
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let obj = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err("the answer is not a JSON object".into()),
        Err(e) => return Err(format!("the answer is not JSON: {e}")),
    };
    let Some(Value::String(hash)) = obj.get("vnp_SecureHash") else {
        return Err("the answer has no vnp_SecureHash".into());
    };
    if !super::super::hmac_verify_hex(key, joined(fields, &obj).as_bytes(), hash) {
        return Err("the answer's vnp_SecureHash does not verify".into());
    }
    Ok(obj)
}

fn text(obj: &Map<String, Value>, k: &str) -> String {
    super::super::json_text(obj.get(k))
}

/// VNPAY amounts are VND x 100; anything not a whole number of dong is refused.
pub fn amount_from_x100(s: &str) -> Option<i64> {
    let v = super::super::parse_digits(s)?;
    (v % 100 == 0).then_some(v / 100)
}

/// The querydr answer, already verified, as a report about `txn_ref`.
pub fn querydr_report(
    obj: &Map<String, Value>,
    tmn_code: &str,
    txn_ref: &str,
    raw: &[u8],
) -> Result<GatewayReport, String> {
    let code = text(obj, "vnp_ResponseCode");
    let raw_sha256 = super::super::sha256(raw);
    match api_code(&code) {
        ApiCode::Ok => {}
        ApiCode::NotFound => {
            return Ok(GatewayReport {
                gateway_ref: txn_ref.into(),
                amount_vnd: 0,
                status: ReportedStatus::NotFound,
                gateway_txn_id: None,
                raw_sha256,
                at: None,
            })
        }
        _ => {
            return Err(format!(
                "querydr answered {code}: {}",
                text(obj, "vnp_Message")
            ))
        }
    }
    if text(obj, "vnp_TmnCode") != tmn_code || text(obj, "vnp_TxnRef") != txn_ref {
        return Err("querydr answered about another merchant or order".into());
    }
    let amount_vnd = amount_from_x100(&text(obj, "vnp_Amount"))
        .ok_or_else(|| format!("querydr amount {:?}", text(obj, "vnp_Amount")))?;
    let no = text(obj, "vnp_TransactionNo");
    Ok(GatewayReport {
        gateway_ref: txn_ref.into(),
        amount_vnd,
        status: query_status(&text(obj, "vnp_TransactionStatus")),
        gateway_txn_id: (!no.is_empty() && no != "0").then_some(no),
        raw_sha256,
        at: super::super::parse_vn_compact(&text(obj, "vnp_PayDate")),
    })
}

/// The refund answer, already verified.
pub fn refund_outcome(obj: &Map<String, Value>) -> Result<RefundOutcome, String> {
    let code = text(obj, "vnp_ResponseCode");
    let message = text(obj, "vnp_Message");
    match api_code(&code) {
        ApiCode::Ok => {
            let no = text(obj, "vnp_TransactionNo");
            match text(obj, "vnp_TransactionStatus").as_str() {
                "05" => Ok(RefundOutcome::Pending),
                "09" => Ok(RefundOutcome::Rejected {
                    code: "status:09".into(),
                    message,
                }),
                _ => Ok(RefundOutcome::Refunded {
                    gateway_refund_id: (!no.is_empty()).then_some(no),
                }),
            }
        }
        ApiCode::Duplicate => Ok(RefundOutcome::Pending),
        ApiCode::NotFound | ApiCode::NotRefundable | ApiCode::Refused => {
            Ok(RefundOutcome::Rejected { code, message })
        }
        ApiCode::Other => Err(format!("refund answered {code}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of gateways.md (made-up credentials).
    #[test]
    fn querydr_signature_published_example() {
        let q = Querydr {
            request_id: "REQ20251122001",
            tmn_code: "DEMO0001",
            txn_ref: "HS202511220001",
            transaction_date: "20251122103000",
            create_date: "20251122104500",
            ip_addr: "127.0.0.1",
            order_info: "Truy van giao dich HS202511220001",
            transaction_no: None,
        };
        let v = querydr_request(b"SECRETDEMO", &q);
        let obj = v.as_object().unwrap();
        assert_eq!(
            joined(&QUERYDR_REQUEST_FIELDS, obj),
            "REQ20251122001|2.1.0|querydr|DEMO0001|HS202511220001|20251122103000|20251122104500|127.0.0.1|Truy van giao dich HS202511220001"
        );
        assert_eq!(
            obj["vnp_SecureHash"],
            "5ea2b1e1c8f62667ea64eb9b4f50112e3f8b19380699e858a6d5193c03395ca2829afb6b6ffacc94f8dcfd377f3a74ca5e454e6be37a415c8e00acf3c864d4b1"
        );
    }

    fn signed_answer(secret: &[u8], fields: &[&str], pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut obj = Map::new();
        for (k, v) in pairs {
            obj.insert((*k).into(), Value::String((*v).into()));
        }
        serde_json::to_vec(&signed(secret, fields, obj)).unwrap()
    }

    #[test]
    fn querydr_answer_verified_then_mapped() {
        let key = hmac::Key::new(hmac::HMAC_SHA512, b"S");
        let body = signed_answer(
            b"S",
            &QUERYDR_RESPONSE_FIELDS,
            &[
                ("vnp_ResponseId", "r1"),
                ("vnp_Command", "querydr"),
                ("vnp_ResponseCode", "00"),
                ("vnp_Message", "QueryDR Success"),
                ("vnp_TmnCode", "ANTINDEV"),
                ("vnp_TxnRef", "A1"),
                ("vnp_Amount", "5000000"),
                ("vnp_PayDate", "20251122104500"),
                ("vnp_TransactionNo", "14123456"),
                ("vnp_TransactionType", "01"),
                ("vnp_TransactionStatus", "00"),
            ],
        );
        let obj = verified_response(&key, &QUERYDR_RESPONSE_FIELDS, &body).unwrap();
        let r = querydr_report(&obj, "ANTINDEV", "A1", &body).unwrap();
        assert_eq!(r.amount_vnd, 50_000);
        assert_eq!(r.status, ReportedStatus::Succeeded);
        assert_eq!(r.gateway_txn_id.as_deref(), Some("14123456"));
        assert!(querydr_report(&obj, "ANTINDEV", "A2", &body).is_err());
        // One byte changed: no longer an answer.
        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("5000000", "5000100");
        assert!(verified_response(&key, &QUERYDR_RESPONSE_FIELDS, tampered.as_bytes()).is_err());
        let other_key = hmac::Key::new(hmac::HMAC_SHA512, b"T");
        assert!(verified_response(&other_key, &QUERYDR_RESPONSE_FIELDS, &body).is_err());
        assert!(verified_response(&key, &QUERYDR_RESPONSE_FIELDS, b"\xff\xfe").is_err());
    }

    #[test]
    fn refund_request_and_answers() {
        let r = Refund {
            request_id: "R1",
            tmn_code: "ANTINDEV",
            full: false,
            txn_ref: "A1",
            amount_vnd: 20_000,
            transaction_no: Some("14123456"),
            transaction_date: "20251122103000",
            create_by: "officer1",
            create_date: "20251123090000",
            ip_addr: "127.0.0.1",
            order_info: "Hoan tien",
        };
        let v = refund_request(b"S", &r);
        let obj = v.as_object().unwrap();
        assert_eq!(
            joined(&REFUND_REQUEST_FIELDS, obj),
            "R1|2.1.0|refund|ANTINDEV|03|A1|2000000|14123456|20251122103000|officer1|20251123090000|127.0.0.1|Hoan tien"
        );
        let ans = |code: &str, status: &str| {
            let mut o = Map::new();
            o.insert("vnp_ResponseCode".into(), Value::String(code.into()));
            o.insert("vnp_TransactionStatus".into(), Value::String(status.into()));
            refund_outcome(&o)
        };
        assert!(matches!(
            ans("00", "06"),
            Ok(RefundOutcome::Refunded { .. })
        ));
        assert_eq!(ans("00", "05"), Ok(RefundOutcome::Pending));
        assert_eq!(ans("94", ""), Ok(RefundOutcome::Pending));
        assert!(matches!(ans("95", ""), Ok(RefundOutcome::Rejected { .. })));
        assert!(ans("99", "").is_err());
        assert_eq!(amount_from_x100("1000050"), None);
        assert_eq!(amount_from_x100("1000000"), Some(10_000));
    }
}
