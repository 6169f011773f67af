//! MoMo API v2 ("captureWallet"): create, IPN, query, refund.
//!
//! requestId is MoMo's idempotency key: a repeated requestId replays a final result, so create
//! (requestId = our attempt ref) and refund (requestId = our refund ref) are retried after an
//! unknown outcome with the SAME requestId; for a non-final one MoMo answers "duplicated
//! requestId" (40), which stays unknown (create) or pending (refund). Queries get a fresh
//! requestId per try. MoMo's create/query/refund answers carry no signature in the protocol
//! notes: they are trusted on the TLS channel and checked against what we sent (partnerCode,
//! orderId, requestId, amount); the IPN is signed and verified before anything in it is used.
pub mod sign;
pub mod status;

use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::i18n::Lang;
use crate::pay::connector::{
    CallbackAnswer, CallbackInput, CallbackVerdict, Connector, GatewayError, GatewayKind,
    GatewayReport, HttpAnswer, QueryRequest, RefundOutcome, RefundRequest, ReportedStatus,
    StartOutcome, StartRequest,
};

use super::transport::{json_object, Body, HttpConfig, Retry, Transport};
use super::{json_int, json_text};

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomoConfig {
    /// e.g. `https://test-payment.momo.vn`; calls go to `{base_url}/v2/gateway/api/{create,query,refund}`.
    pub base_url: String,
    pub partner_code: String,
    /// Used in signatures only, never sent.
    pub access_key: String,
    pub secret_key: Option<SecretString>,
    pub secret_key_env: Option<String>,
    #[serde(default)]
    pub http: HttpConfig,
}

/// MoMo's amount limits for captureWallet (VND).
pub const MIN_AMOUNT: i64 = 1_000;
pub const MAX_AMOUNT: i64 = 50_000_000;

fn lang_code(l: Lang) -> &'static str {
    match l {
        Lang::Vi => "vi",
        Lang::En => "en",
    }
}

fn obj(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The create request (signed). orderId = requestId = our attempt ref.
pub fn create_request(
    secret: &[u8],
    access_key: &str,
    partner_code: &str,
    req: &StartRequest,
) -> Value {
    let o = obj(vec![
        ("partnerCode", partner_code.into()),
        ("requestId", req.attempt_ref.clone().into()),
        ("amount", req.amount_vnd.into()),
        ("orderId", req.attempt_ref.clone().into()),
        (
            "orderInfo",
            super::text::truncate_chars(&req.order_info, 255).into(),
        ),
        ("redirectUrl", req.return_url.clone().into()),
        ("ipnUrl", req.callback_url.clone().into()),
        ("requestType", "captureWallet".into()),
        ("extraData", "".into()),
        ("lang", lang_code(req.lang).into()),
    ]);
    sign::signed(secret, access_key, &sign::CREATE_FIELDS, o)
}

fn result_code(o: &Map<String, Value>) -> Option<i64> {
    o.get("resultCode").and_then(Value::as_i64)
}

/// The create answer: `Ok(outcome)` when it is an answer, `Err(detail)` when the outcome is unknown.
pub fn create_outcome(
    partner_code: &str,
    req: &StartRequest,
    o: &Map<String, Value>,
) -> Result<StartOutcome, String> {
    let code = result_code(o).ok_or("no resultCode")?;
    let message = json_text(o.get("message"));
    if code == 0 {
        if json_text(o.get("partnerCode")) != partner_code
            || json_text(o.get("orderId")) != req.attempt_ref
            || json_text(o.get("requestId")) != req.attempt_ref
            || json_int(o.get("amount")) != Some(req.amount_vnd)
        {
            return Err("the answer does not match the order sent".into());
        }
        let url = json_text(o.get("payUrl"));
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("no payUrl".into());
        }
        return Ok(StartOutcome::Redirect {
            url,
            gateway_ref: req.attempt_ref.clone(),
        });
    }
    // 41: the orderId exists already: our earlier try got through, or a duplicate we cannot
    // tell apart; either way the order's state is only known by a query.
    if status::is_no_answer(code) || code == 41 || matches!(code, 1000 | 7000 | 7002) {
        return Err(format!("create answered {code}: {message}"));
    }
    Ok(StartOutcome::Rejected {
        code: code.to_string(),
        message,
    })
}

/// Verifies and parses an IPN body.
pub fn parse_ipn(
    key: &hmac::Key,
    access_key: &str,
    partner_code: &str,
    body: &[u8],
) -> CallbackVerdict {
    if body.len() > super::MAX_CALLBACK_BYTES {
        return CallbackVerdict::Malformed("body too large".into());
    }
    let o = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return CallbackVerdict::Malformed("not a JSON object".into()),
        Err(e) => return CallbackVerdict::Malformed(format!("not JSON: {e}")),
    };
    let Some(Value::String(sig)) = o.get("signature") else {
        return CallbackVerdict::BadSignature;
    };
    // Every signed field must be a string or a number: an object or array would have no
    // canonical text.
    if sign::IPN_FIELDS[1..]
        .iter()
        .any(|f| matches!(o.get(*f), Some(Value::Object(_) | Value::Array(_))))
    {
        return CallbackVerdict::Malformed("a signed field is not a scalar".into());
    }
    let raw = sign::raw(&sign::IPN_FIELDS, access_key, &o);
    if !super::hmac_verify_hex(key, raw.as_bytes(), sig) {
        return CallbackVerdict::BadSignature;
    }
    if json_text(o.get("partnerCode")) != partner_code {
        return CallbackVerdict::Malformed("partnerCode is not ours".into());
    }
    let order_id = json_text(o.get("orderId"));
    if order_id.is_empty() {
        return CallbackVerdict::Malformed("no orderId".into());
    }
    let Some(amount_vnd) = json_int(o.get("amount")) else {
        return CallbackVerdict::Malformed("amount is not a whole number of dong".into());
    };
    let Some(code) = result_code(&o) else {
        return CallbackVerdict::Malformed("resultCode is not an integer".into());
    };
    let trans = json_text(o.get("transId"));
    CallbackVerdict::Verified(GatewayReport {
        gateway_ref: order_id,
        amount_vnd,
        status: status::payment_status(code),
        gateway_txn_id: (!trans.is_empty() && trans != "0").then_some(trans),
        raw_sha256: super::sha256(body),
        at: o
            .get("responseTime")
            .and_then(Value::as_i64)
            .and_then(super::from_unix_ms),
    })
}

/// MoMo expects HTTP 204 once the IPN is taken in; anything else makes it try again.
pub fn ipn_answer(answer: CallbackAnswer) -> HttpAnswer {
    let (status, msg) = match answer {
        // Acknowledged: a retry would change nothing (the domain flags wrong amounts and
        // unknown orders).
        CallbackAnswer::Confirmed
        | CallbackAnswer::AlreadyConfirmed
        | CallbackAnswer::OrderNotFound
        | CallbackAnswer::InvalidAmount => (204, None),
        CallbackAnswer::InvalidSignature => (400, Some("invalid signature")),
        CallbackAnswer::Malformed => (400, Some("malformed request")),
        CallbackAnswer::RetryLater => (503, Some("retry later")),
    };
    match msg {
        None => HttpAnswer {
            status,
            content_type: None,
            body: Vec::new(),
        },
        Some(m) => HttpAnswer {
            status,
            content_type: Some("application/json"),
            body: format!(r#"{{"message":"{m}"}}"#).into_bytes(),
        },
    }
}

pub fn query_request(
    secret: &[u8],
    access_key: &str,
    partner_code: &str,
    request_id: &str,
    order_id: &str,
) -> Value {
    let o = obj(vec![
        ("partnerCode", partner_code.into()),
        ("requestId", request_id.into()),
        ("orderId", order_id.into()),
        ("lang", "vi".into()),
    ]);
    sign::signed(secret, access_key, &sign::QUERY_FIELDS, o)
}

pub fn query_report(
    partner_code: &str,
    order_id: &str,
    o: &Map<String, Value>,
    raw: &[u8],
) -> Result<GatewayReport, String> {
    let code = result_code(o).ok_or("no resultCode")?;
    if status::is_no_answer(code) {
        return Err(format!(
            "query answered {code}: {}",
            json_text(o.get("message"))
        ));
    }
    let pc = json_text(o.get("partnerCode"));
    if (!pc.is_empty() && pc != partner_code) || json_text(o.get("orderId")) != order_id {
        return Err("the answer is about another merchant or order".into());
    }
    let raw_sha256 = super::sha256(raw);
    if code == 42 {
        return Ok(GatewayReport {
            gateway_ref: order_id.into(),
            amount_vnd: 0,
            status: ReportedStatus::NotFound,
            gateway_txn_id: None,
            raw_sha256,
            at: None,
        });
    }
    let amount_vnd = json_int(o.get("amount")).ok_or("amount is not a whole number of dong")?;
    let trans = json_text(o.get("transId"));
    Ok(GatewayReport {
        gateway_ref: order_id.into(),
        amount_vnd,
        status: status::payment_status(code),
        gateway_txn_id: (!trans.is_empty() && trans != "0").then_some(trans),
        raw_sha256,
        at: o
            .get("responseTime")
            .and_then(Value::as_i64)
            .and_then(super::from_unix_ms),
    })
}

/// The refund request: a new orderId and requestId, both our refund ref (so a retry replays).
pub fn refund_request(
    secret: &[u8],
    access_key: &str,
    partner_code: &str,
    req: &RefundRequest,
    trans_id: i64,
) -> Value {
    let description = super::text::truncate_chars(&req.reason, 255);
    let o = obj(vec![
        ("partnerCode", partner_code.into()),
        ("orderId", req.refund_ref.clone().into()),
        ("requestId", req.refund_ref.clone().into()),
        ("amount", req.amount_vnd.into()),
        ("transId", trans_id.into()),
        ("lang", "vi".into()),
        ("description", description.into()),
    ]);
    sign::signed(secret, access_key, &sign::REFUND_FIELDS, o)
}

pub fn refund_outcome(o: &Map<String, Value>) -> Result<RefundOutcome, String> {
    let code = result_code(o).ok_or("no resultCode")?;
    let message = json_text(o.get("message"));
    match code {
        0 => {
            let t = json_text(o.get("transId"));
            Ok(RefundOutcome::Refunded {
                gateway_refund_id: (!t.is_empty()).then_some(t),
            })
        }
        // Still being processed, or a repeat of a refund that is not final yet.
        1000 | 7000 | 7002 | 40 | 43 => Ok(RefundOutcome::Pending),
        c if status::is_no_answer(c) => Err(format!("refund answered {c}: {message}")),
        c => Ok(RefundOutcome::Rejected {
            code: c.to_string(),
            message,
        }),
    }
}

pub struct MomoConnector {
    config: MomoConfig,
    secret: SecretString,
    key: hmac::Key,
    transport: Transport,
}

impl MomoConnector {
    pub fn new(config: MomoConfig) -> Result<Self, GatewayError> {
        let secret = super::secret::resolve(
            "secret_key",
            config.secret_key.as_ref(),
            config.secret_key_env.as_deref(),
        )?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
        let base = config.base_url.trim_end_matches('/').to_owned();
        let transport = Transport::new(GatewayKind::Momo, &base, &config.http)?;
        Ok(MomoConnector {
            config: MomoConfig {
                base_url: base,
                ..config
            },
            secret,
            key,
            transport,
        })
    }

    fn url(&self, op: &str) -> String {
        format!("{}/v2/gateway/api/{op}", self.config.base_url)
    }

    fn unknown(detail: String) -> GatewayError {
        GatewayError::Unknown {
            gateway: GatewayKind::Momo,
            detail,
        }
    }
}

#[async_trait::async_trait]
impl Connector for MomoConnector {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Momo
    }

    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError> {
        if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&req.amount_vnd) {
            return Ok(StartOutcome::Rejected {
                code: "amount".into(),
                message: format!("MoMo takes {MIN_AMOUNT} to {MAX_AMOUNT} VND"),
            });
        }
        let body = create_request(
            self.secret.expose_secret().as_bytes(),
            &self.config.access_key,
            &self.config.partner_code,
            req,
        );
        self.transport
            .call(
                &self.url("create"),
                Retry::Idempotent,
                |_| Body::Json(body.clone()),
                |resp| {
                    let o = json_object(GatewayKind::Momo, resp)?;
                    create_outcome(&self.config.partner_code, req, &o).map_err(Self::unknown)
                },
            )
            .await
    }

    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict {
        parse_ipn(
            &self.key,
            &self.config.access_key,
            &self.config.partner_code,
            input.body,
        )
    }

    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer {
        ipn_answer(answer)
    }

    async fn query(&self, req: &QueryRequest) -> Result<GatewayReport, GatewayError> {
        let secret = self.secret.expose_secret().as_bytes();
        self.transport
            .call(
                &self.url("query"),
                Retry::Idempotent,
                |_| {
                    let rid = uuid::Uuid::new_v4().simple().to_string();
                    Body::Json(query_request(
                        secret,
                        &self.config.access_key,
                        &self.config.partner_code,
                        &rid,
                        &req.gateway_ref,
                    ))
                },
                |resp| {
                    let o = json_object(GatewayKind::Momo, resp)?;
                    query_report(&self.config.partner_code, &req.gateway_ref, &o, &resp.body)
                        .map_err(Self::unknown)
                },
            )
            .await
    }

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        let Some(trans_id) = req.gateway_txn_id.as_deref().and_then(super::parse_digits) else {
            return Ok(RefundOutcome::Rejected {
                code: "transId".into(),
                message: "a MoMo refund needs the payment's transId".into(),
            });
        };
        if req.amount_vnd <= 0 {
            return Ok(RefundOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        let body = refund_request(
            self.secret.expose_secret().as_bytes(),
            &self.config.access_key,
            &self.config.partner_code,
            req,
            trans_id,
        );
        self.transport
            .call(
                &self.url("refund"),
                Retry::Idempotent,
                |_| Body::Json(body.clone()),
                |resp| {
                    let o = json_object(GatewayKind::Momo, resp)?;
                    refund_outcome(&o).map_err(Self::unknown)
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCESS: &str = "ANTINDEVACCESS";
    const SECRET: &str = "ANTINDEVMOMOSECRET00000000000000";

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes())
    }

    fn ipn(result_code: i64, amount: i64) -> Value {
        let o = json!({
            "partnerCode": "MOMOANTIN", "orderId": "A1", "requestId": "A1", "amount": amount,
            "orderInfo": "Lệ phí hồ sơ", "orderType": "momo_wallet", "transId": 4088878653i64,
            "resultCode": result_code, "message": "Thành công.", "payType": "qr",
            "responseTime": 1763782512000i64, "extraData": ""
        });
        sign::signed(
            SECRET.as_bytes(),
            ACCESS,
            &sign::IPN_FIELDS,
            o.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn ipn_verified_and_parsed() {
        let body = serde_json::to_vec(&ipn(0, 50_000)).unwrap();
        let CallbackVerdict::Verified(r) = parse_ipn(&key(), ACCESS, "MOMOANTIN", &body) else {
            panic!()
        };
        assert_eq!(r.gateway_ref, "A1");
        assert_eq!(r.amount_vnd, 50_000);
        assert_eq!(r.status, ReportedStatus::Succeeded);
        assert_eq!(r.gateway_txn_id.as_deref(), Some("4088878653"));
        assert_eq!(r.at.map(|t| t.unix_timestamp()), Some(1_763_782_512));
        let body = serde_json::to_vec(&ipn(1006, 50_000)).unwrap();
        let CallbackVerdict::Verified(r) = parse_ipn(&key(), ACCESS, "MOMOANTIN", &body) else {
            panic!()
        };
        assert_eq!(
            r.status,
            ReportedStatus::Cancelled {
                code: "1006".into()
            }
        );
    }

    #[test]
    fn forged_or_broken_ipns() {
        let mut v = ipn(0, 50_000);
        v["amount"] = json!(5_000);
        let body = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            parse_ipn(&key(), ACCESS, "MOMOANTIN", &body),
            CallbackVerdict::BadSignature
        );
        let body = serde_json::to_vec(&ipn(0, 50_000)).unwrap();
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"other");
        assert_eq!(
            parse_ipn(&other, ACCESS, "MOMOANTIN", &body),
            CallbackVerdict::BadSignature
        );
        assert!(matches!(
            parse_ipn(&key(), ACCESS, "OTHERPARTNER", &body),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_ipn(&key(), ACCESS, "MOMOANTIN", b"\xff{"),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_ipn(&key(), ACCESS, "MOMOANTIN", b"[1]"),
            CallbackVerdict::Malformed(_)
        ));
        let mut v = ipn(0, 50_000);
        v.as_object_mut().unwrap().remove("signature");
        assert_eq!(
            parse_ipn(
                &key(),
                ACCESS,
                "MOMOANTIN",
                &serde_json::to_vec(&v).unwrap()
            ),
            CallbackVerdict::BadSignature
        );
        // A fractional amount signed correctly is still not money we take.
        let body = serde_json::to_vec(&ipn(0, 50_000))
            .unwrap()
            .into_iter()
            .collect::<Vec<u8>>();
        let text = String::from_utf8(body).unwrap();
        let o: Map<String, Value> = serde_json::from_str(&text.replace("50000", "500.5")).unwrap();
        let resigned = sign::signed(SECRET.as_bytes(), ACCESS, &sign::IPN_FIELDS, o);
        assert!(matches!(
            parse_ipn(
                &key(),
                ACCESS,
                "MOMOANTIN",
                &serde_json::to_vec(&resigned).unwrap()
            ),
            CallbackVerdict::Malformed(_)
        ));
    }

    #[test]
    fn answers() {
        assert_eq!(ipn_answer(CallbackAnswer::Confirmed).status, 204);
        assert!(ipn_answer(CallbackAnswer::Confirmed).body.is_empty());
        assert_eq!(ipn_answer(CallbackAnswer::AlreadyConfirmed).status, 204);
        assert_eq!(ipn_answer(CallbackAnswer::InvalidSignature).status, 400);
        assert_eq!(ipn_answer(CallbackAnswer::RetryLater).status, 503);
    }

    fn start() -> StartRequest {
        StartRequest {
            attempt_ref: "A1".into(),
            amount_vnd: 50_000,
            order_info: "Lệ phí".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            expires_at: time::OffsetDateTime::UNIX_EPOCH,
            return_url: "https://r".into(),
            callback_url: "https://c".into(),
            client_ip: "127.0.0.1".into(),
            lang: Lang::Vi,
        }
    }

    #[test]
    fn create_request_and_answers() {
        let v = create_request(SECRET.as_bytes(), ACCESS, "MOMOANTIN", &start());
        let o = v.as_object().unwrap();
        assert!(o.get("accessKey").is_none());
        let raw = sign::raw(&sign::CREATE_FIELDS, ACCESS, o);
        assert_eq!(raw, "accessKey=ANTINDEVACCESS&amount=50000&extraData=&ipnUrl=https://c&orderId=A1&orderInfo=Lệ phí&partnerCode=MOMOANTIN&redirectUrl=https://r&requestId=A1&requestType=captureWallet");
        assert_eq!(o["signature"], sign::sign(SECRET.as_bytes(), &raw));
        let ans = |v: Value| create_outcome("MOMOANTIN", &start(), v.as_object().unwrap());
        let ok = json!({"partnerCode":"MOMOANTIN","orderId":"A1","requestId":"A1","amount":50000,
            "resultCode":0,"message":"ok","payUrl":"https://pay/x"});
        assert_eq!(
            ans(ok.clone()),
            Ok(StartOutcome::Redirect {
                url: "https://pay/x".into(),
                gateway_ref: "A1".into()
            })
        );
        let mut other = ok.clone();
        other["amount"] = json!(1);
        assert!(ans(other).is_err());
        let mut dup = ok.clone();
        dup["resultCode"] = json!(41);
        assert!(ans(dup).is_err());
        let mut limit = ok;
        limit["resultCode"] = json!(1004);
        assert!(matches!(ans(limit), Ok(StartOutcome::Rejected { .. })));
    }

    #[test]
    fn query_and_refund_answers() {
        let q = json!({"partnerCode":"MOMOANTIN","orderId":"A1","requestId":"x","amount":50000,
            "transId":77,"resultCode":1000,"message":"waiting"});
        let r = query_report("MOMOANTIN", "A1", q.as_object().unwrap(), b"").unwrap();
        assert_eq!(r.status, ReportedStatus::Pending);
        let nf = json!({"partnerCode":"MOMOANTIN","orderId":"A1","resultCode":42});
        let r = query_report("MOMOANTIN", "A1", nf.as_object().unwrap(), b"").unwrap();
        assert_eq!(r.status, ReportedStatus::NotFound);
        let busy = json!({"orderId":"A1","resultCode":99});
        assert!(query_report("MOMOANTIN", "A1", busy.as_object().unwrap(), b"").is_err());
        let wrong = json!({"orderId":"A2","resultCode":0,"amount":1});
        assert!(query_report("MOMOANTIN", "A1", wrong.as_object().unwrap(), b"").is_err());
        let ok = json!({"resultCode":0,"transId":99});
        assert_eq!(
            refund_outcome(ok.as_object().unwrap()),
            Ok(RefundOutcome::Refunded {
                gateway_refund_id: Some("99".into())
            })
        );
        let dup = json!({"resultCode":40});
        assert_eq!(
            refund_outcome(dup.as_object().unwrap()),
            Ok(RefundOutcome::Pending)
        );
    }
}
