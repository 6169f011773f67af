//! VNPAY (PAY API 2.1.0): the pay URL, the IPN, querydr and refund.
//!
//! The pay URL and the IPN are signed over the sorted, form-URL-encoded `vnp_*` parameters
//! (`encode`); querydr and refund over `|`-joined values (`api`). An IPN is verified by decoding
//! its query and re-encoding it the same way. A querydr/refund answer whose signature does not
//! verify is not an answer (`Unknown`). querydr is retried (read-only, a fresh vnp_RequestId per
//! try); refund never is (vnp_RequestId is per request, so a repeat would be a second refund).
pub mod api;
pub mod encode;
pub mod status;

use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::i18n::Lang;
use crate::pay::connector::{
    CallbackAnswer, CallbackInput, CallbackVerdict, Connector, GatewayError, GatewayKind,
    GatewayReport, HttpAnswer, QueryRequest, RefundOutcome, RefundRequest, StartOutcome,
    StartRequest,
};

use super::transport::{Body, HttpConfig, Retry, Transport};
use super::{text, Clock};

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnpayConfig {
    /// e.g. `https://sandbox.vnpayment.vn`; the pay URL is `{base_url}/paymentv2/vpcpay.html`,
    /// the API `{base_url}/merchant_webapi/api/transaction`.
    pub base_url: String,
    pub tmn_code: String,
    pub hash_secret: Option<SecretString>,
    pub hash_secret_env: Option<String>,
    #[serde(default = "default_order_type")]
    pub order_type: String,
    /// vnp_BankCode to preselect (VNPAYQR, VNBANK, INTCARD or a bank code); none lets the
    /// citizen choose on VNPAY's page.
    #[serde(default)]
    pub bank_code: Option<String>,
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_order_type() -> String {
    "other".into()
}

/// The fixed parameters of a pay URL (everything but vnp_SecureHash), in the order VNPAY lists
/// them; the signature sorts them anyway.
pub fn pay_params(
    tmn_code: &str,
    order_type: &str,
    bank_code: Option<&str>,
    req: &StartRequest,
) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("vnp_Version", api::VERSION.to_owned()),
        ("vnp_Command", "pay".to_owned()),
        ("vnp_TmnCode", tmn_code.to_owned()),
        ("vnp_Amount", req.amount_vnd.saturating_mul(100).to_string()),
        ("vnp_CurrCode", "VND".to_owned()),
        ("vnp_TxnRef", req.attempt_ref.clone()),
        (
            "vnp_OrderInfo",
            order_info(&req.order_info, &req.attempt_ref),
        ),
        ("vnp_OrderType", order_type.to_owned()),
        (
            "vnp_Locale",
            match req.lang {
                Lang::Vi => "vn",
                Lang::En => "en",
            }
            .to_owned(),
        ),
        ("vnp_ReturnUrl", req.return_url.clone()),
        ("vnp_IpAddr", req.client_ip.clone()),
        ("vnp_CreateDate", super::vn_compact(req.created_at)),
        ("vnp_ExpireDate", super::vn_compact(req.expires_at)),
    ];
    if let Some(b) = bank_code.filter(|b| !b.is_empty()) {
        p.push(("vnp_BankCode", b.to_owned()));
    }
    p
}

/// vnp_OrderInfo: Vietnamese without diacritics or special characters, at most 255 bytes; never
/// empty (VNPAY requires it).
pub fn order_info(info: &str, attempt_ref: &str) -> String {
    let s = text::plain_ascii(info, 255);
    if s.is_empty() {
        format!("Thanh toan {attempt_ref}")
    } else {
        s
    }
}

/// Verifies and parses an IPN query string. `tmn_code` must be ours.
pub fn parse_ipn(key: &hmac::Key, tmn_code: &str, raw_query: &str) -> CallbackVerdict {
    if raw_query.len() > super::MAX_CALLBACK_BYTES {
        return CallbackVerdict::Malformed("query string too long".into());
    }
    let params = match encode::parse_query(raw_query) {
        Ok(p) => p,
        Err(e) => return CallbackVerdict::Malformed(e),
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(hash) = get("vnp_SecureHash") else {
        return CallbackVerdict::BadSignature;
    };
    let data = encode::signing_string(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !super::hmac_verify_hex(key, data.as_bytes(), hash) {
        return CallbackVerdict::BadSignature;
    }
    // Signed by our secret from here on.
    if get("vnp_TmnCode") != Some(tmn_code) {
        return CallbackVerdict::Malformed("vnp_TmnCode is not ours".into());
    }
    let Some(txn_ref) = get("vnp_TxnRef").filter(|r| !r.is_empty()) else {
        return CallbackVerdict::Malformed("no vnp_TxnRef".into());
    };
    let Some(amount_vnd) = get("vnp_Amount").and_then(api::amount_from_x100) else {
        return CallbackVerdict::Malformed("vnp_Amount is not a whole number of dong x 100".into());
    };
    let (Some(rc), Some(ts)) = (get("vnp_ResponseCode"), get("vnp_TransactionStatus")) else {
        return CallbackVerdict::Malformed("no vnp_ResponseCode/vnp_TransactionStatus".into());
    };
    let no = get("vnp_TransactionNo").unwrap_or("");
    CallbackVerdict::Verified(GatewayReport {
        gateway_ref: txn_ref.to_owned(),
        amount_vnd,
        status: status::ipn_status(rc, ts),
        gateway_txn_id: (!no.is_empty() && no != "0").then(|| no.to_owned()),
        raw_sha256: super::sha256(raw_query.as_bytes()),
        at: get("vnp_PayDate").and_then(super::parse_vn_compact),
    })
}

/// The merchant's answer to an IPN: `{"RspCode":"..","Message":".."}`. VNPAY stops retrying on
/// 00 and 02.
pub fn ipn_answer(answer: CallbackAnswer) -> HttpAnswer {
    let (code, message) = match answer {
        CallbackAnswer::Confirmed => ("00", "Confirm Success"),
        CallbackAnswer::AlreadyConfirmed => ("02", "Order already confirmed"),
        CallbackAnswer::OrderNotFound => ("01", "Order not found"),
        CallbackAnswer::InvalidAmount => ("04", "invalid amount"),
        CallbackAnswer::InvalidSignature => ("97", "Invalid signature"),
        CallbackAnswer::Malformed => ("99", "Invalid request"),
        CallbackAnswer::RetryLater => ("99", "Unknown error"),
    };
    HttpAnswer {
        status: 200,
        content_type: Some("application/json"),
        // Constant ASCII values: no escaping needed; VNPAY's own field order.
        body: format!(r#"{{"RspCode":"{code}","Message":"{message}"}}"#).into_bytes(),
    }
}

pub struct VnpayConnector {
    config: VnpayConfig,
    secret: SecretString,
    key: hmac::Key,
    transport: Transport,
    clock: Clock,
}

impl VnpayConnector {
    pub fn new(config: VnpayConfig) -> Result<Self, GatewayError> {
        let secret = super::secret::resolve(
            "hash_secret",
            config.hash_secret.as_ref(),
            config.hash_secret_env.as_deref(),
        )?;
        let key = hmac::Key::new(hmac::HMAC_SHA512, secret.expose_secret().as_bytes());
        let base = config.base_url.trim_end_matches('/').to_owned();
        let transport = Transport::new(GatewayKind::Vnpay, &base, &config.http)?;
        Ok(VnpayConnector {
            config: VnpayConfig {
                base_url: base,
                ..config
            },
            secret,
            key,
            transport,
            clock: OffsetDateTime::now_utc,
        })
    }

    /// Tests: a fixed clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn api_url(&self) -> String {
        format!("{}/merchant_webapi/api/transaction", self.config.base_url)
    }

    fn unknown(detail: String) -> GatewayError {
        GatewayError::Unknown {
            gateway: GatewayKind::Vnpay,
            detail,
        }
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[async_trait::async_trait]
impl Connector for VnpayConnector {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Vnpay
    }

    /// Building the pay URL needs no call to VNPAY.
    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError> {
        if req.amount_vnd <= 0 {
            return Ok(StartOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        let params = pay_params(
            &self.config.tmn_code,
            &self.config.order_type,
            self.config.bank_code.as_deref(),
            req,
        );
        let url = encode::pay_url(
            &format!("{}/paymentv2/vpcpay.html", self.config.base_url),
            self.secret.expose_secret().as_bytes(),
            &params,
        );
        Ok(StartOutcome::Redirect {
            url,
            gateway_ref: req.attempt_ref.clone(),
        })
    }

    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict {
        let Some(q) = input.query.filter(|q| !q.is_empty()) else {
            return CallbackVerdict::Malformed("the IPN has no query string".into());
        };
        parse_ipn(&self.key, &self.config.tmn_code, q)
    }

    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer {
        ipn_answer(answer)
    }

    async fn query(&self, req: &QueryRequest) -> Result<GatewayReport, GatewayError> {
        let secret = self.secret.expose_secret().as_bytes();
        let transaction_date = super::vn_compact(req.created_at);
        let order_info = format!("Truy van giao dich {}", req.gateway_ref);
        let build = |_try| {
            let create_date = super::vn_compact((self.clock)());
            let rid = request_id();
            Body::Json(api::querydr_request(
                secret,
                &api::Querydr {
                    request_id: &rid,
                    tmn_code: &self.config.tmn_code,
                    txn_ref: &req.gateway_ref,
                    transaction_date: &transaction_date,
                    create_date: &create_date,
                    ip_addr: &req.client_ip,
                    order_info: &order_info,
                    transaction_no: req.gateway_txn_id.as_deref(),
                },
            ))
        };
        self.transport
            .call(&self.api_url(), Retry::Idempotent, build, |resp| {
                let obj =
                    api::verified_response(&self.key, &api::QUERYDR_RESPONSE_FIELDS, &resp.body)
                        .map_err(|e| Self::unknown(format!("HTTP {}: {e}", resp.status)))?;
                api::querydr_report(&obj, &self.config.tmn_code, &req.gateway_ref, &resp.body)
                    .map_err(Self::unknown)
            })
            .await
    }

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        if req.amount_vnd <= 0 {
            return Ok(RefundOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        let secret = self.secret.expose_secret().as_bytes();
        let transaction_date = super::vn_compact(req.original_created_at);
        let create_date = super::vn_compact((self.clock)());
        let rid = request_id();
        let order_info = order_info(&req.reason, &req.refund_ref);
        let body = api::refund_request(
            secret,
            &api::Refund {
                request_id: &rid,
                tmn_code: &self.config.tmn_code,
                full: req.full,
                txn_ref: &req.gateway_ref,
                amount_vnd: req.amount_vnd,
                transaction_no: req.gateway_txn_id.as_deref(),
                transaction_date: &transaction_date,
                create_by: &req.created_by,
                create_date: &create_date,
                ip_addr: &req.client_ip,
                order_info: &order_info,
            },
        );
        self.transport
            .call(
                &self.api_url(),
                Retry::Never,
                |_| Body::Json(body.clone()),
                |resp| {
                    let obj =
                        api::verified_response(&self.key, &api::REFUND_RESPONSE_FIELDS, &resp.body)
                            .map_err(|e| Self::unknown(format!("HTTP {}: {e}", resp.status)))?;
                    api::refund_outcome(&obj).map_err(Self::unknown)
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pay::connector::ReportedStatus;
    use time::macros::datetime;

    const SECRET: &str = "ANTINDEVVNPAYSECRET0000000000000";

    fn start_request() -> StartRequest {
        StartRequest {
            attempt_ref: "A20251122X1".into(),
            amount_vnd: 10_000,
            order_info: "Lệ phí hồ sơ HS-001 ~*".into(),
            created_at: datetime!(2025-11-22 03:30:00 UTC),
            expires_at: datetime!(2025-11-22 03:45:00 UTC),
            return_url: "https://dvc.example.gov.vn/return?x=1".into(),
            callback_url: "https://antin.example/cb/vnpay".into(),
            client_ip: "203.0.113.7".into(),
            lang: Lang::Vi,
        }
    }

    #[test]
    fn pay_url_is_sorted_encoded_and_signed() {
        let params = pay_params("ANTINDEV", "other", None, &start_request());
        let url = encode::pay_url(
            "https://pay.example/paymentv2/vpcpay.html",
            SECRET.as_bytes(),
            &params,
        );
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://pay.example/paymentv2/vpcpay.html");
        let (data, hash) = query.rsplit_once("&vnp_SecureHash=").unwrap();
        assert_eq!(
            data,
            "vnp_Amount=1000000&vnp_Command=pay&vnp_CreateDate=20251122103000&vnp_CurrCode=VND\
             &vnp_ExpireDate=20251122104500&vnp_IpAddr=203.0.113.7&vnp_Locale=vn\
             &vnp_OrderInfo=Le+phi+ho+so+HS+001&vnp_OrderType=other\
             &vnp_ReturnUrl=https%3A%2F%2Fdvc.example.gov.vn%2Freturn%3Fx%3D1\
             &vnp_TmnCode=ANTINDEV&vnp_TxnRef=A20251122X1&vnp_Version=2.1.0"
        );
        assert_eq!(hash, encode::sign(SECRET.as_bytes(), data));
        assert_eq!(hash.len(), 128);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    fn ipn_query(pairs: &[(&str, &str)], secret: &str) -> String {
        let data = encode::signing_string(pairs.iter().copied());
        format!(
            "{data}&vnp_SecureHash={}",
            encode::sign(secret.as_bytes(), &data)
        )
    }

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA512, SECRET.as_bytes())
    }

    const IPN: &[(&str, &str)] = &[
        ("vnp_TmnCode", "ANTINDEV"),
        ("vnp_Amount", "1000000"),
        ("vnp_BankCode", "NCB"),
        ("vnp_BankTranNo", "VNP14226112"),
        ("vnp_CardType", "ATM"),
        ("vnp_PayDate", "20251122103512"),
        ("vnp_OrderInfo", "Le phi ho so HS 001"),
        ("vnp_TransactionNo", "14226112"),
        ("vnp_ResponseCode", "00"),
        ("vnp_TransactionStatus", "00"),
        ("vnp_TxnRef", "A20251122X1"),
    ];

    #[test]
    fn ipn_verified_and_parsed() {
        let q = ipn_query(IPN, SECRET);
        let CallbackVerdict::Verified(r) = parse_ipn(&key(), "ANTINDEV", &q) else {
            panic!("not verified");
        };
        assert_eq!(r.gateway_ref, "A20251122X1");
        assert_eq!(r.amount_vnd, 10_000);
        assert_eq!(r.status, ReportedStatus::Succeeded);
        assert_eq!(r.gateway_txn_id.as_deref(), Some("14226112"));
        assert_eq!(r.at, Some(datetime!(2025-11-22 03:35:12 UTC)));
        assert_eq!(r.raw_sha256, super::super::sha256(q.as_bytes()));
        // Lowercase escapes and any parameter order verify the same (decode, then re-encode).
        let reordered = q.replace("Le+phi", "Le%20phi");
        assert!(matches!(
            parse_ipn(&key(), "ANTINDEV", &reordered),
            CallbackVerdict::Verified(_)
        ));
        // vnp_SecureHashType is ignored by the signature.
        let with_type = format!("vnp_SecureHashType=HmacSHA512&{q}");
        assert!(matches!(
            parse_ipn(&key(), "ANTINDEV", &with_type),
            CallbackVerdict::Verified(_)
        ));
    }

    #[test]
    fn forged_or_broken_ipns() {
        let q = ipn_query(IPN, SECRET);
        let wrong_amount = q.replace("vnp_Amount=1000000", "vnp_Amount=100");
        assert_eq!(
            parse_ipn(&key(), "ANTINDEV", &wrong_amount),
            CallbackVerdict::BadSignature
        );
        assert_eq!(
            parse_ipn(&key(), "ANTINDEV", &ipn_query(IPN, "another secret")),
            CallbackVerdict::BadSignature
        );
        let unsigned = encode::signing_string(IPN.iter().copied());
        assert_eq!(
            parse_ipn(&key(), "ANTINDEV", &unsigned),
            CallbackVerdict::BadSignature
        );
        assert!(matches!(
            parse_ipn(&key(), "OTHERTMN", &q),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_ipn(&key(), "ANTINDEV", &format!("{q}&vnp_Amount=1")),
            CallbackVerdict::Malformed(_)
        ));
        assert!(matches!(
            parse_ipn(&key(), "ANTINDEV", "vnp_Amount=%E1%BB"),
            CallbackVerdict::Malformed(_)
        ));
        let mut odd = IPN.to_vec();
        odd[1] = ("vnp_Amount", "1000050");
        assert!(matches!(
            parse_ipn(&key(), "ANTINDEV", &ipn_query(&odd, SECRET)),
            CallbackVerdict::Malformed(_)
        ));
        let mut cancelled = IPN.to_vec();
        cancelled[8] = ("vnp_ResponseCode", "24");
        cancelled[9] = ("vnp_TransactionStatus", "02");
        let CallbackVerdict::Verified(r) =
            parse_ipn(&key(), "ANTINDEV", &ipn_query(&cancelled, SECRET))
        else {
            panic!()
        };
        assert_eq!(r.status, ReportedStatus::Cancelled { code: "24".into() });
    }

    #[test]
    fn answers_in_vnpay_format() {
        let a = ipn_answer(CallbackAnswer::Confirmed);
        assert_eq!(a.status, 200);
        assert_eq!(a.body, br#"{"RspCode":"00","Message":"Confirm Success"}"#);
        let code = |x| {
            let v: serde_json::Value = serde_json::from_slice(&ipn_answer(x).body).unwrap();
            v["RspCode"].as_str().unwrap().to_owned()
        };
        assert_eq!(code(CallbackAnswer::AlreadyConfirmed), "02");
        assert_eq!(code(CallbackAnswer::OrderNotFound), "01");
        assert_eq!(code(CallbackAnswer::InvalidAmount), "04");
        assert_eq!(code(CallbackAnswer::InvalidSignature), "97");
        assert_eq!(code(CallbackAnswer::RetryLater), "99");
    }
}
