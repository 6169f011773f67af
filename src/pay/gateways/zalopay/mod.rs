//! ZaloPay API v2: create, callback, query, asynchronous refund and query_refund.
//!
//! Requests carry `mac` = hex HMAC-SHA256(key1, fields joined with `|`); the callback's mac is
//! HMAC-SHA256(key2, `data` exactly as received, never re-serialised). app_trans_id is
//! `yymmdd_` (Vietnam date of the attempt) + our attempt ref. Create and refund are never
//! retried blindly (app_trans_id / m_refund_id make a repeat a duplicate, not a replay); a
//! refund that is processing, or refused as a duplicate of one already sent, is settled by
//! query_refund. `refund()` may be called again with the same request to learn a pending
//! refund's outcome: the same day it re-sends the same m_refund_id (ZaloPay answers with that
//! refund's state), on a later day it only asks query_refund.
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::pay::connector::{
    CallbackAnswer, CallbackInput, CallbackVerdict, Connector, GatewayError, GatewayKind,
    GatewayReport, HttpAnswer, QueryRequest, RefundOutcome, RefundRequest, ReportedStatus,
    StartOutcome, StartRequest,
};

use super::transport::{json_object, Body, HttpConfig, Retry, Transport};
use super::{json_int, json_text, Clock};

/// How request bodies are sent: ZaloPay's documentation uses form fields; it also takes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    #[default]
    Form,
    Json,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZalopayConfig {
    /// e.g. `https://sb-openapi.zalopay.vn`; calls go to `{base_url}/v2/{create,query,refund,query_refund}`.
    pub base_url: String,
    pub app_id: u32,
    #[serde(default = "default_app_user")]
    pub app_user: String,
    pub key1: Option<SecretString>,
    pub key1_env: Option<String>,
    pub key2: Option<SecretString>,
    pub key2_env: Option<String>,
    #[serde(default)]
    pub body_encoding: BodyEncoding,
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_app_user() -> String {
    "antin".into()
}

pub const MIN_EXPIRE_SECS: i64 = 300;
pub const MAX_EXPIRE_SECS: i64 = 2_592_000;

/// `yymmdd_` (Vietnam time) + our ref.
pub fn app_trans_id(created_at: OffsetDateTime, attempt_ref: &str) -> String {
    format!("{}_{attempt_ref}", super::vn_yymmdd(created_at))
}

pub fn mac(key1: &[u8], parts: &[&str]) -> String {
    super::hmac_hex(hmac::HMAC_SHA256, key1, parts.join("|").as_bytes())
}

/// The create request's fields (mac included), in ZaloPay's order.
pub fn create_fields(
    key1: &[u8],
    app_id: u32,
    app_user: &str,
    req: &StartRequest,
) -> Vec<(String, String)> {
    let app_id = app_id.to_string();
    let trans = app_trans_id(req.created_at, &req.attempt_ref);
    let app_time = super::unix_ms(req.created_at).to_string();
    let expire = (req.expires_at - req.created_at)
        .whole_seconds()
        .clamp(MIN_EXPIRE_SECS, MAX_EXPIRE_SECS)
        .to_string();
    let amount = req.amount_vnd.to_string();
    let mut embed = Map::new();
    embed.insert("redirecturl".into(), Value::String(req.return_url.clone()));
    let embed_data = Value::Object(embed).to_string();
    let item = "[]".to_owned();
    let m = mac(
        key1,
        &[
            &app_id,
            &trans,
            app_user,
            &amount,
            &app_time,
            &embed_data,
            &item,
        ],
    );
    vec![
        ("app_id".into(), app_id),
        ("app_user".into(), app_user.into()),
        ("app_trans_id".into(), trans),
        ("app_time".into(), app_time),
        ("expire_duration_seconds".into(), expire),
        ("amount".into(), amount),
        ("item".into(), item),
        ("embed_data".into(), embed_data),
        (
            "description".into(),
            super::text::truncate_chars(&req.order_info, 256),
        ),
        ("bank_code".into(), String::new()),
        ("callback_url".into(), req.callback_url.clone()),
        ("mac".into(), m),
    ]
}

fn return_code(o: &Map<String, Value>) -> Option<i64> {
    o.get("return_code").and_then(Value::as_i64)
}

fn sub_code(o: &Map<String, Value>) -> Option<i64> {
    o.get("sub_return_code").and_then(Value::as_i64)
}

fn message(o: &Map<String, Value>) -> String {
    let sub = json_text(o.get("sub_return_message"));
    if sub.is_empty() {
        json_text(o.get("return_message"))
    } else {
        sub
    }
}

/// Sub-codes that mean "no usable answer" rather than a refusal: -500 (server error), -999
/// (maintenance), -402 (bad app or signature: our configuration, not the order).
fn is_no_answer(sub: Option<i64>) -> bool {
    matches!(sub, Some(-500 | -999 | -402))
}

pub fn create_outcome(gateway_ref: &str, o: &Map<String, Value>) -> Result<StartOutcome, String> {
    match return_code(o) {
        Some(1) => {
            let url = json_text(o.get("order_url"));
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err("no order_url".into());
            }
            Ok(StartOutcome::Redirect {
                url,
                gateway_ref: gateway_ref.into(),
            })
        }
        Some(2) if !is_no_answer(sub_code(o)) && sub_code(o) != Some(-68) => {
            Ok(StartOutcome::Rejected {
                code: sub_code(o).unwrap_or(2).to_string(),
                message: message(o),
            })
        }
        other => Err(format!(
            "create answered {other:?}/{:?}: {}",
            sub_code(o),
            message(o)
        )),
    }
}

/// Verifies and parses a callback `{"data":"..","mac":"..","type":1}`.
pub fn parse_callback_body(key2: &hmac::Key, app_id: u32, body: &[u8]) -> CallbackVerdict {
    if body.len() > super::MAX_CALLBACK_BYTES {
        return CallbackVerdict::Malformed("body too large".into());
    }
    let o = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return CallbackVerdict::Malformed("not a JSON object".into()),
        Err(e) => return CallbackVerdict::Malformed(format!("not JSON: {e}")),
    };
    let (Some(Value::String(data)), Some(Value::String(m))) = (o.get("data"), o.get("mac")) else {
        return CallbackVerdict::Malformed("no data/mac strings".into());
    };
    if !super::hmac_verify_hex(key2, data.as_bytes(), m) {
        return CallbackVerdict::BadSignature;
    }
    // Signed by key2 from here on.
    match o.get("type").and_then(Value::as_i64) {
        Some(1) | None => {}
        Some(t) => {
            return CallbackVerdict::Malformed(format!("callback type {t} is not a payment"))
        }
    }
    let d = match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(d)) => d,
        _ => return CallbackVerdict::Malformed("data is not a JSON object".into()),
    };
    if json_int(d.get("app_id")) != Some(i64::from(app_id)) {
        return CallbackVerdict::Malformed("app_id is not ours".into());
    }
    let trans = json_text(d.get("app_trans_id"));
    if trans.is_empty() {
        return CallbackVerdict::Malformed("no app_trans_id".into());
    }
    let Some(amount_vnd) = json_int(d.get("amount")) else {
        return CallbackVerdict::Malformed("amount is not a whole number of dong".into());
    };
    let zp = json_text(d.get("zp_trans_id"));
    CallbackVerdict::Verified(GatewayReport {
        gateway_ref: trans,
        amount_vnd,
        // ZaloPay calls back for paid orders only.
        status: ReportedStatus::Succeeded,
        gateway_txn_id: (!zp.is_empty()).then_some(zp),
        raw_sha256: super::sha256(body),
        at: json_int(d.get("server_time")).and_then(super::from_unix_ms),
    })
}

/// `{"return_code":N,"return_message":".."}`: 1 taken, 2 already processed, 0 call again, -1 refused.
pub fn callback_answer(answer: CallbackAnswer) -> HttpAnswer {
    let (code, msg) = match answer {
        CallbackAnswer::Confirmed => (1, "success"),
        CallbackAnswer::AlreadyConfirmed => (2, "already processed"),
        CallbackAnswer::OrderNotFound => (-1, "order not found"),
        CallbackAnswer::InvalidAmount => (-1, "invalid amount"),
        CallbackAnswer::InvalidSignature => (-1, "mac not equal"),
        CallbackAnswer::Malformed => (-1, "invalid data"),
        CallbackAnswer::RetryLater => (0, "retry"),
    };
    HttpAnswer {
        status: 200,
        content_type: Some("application/json"),
        body: format!(r#"{{"return_code":{code},"return_message":"{msg}"}}"#).into_bytes(),
    }
}

pub fn query_fields(key1: &[u8], app_id: u32, app_trans_id: &str) -> Vec<(String, String)> {
    let id = app_id.to_string();
    let key1_text = String::from_utf8_lossy(key1).into_owned();
    let m = mac(key1, &[&id, app_trans_id, &key1_text]);
    vec![
        ("app_id".into(), id),
        ("app_trans_id".into(), app_trans_id.into()),
        ("mac".into(), m),
    ]
}

pub fn query_report(
    app_trans_id: &str,
    o: &Map<String, Value>,
    raw: &[u8],
) -> Result<GatewayReport, String> {
    let status = match return_code(o) {
        Some(1) => ReportedStatus::Succeeded,
        Some(3) => ReportedStatus::Pending,
        Some(2) if !is_no_answer(sub_code(o)) && sub_code(o) != Some(-401) => {
            ReportedStatus::Failed {
                code: sub_code(o).unwrap_or(2).to_string(),
            }
        }
        other => {
            return Err(format!(
                "query answered {other:?}/{:?}: {}",
                sub_code(o),
                message(o)
            ))
        }
    };
    let amount_vnd = match (&status, json_int(o.get("amount"))) {
        (_, Some(a)) => a,
        (ReportedStatus::Succeeded, None) => return Err("no amount for a paid order".into()),
        (_, None) => 0,
    };
    let zp = json_text(o.get("zp_trans_id"));
    Ok(GatewayReport {
        gateway_ref: app_trans_id.into(),
        amount_vnd,
        status,
        gateway_txn_id: (!zp.is_empty() && zp != "0").then_some(zp),
        raw_sha256: super::sha256(raw),
        at: json_int(o.get("server_time")).and_then(super::from_unix_ms),
    })
}

/// `yymmdd_appid_` + our refund ref (the date of the refund request, Vietnam time).
pub fn m_refund_id(created_at: OffsetDateTime, app_id: u32, refund_ref: &str) -> String {
    format!("{}_{app_id}_{refund_ref}", super::vn_yymmdd(created_at))
}

pub fn refund_fields(
    key1: &[u8],
    app_id: u32,
    m_refund_id: &str,
    zp_trans_id: &str,
    amount_vnd: i64,
    description: &str,
    timestamp_ms: i64,
) -> Vec<(String, String)> {
    let id = app_id.to_string();
    let amount = amount_vnd.to_string();
    let ts = timestamp_ms.to_string();
    let m = mac(key1, &[&id, zp_trans_id, &amount, description, &ts]);
    vec![
        ("m_refund_id".into(), m_refund_id.into()),
        ("app_id".into(), id),
        ("zp_trans_id".into(), zp_trans_id.into()),
        ("amount".into(), amount),
        ("timestamp".into(), ts),
        ("description".into(), description.into()),
        ("mac".into(), m),
    ]
}

pub fn query_refund_fields(
    key1: &[u8],
    app_id: u32,
    m_refund_id: &str,
    timestamp_ms: i64,
) -> Vec<(String, String)> {
    let id = app_id.to_string();
    let ts = timestamp_ms.to_string();
    let m = mac(key1, &[&id, m_refund_id, &ts]);
    vec![
        ("app_id".into(), id),
        ("m_refund_id".into(), m_refund_id.into()),
        ("timestamp".into(), ts),
        ("mac".into(), m),
    ]
}

/// What a refund or query_refund answer says.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundAnswer {
    Outcome(RefundOutcome),
    /// Refused as a duplicate m_refund_id: the refund was sent before; ask query_refund.
    Duplicate,
}

pub fn refund_answer(o: &Map<String, Value>) -> Result<RefundAnswer, String> {
    let refund_id = json_text(o.get("refund_id"));
    match return_code(o) {
        Some(1) => Ok(RefundAnswer::Outcome(RefundOutcome::Refunded {
            gateway_refund_id: (!refund_id.is_empty() && refund_id != "0").then_some(refund_id),
        })),
        Some(3) => Ok(RefundAnswer::Outcome(RefundOutcome::Pending)),
        Some(2) if sub_code(o) == Some(-68) => Ok(RefundAnswer::Duplicate),
        Some(2) if !is_no_answer(sub_code(o)) => {
            Ok(RefundAnswer::Outcome(RefundOutcome::Rejected {
                code: sub_code(o).unwrap_or(2).to_string(),
                message: message(o),
            }))
        }
        other => Err(format!(
            "refund answered {other:?}/{:?}: {}",
            sub_code(o),
            message(o)
        )),
    }
}

pub struct ZalopayConnector {
    config: ZalopayConfig,
    key1: SecretString,
    key2: hmac::Key,
    transport: Transport,
    clock: Clock,
}

impl ZalopayConnector {
    pub fn new(config: ZalopayConfig) -> Result<Self, GatewayError> {
        let key1 =
            super::secret::resolve("key1", config.key1.as_ref(), config.key1_env.as_deref())?;
        let key2 =
            super::secret::resolve("key2", config.key2.as_ref(), config.key2_env.as_deref())?;
        let key2 = hmac::Key::new(hmac::HMAC_SHA256, key2.expose_secret().as_bytes());
        let base = config.base_url.trim_end_matches('/').to_owned();
        let transport = Transport::new(GatewayKind::Zalopay, &base, &config.http)?;
        Ok(ZalopayConnector {
            config: ZalopayConfig {
                base_url: base,
                ..config
            },
            key1,
            key2,
            transport,
            clock: OffsetDateTime::now_utc,
        })
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn url(&self, op: &str) -> String {
        format!("{}/v2/{op}", self.config.base_url)
    }

    fn body(&self, fields: Vec<(String, String)>) -> Body {
        match self.config.body_encoding {
            BodyEncoding::Form => Body::Form(fields),
            BodyEncoding::Json => Body::Json(Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| {
                        // Integers go as JSON numbers, as ZaloPay's own samples send them.
                        let n = matches!(
                            k.as_str(),
                            "app_id"
                                | "amount"
                                | "app_time"
                                | "expire_duration_seconds"
                                | "timestamp"
                        );
                        let val = match (n, v.parse::<i64>()) {
                            (true, Ok(x)) => Value::from(x),
                            _ => Value::String(v),
                        };
                        (k, val)
                    })
                    .collect(),
            )),
        }
    }

    fn unknown(detail: String) -> GatewayError {
        GatewayError::Unknown {
            gateway: GatewayKind::Zalopay,
            detail,
        }
    }

    /// Asks query_refund about `m_refund_id` (read-only, so retried).
    pub async fn query_refund(&self, m_refund_id: &str) -> Result<RefundOutcome, GatewayError> {
        let key1 = self.key1.expose_secret().as_bytes();
        self.transport
            .call(
                &self.url("query_refund"),
                Retry::Idempotent,
                |_| {
                    let ts = super::unix_ms((self.clock)());
                    self.body(query_refund_fields(
                        key1,
                        self.config.app_id,
                        m_refund_id,
                        ts,
                    ))
                },
                |resp| {
                    let o = json_object(GatewayKind::Zalopay, resp)?;
                    match refund_answer(&o).map_err(Self::unknown)? {
                        RefundAnswer::Outcome(out) => Ok(out),
                        RefundAnswer::Duplicate => {
                            Err(Self::unknown("query_refund answered duplicate".into()))
                        }
                    }
                },
            )
            .await
    }
}

#[async_trait::async_trait]
impl Connector for ZalopayConnector {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Zalopay
    }

    /// ZaloPay knows the order as `yymmdd_<ref>` (GMT+7 day of its creation), not as our ref.
    fn order_ref(&self, attempt_ref: &str, created_at: OffsetDateTime) -> String {
        app_trans_id(created_at, attempt_ref)
    }

    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError> {
        if req.amount_vnd <= 0 {
            return Ok(StartOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        let fields = create_fields(
            self.key1.expose_secret().as_bytes(),
            self.config.app_id,
            &self.config.app_user,
            req,
        );
        let gateway_ref = app_trans_id(req.created_at, &req.attempt_ref);
        self.transport
            .call(
                &self.url("create"),
                Retry::Never,
                |_| self.body(fields.clone()),
                |resp| {
                    let o = json_object(GatewayKind::Zalopay, resp)?;
                    create_outcome(&gateway_ref, &o).map_err(Self::unknown)
                },
            )
            .await
    }

    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict {
        parse_callback_body(&self.key2, self.config.app_id, input.body)
    }

    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer {
        callback_answer(answer)
    }

    async fn query(&self, req: &QueryRequest) -> Result<GatewayReport, GatewayError> {
        let fields = query_fields(
            self.key1.expose_secret().as_bytes(),
            self.config.app_id,
            &req.gateway_ref,
        );
        self.transport
            .call(
                &self.url("query"),
                Retry::Idempotent,
                |_| self.body(fields.clone()),
                |resp| {
                    let o = json_object(GatewayKind::Zalopay, resp)?;
                    query_report(&req.gateway_ref, &o, &resp.body).map_err(Self::unknown)
                },
            )
            .await
    }

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        let Some(zp) = req.gateway_txn_id.as_deref().filter(|z| !z.is_empty()) else {
            return Ok(RefundOutcome::Rejected {
                code: "zp_trans_id".into(),
                message: "a ZaloPay refund needs the payment's zp_trans_id".into(),
            });
        };
        if req.amount_vnd <= 0 {
            return Ok(RefundOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        let id = m_refund_id(req.created_at, self.config.app_id, &req.refund_ref);
        // m_refund_id carries the date the refund was first asked for, and ZaloPay takes only
        // today's: asked again on a later day, the refund can only be looked up (a new
        // m_refund_id could refund twice).
        if !id.starts_with(&super::vn_yymmdd((self.clock)())) {
            return self.query_refund(&id).await;
        }
        let description = {
            let d = super::text::truncate_chars(&req.reason, 100);
            if d.is_empty() {
                format!("Hoan tien {}", req.refund_ref)
            } else {
                d
            }
        };
        let fields = refund_fields(
            self.key1.expose_secret().as_bytes(),
            self.config.app_id,
            &id,
            zp,
            req.amount_vnd,
            &description,
            super::unix_ms((self.clock)()),
        );
        let answer = self
            .transport
            .call(
                &self.url("refund"),
                Retry::Never,
                |_| self.body(fields.clone()),
                |resp| {
                    let o = json_object(GatewayKind::Zalopay, resp)?;
                    refund_answer(&o).map_err(Self::unknown)
                },
            )
            .await?;
        match answer {
            RefundAnswer::Outcome(RefundOutcome::Pending) | RefundAnswer::Duplicate => {
                self.query_refund(&id).await
            }
            RefundAnswer::Outcome(out) => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use time::macros::datetime;

    const KEY1: &str = "ANTINDEVZALOKEY1000000000000000";
    const KEY2: &str = "ANTINDEVZALOKEY2000000000000000";

    fn start() -> StartRequest {
        StartRequest {
            attempt_ref: "A000123".into(),
            amount_vnd: 50_000,
            order_info: "Lệ phí hồ sơ".into(),
            // 23:30 UTC on the 21st is already the 22nd in Vietnam.
            created_at: datetime!(2025-11-21 23:30:00 UTC),
            expires_at: datetime!(2025-11-21 23:31:00 UTC),
            return_url: "https://dvc.example/return".into(),
            callback_url: "https://antin.example/cb/zalopay".into(),
            client_ip: "127.0.0.1".into(),
            lang: Lang::Vi,
        }
    }

    #[test]
    fn create_fields_and_mac() {
        let f = create_fields(KEY1.as_bytes(), 2554, "antin", &start());
        let get = |k: &str| f.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("app_trans_id"), "251122_A000123");
        assert_eq!(get("app_time"), "1763767800000");
        assert_eq!(get("expire_duration_seconds"), "300");
        assert_eq!(
            get("embed_data"),
            r#"{"redirecturl":"https://dvc.example/return"}"#
        );
        assert_eq!(get("item"), "[]");
        let joined = format!(
            "2554|251122_A000123|antin|50000|1763767800000|{}|[]",
            get("embed_data")
        );
        assert_eq!(
            get("mac"),
            super::super::hmac_hex(hmac::HMAC_SHA256, KEY1.as_bytes(), joined.as_bytes())
        );
    }

    fn callback(key2: &str, amount: i64) -> Vec<u8> {
        let data = format!(
            r#"{{"app_id":2554,"app_trans_id":"251122_A000123","app_time":1763767800000,"app_user":"antin","amount":{amount},"embed_data":"{{}}","item":"[]","zp_trans_id":251122000000389,"server_time":1763767900000,"channel":38,"merchant_user_id":"u","user_fee_amount":0,"discount_amount":0}}"#
        );
        let m = super::super::hmac_hex(hmac::HMAC_SHA256, key2.as_bytes(), data.as_bytes());
        serde_json::to_vec(&serde_json::json!({"data": data, "mac": m, "type": 1})).unwrap()
    }

    #[test]
    fn callback_verified_and_parsed() {
        let k = hmac::Key::new(hmac::HMAC_SHA256, KEY2.as_bytes());
        let CallbackVerdict::Verified(r) = parse_callback_body(&k, 2554, &callback(KEY2, 50_000))
        else {
            panic!()
        };
        assert_eq!(r.gateway_ref, "251122_A000123");
        assert_eq!(r.amount_vnd, 50_000);
        assert_eq!(r.gateway_txn_id.as_deref(), Some("251122000000389"));
        assert_eq!(r.at.map(|t| t.unix_timestamp()), Some(1_763_767_900));
        // Signed with key1 instead of key2.
        assert_eq!(
            parse_callback_body(&k, 2554, &callback(KEY1, 50_000)),
            CallbackVerdict::BadSignature
        );
        assert!(matches!(
            parse_callback_body(&k, 2553, &callback(KEY2, 50_000)),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_callback_body(&k, 2554, br#"{"data":1,"mac":"00"}"#),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_callback_body(&k, 2554, b"\xc3\x28"),
            CallbackVerdict::Malformed(_)
        ));
        // The data string re-serialised differently (a space) no longer verifies.
        let body = String::from_utf8(callback(KEY2, 50_000)).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        let spaced = v["data"].as_str().unwrap().replacen(':', ": ", 1);
        let forged = serde_json::json!({"data": spaced, "mac": v["mac"], "type": 1});
        assert_eq!(
            parse_callback_body(&k, 2554, forged.to_string().as_bytes()),
            CallbackVerdict::BadSignature
        );
    }

    #[test]
    fn answers() {
        let code = |a| {
            let v: Value = serde_json::from_slice(&callback_answer(a).body).unwrap();
            v["return_code"].as_i64().unwrap()
        };
        assert_eq!(code(CallbackAnswer::Confirmed), 1);
        assert_eq!(code(CallbackAnswer::AlreadyConfirmed), 2);
        assert_eq!(code(CallbackAnswer::InvalidSignature), -1);
        assert_eq!(code(CallbackAnswer::RetryLater), 0);
        assert_eq!(
            callback_answer(CallbackAnswer::Confirmed).body,
            br#"{"return_code":1,"return_message":"success"}"#
        );
    }

    #[test]
    fn query_refund_macs_and_answers() {
        let f = query_fields(KEY1.as_bytes(), 2554, "251122_A1");
        let joined = format!("2554|251122_A1|{KEY1}");
        assert_eq!(
            f[2].1,
            super::super::hmac_hex(hmac::HMAC_SHA256, KEY1.as_bytes(), joined.as_bytes())
        );
        let id = m_refund_id(datetime!(2025-11-21 23:30:00 UTC), 2554, "R1");
        assert_eq!(id, "251122_2554_R1");
        let f = refund_fields(KEY1.as_bytes(), 2554, &id, "99", 1000, "Hoan tien", 1700);
        assert_eq!(
            f[6].1,
            super::super::hmac_hex(
                hmac::HMAC_SHA256,
                KEY1.as_bytes(),
                b"2554|99|1000|Hoan tien|1700"
            )
        );
        let f = query_refund_fields(KEY1.as_bytes(), 2554, &id, 1700);
        assert_eq!(
            f[3].1,
            super::super::hmac_hex(
                hmac::HMAC_SHA256,
                KEY1.as_bytes(),
                b"2554|251122_2554_R1|1700"
            )
        );
        let o = |v: Value| v.as_object().unwrap().clone();
        let q = o(serde_json::json!({"return_code":1,"amount":50000,"zp_trans_id":7}));
        assert_eq!(
            query_report("x", &q, b"").unwrap().status,
            ReportedStatus::Succeeded
        );
        let q = o(serde_json::json!({"return_code":3,"is_processing":true}));
        assert_eq!(
            query_report("x", &q, b"").unwrap().status,
            ReportedStatus::Pending
        );
        let q = o(serde_json::json!({"return_code":2,"sub_return_code":-999}));
        assert!(query_report("x", &q, b"").is_err());
        let r = o(serde_json::json!({"return_code":2,"sub_return_code":-68}));
        assert_eq!(refund_answer(&r), Ok(RefundAnswer::Duplicate));
        let r = o(serde_json::json!({"return_code":3}));
        assert_eq!(
            refund_answer(&r),
            Ok(RefundAnswer::Outcome(RefundOutcome::Pending))
        );
        let c = o(serde_json::json!({"return_code":2,"sub_return_code":-68}));
        assert!(create_outcome("x", &c).is_err());
        let c = o(serde_json::json!({"return_code":2,"sub_return_code":-401}));
        assert!(matches!(
            create_outcome("x", &c),
            Ok(StartOutcome::Rejected { .. })
        ));
    }
}
