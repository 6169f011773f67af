//! VietQR (NAPAS 247 transfer to the agency's account): a dynamic EMVCo payload with the amount
//! and our reference in the purpose field (62/08), rendered as text, PNG or SVG; confirmed by the
//! bank's signed camt.054 credit notification. No gateway to ask: `query` is unsupported (the
//! confirmation comes from notifications and statements) and so is `refund` (a manual transfer).
pub mod camt054;
pub mod emv;
pub mod render;

use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::pay::connector::{
    CallbackAnswer, CallbackInput, CallbackVerdict, Connector, GatewayError, GatewayKind,
    GatewayReport, HttpAnswer, QueryRequest, RefundOutcome, RefundRequest, ReportedStatus,
    StartOutcome, StartRequest,
};

use super::Clock;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VietqrConfig {
    /// The agency bank's 6-digit NAPAS BIN.
    pub bin: String,
    /// The collection account (or card number with `service = "QRIBFTTC"`).
    pub account: String,
    #[serde(default = "default_service")]
    pub service: String,
    /// Put before our reference in the memo so it can be found in whatever text the bank adds.
    #[serde(default = "default_prefix")]
    pub memo_prefix: String,
    pub notify_secret: Option<SecretString>,
    pub notify_secret_env: Option<String>,
    /// How old (or early) a notification's `t=` may be.
    #[serde(default = "default_tolerance")]
    pub signature_tolerance_secs: i64,
}

fn default_service() -> String {
    emv::SERVICE_TO_ACCOUNT.into()
}
fn default_prefix() -> String {
    "ANTIN".into()
}
fn default_tolerance() -> i64 {
    300
}

/// The memo: prefix + our reference, at most 25 characters (EMVCo's limit for 62/08).
pub fn memo(prefix: &str, attempt_ref: &str) -> Result<String, String> {
    let m = format!("{prefix}{attempt_ref}");
    if m.len() > emv::MAX_ADDITIONAL || !m.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "the VietQR memo {m:?} must be at most {} letters and digits",
            emv::MAX_ADDITIONAL
        ));
    }
    Ok(m)
}

/// Our reference in a memo as the bank reports it: the letters and digits right after the first
/// occurrence of `prefix` (case-insensitive; banks may upper-case memos and add text around it).
pub fn reference_in_memo(prefix: &str, memo: &str) -> Option<String> {
    reference_span_in_memo(prefix, memo).map(str::to_owned)
}

/// [`reference_in_memo`] without allocating: the reference as a slice of `memo`. The prefix is
/// matched ignoring ASCII case (bank apps upper-case memos); the reference keeps the memo's case.
pub fn reference_span_in_memo<'m>(prefix: &str, memo: &'m str) -> Option<&'m str> {
    let (hay, p) = (memo.as_bytes(), prefix.as_bytes());
    if p.is_empty() || hay.len() < p.len() {
        return None;
    }
    let mut from = 0;
    while let Some(i) = find_ignore_ascii_case(&hay[from..], p) {
        let start = from + i + p.len();
        let len = hay[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .take(32)
            .count();
        if len > 0 {
            // ASCII alphanumerics only: `start` and `start + len` are char boundaries.
            return memo.get(start..start + len);
        }
        from = start;
    }
    None
}

/// The first position of `needle` in `hay`, ignoring ASCII case.
pub fn find_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let (first_lo, first_up) = (
        needle[0].to_ascii_lowercase(),
        needle[0].to_ascii_uppercase(),
    );
    let last = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last {
        let j = memchr::memchr2(first_lo, first_up, &hay[i..=last])?;
        let at = i + j;
        if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The payload for one attempt.
pub fn payload(cfg: &VietqrConfig, req: &StartRequest) -> Result<String, String> {
    let q = emv::VietQr {
        bin: cfg.bin.clone(),
        account: cfg.account.clone(),
        service: cfg.service.clone(),
        amount_vnd: Some(req.amount_vnd),
        purpose: Some(memo(&cfg.memo_prefix, &req.attempt_ref)?),
        bill_number: None,
    };
    emv::build(&q).map_err(|e| e.to_string())
}

/// Verifies and parses one bank notification (exactly one credit entry to our account).
pub fn parse_notification(
    key: &hmac::Key,
    cfg: &VietqrConfig,
    signature_header: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> CallbackVerdict {
    if body.len() > camt054::MAX_DOCUMENT {
        return CallbackVerdict::Malformed("body too large".into());
    }
    let Some(h) = signature_header else {
        return CallbackVerdict::BadSignature;
    };
    if !camt054::verify_signature(key, h, body, now, cfg.signature_tolerance_secs) {
        return CallbackVerdict::BadSignature;
    }
    let entries = match camt054::parse(body) {
        Ok(e) => e,
        Err(e) => return CallbackVerdict::Malformed(e.to_string()),
    };
    let credits: Vec<&camt054::Entry> = entries
        .iter()
        .filter(|e| e.credit_debit == "CRDT")
        .collect();
    let [e] = credits.as_slice() else {
        return CallbackVerdict::Malformed(format!(
            "expected one credit entry, found {}",
            credits.len()
        ));
    };
    if e.account != cfg.account {
        return CallbackVerdict::Malformed("the credited account is not ours".into());
    }
    if e.currency != "VND" {
        return CallbackVerdict::Malformed(format!("currency {:?}", e.currency));
    }
    if e.bank_ref.is_empty() {
        return CallbackVerdict::Malformed("no AcctSvcrRef".into());
    }
    // A credit without our reference is still money received: reported with the memo itself as
    // the reference, so the domain lists it as unmatched instead of it being dropped.
    let gateway_ref = reference_in_memo(&cfg.memo_prefix, &e.memo)
        .unwrap_or_else(|| super::text::truncate_chars(&e.memo, 140));
    let status = match e.status.as_str() {
        "" | "BOOK" => ReportedStatus::Succeeded,
        _ => ReportedStatus::Pending,
    };
    CallbackVerdict::Verified(GatewayReport {
        gateway_ref,
        amount_vnd: e.amount_vnd,
        status,
        gateway_txn_id: Some(e.bank_ref.clone()),
        raw_sha256: super::sha256(body),
        at: e.booked_at,
    })
}

/// The bank gets 200 `{"status":"ok"}` for anything it need not send again (duplicates,
/// unmatched credits the domain keeps), 401 for a bad signature, 400 for a malformed document,
/// 503 to have it retry.
pub fn notification_answer(answer: CallbackAnswer) -> HttpAnswer {
    let (status, body): (u16, &str) = match answer {
        CallbackAnswer::Confirmed | CallbackAnswer::AlreadyConfirmed => (200, "ok"),
        CallbackAnswer::OrderNotFound | CallbackAnswer::InvalidAmount => (200, "ok"),
        CallbackAnswer::InvalidSignature => (401, "invalid_signature"),
        CallbackAnswer::Malformed => (400, "malformed"),
        CallbackAnswer::RetryLater => (503, "retry_later"),
    };
    HttpAnswer {
        status,
        content_type: Some("application/json"),
        body: format!(r#"{{"status":"{body}"}}"#).into_bytes(),
    }
}

pub struct VietqrConnector {
    config: VietqrConfig,
    key: hmac::Key,
    clock: Clock,
}

impl VietqrConnector {
    pub fn new(config: VietqrConfig) -> Result<Self, GatewayError> {
        let secret: SecretString = super::secret::resolve(
            "notify_secret",
            config.notify_secret.as_ref(),
            config.notify_secret_env.as_deref(),
        )?;
        if config.bin.len() != 6 || !config.bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::Config("vietqr bin must be 6 digits".into()));
        }
        if config.account.is_empty() || !config.account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(GatewayError::Config(
                "vietqr account must be letters and digits".into(),
            ));
        }
        if config.service != emv::SERVICE_TO_ACCOUNT && config.service != emv::SERVICE_TO_CARD {
            return Err(GatewayError::Config(format!(
                "vietqr service must be {} or {}",
                emv::SERVICE_TO_ACCOUNT,
                emv::SERVICE_TO_CARD
            )));
        }
        if config.memo_prefix.is_empty()
            || !config
                .memo_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            return Err(GatewayError::Config(
                "vietqr memo_prefix must be letters and digits".into(),
            ));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
        Ok(VietqrConnector {
            config,
            key,
            clock: OffsetDateTime::now_utc,
        })
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn render_png(payload: &str) -> Result<Vec<u8>, render::RenderError> {
        render::png(payload, 8)
    }

    pub fn render_svg(payload: &str) -> Result<String, render::RenderError> {
        render::svg(payload, 8)
    }
}

#[async_trait::async_trait]
impl Connector for VietqrConnector {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Vietqr
    }

    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError> {
        if req.amount_vnd <= 0 {
            return Ok(StartOutcome::Rejected {
                code: "amount".into(),
                message: "the amount must be positive".into(),
            });
        }
        match payload(&self.config, req) {
            Ok(payload) => Ok(StartOutcome::Qr {
                payload,
                gateway_ref: req.attempt_ref.clone(),
            }),
            Err(message) => Ok(StartOutcome::Rejected {
                code: "reference".into(),
                message,
            }),
        }
    }

    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict {
        let header = input
            .headers
            .get("x-bank-signature")
            .and_then(|v| v.to_str().ok());
        parse_notification(&self.key, &self.config, header, input.body, (self.clock)())
    }

    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer {
        notification_answer(answer)
    }

    async fn query(&self, _req: &QueryRequest) -> Result<GatewayReport, GatewayError> {
        Err(GatewayError::Unsupported {
            gateway: GatewayKind::Vietqr,
            what: "status queries (confirmation comes from bank notifications and statements)",
        })
    }

    async fn refund(&self, _req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        Err(GatewayError::Unsupported {
            gateway: GatewayKind::Vietqr,
            what: "refunds (a manual bank transfer)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VietqrConfig {
        VietqrConfig {
            bin: "970415".into(),
            account: "113366668888".into(),
            service: default_service(),
            memo_prefix: "ANTIN".into(),
            notify_secret: Some(SecretString::from("ANTINDEVBANKSECRET00000000000000")),
            notify_secret_env: None,
            signature_tolerance_secs: 300,
        }
    }

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"ANTINDEVBANKSECRET00000000000000")
    }

    const NOW: i64 = 1_763_782_512;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    #[test]
    fn memo_reference_round_trip() {
        assert_eq!(memo("ANTIN", "A1B2").unwrap(), "ANTINA1B2");
        assert!(memo("ANTIN", &"x".repeat(21)).is_err());
        assert!(memo("ANTIN", "a b").is_err());
        assert_eq!(
            reference_in_memo("ANTIN", "MBVCB.123.antina1b2.CT tu 0123 NGUYEN VAN A").as_deref(),
            Some("a1b2")
        );
        assert_eq!(
            reference_in_memo("ANTIN", "ANTIN ANTINX9"),
            Some("X9".into())
        );
        assert_eq!(reference_in_memo("ANTIN", "chuyen tien"), None);
    }

    #[test]
    fn memo_search_ignores_ascii_case_and_keeps_char_boundaries() {
        // Vietnamese text before and after: multi-byte letters never split.
        let m = "Nộp lệ phí antinQ12 hồ sơ ANTIN";
        assert_eq!(reference_span_in_memo("ANTIN", m), Some("Q12"));
        assert_eq!(reference_span_in_memo("ANTIN", "ANTIN"), None);
        assert_eq!(reference_span_in_memo("ANTIN", "ANTI"), None);
        assert_eq!(reference_span_in_memo("", "ANTINX"), None);
        assert_eq!(find_ignore_ascii_case(b"xxVnPaY tt", b"VNPAY"), Some(2));
        assert_eq!(find_ignore_ascii_case(b"vnpa", b"VNPAY"), None);
        assert_eq!(
            find_ignore_ascii_case("Lệ phí VNPAY".as_bytes(), b"vnpay"),
            Some("Lệ phí ".len())
        );
    }

    #[test]
    fn notification_verified_and_parsed() {
        let doc = camt054::tests::notification("113366668888", "50000", "ANTINA1B2 le phi", "FT1");
        let h = camt054::sign(b"ANTINDEVBANKSECRET00000000000000", NOW - 5, doc.as_bytes());
        let CallbackVerdict::Verified(r) =
            parse_notification(&key(), &cfg(), Some(&h), doc.as_bytes(), now())
        else {
            panic!()
        };
        assert_eq!(r.gateway_ref, "A1B2");
        assert_eq!(r.amount_vnd, 50_000);
        assert_eq!(r.status, ReportedStatus::Succeeded);
        assert_eq!(r.gateway_txn_id.as_deref(), Some("FT1"));
        // Unsigned, wrongly signed, replayed late, or to another account.
        assert_eq!(
            parse_notification(&key(), &cfg(), None, doc.as_bytes(), now()),
            CallbackVerdict::BadSignature
        );
        let bad = camt054::sign(b"other", NOW, doc.as_bytes());
        assert_eq!(
            parse_notification(&key(), &cfg(), Some(&bad), doc.as_bytes(), now()),
            CallbackVerdict::BadSignature
        );
        assert_eq!(
            parse_notification(
                &key(),
                &cfg(),
                Some(&h),
                doc.as_bytes(),
                now() + time::Duration::hours(2)
            ),
            CallbackVerdict::BadSignature
        );
        let other = camt054::tests::notification("999", "50000", "ANTINA1B2", "FT1");
        let h2 = camt054::sign(b"ANTINDEVBANKSECRET00000000000000", NOW, other.as_bytes());
        assert!(matches!(
            parse_notification(&key(), &cfg(), Some(&h2), other.as_bytes(), now()),
            CallbackVerdict::Malformed(_)
        ));
    }

    #[test]
    fn start_gives_a_dynamic_payload() {
        let c = VietqrConnector::new(cfg()).unwrap();
        let req = StartRequest {
            attempt_ref: "A1B2".into(),
            amount_vnd: 50_000,
            order_info: "Lệ phí".into(),
            created_at: now(),
            expires_at: now(),
            return_url: String::new(),
            callback_url: String::new(),
            client_ip: String::new(),
            lang: crate::i18n::Lang::Vi,
        };
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(c.start(&req))
            .unwrap();
        let StartOutcome::Qr {
            payload,
            gateway_ref,
        } = out
        else {
            panic!()
        };
        assert_eq!(gateway_ref, "A1B2");
        let q = emv::parse(&payload).unwrap();
        assert_eq!(q.amount_vnd, Some(50_000));
        assert_eq!(q.purpose.as_deref(), Some("ANTINA1B2"));
        assert_eq!(q.bin, "970415");
        assert!(VietqrConnector::render_png(&payload)
            .unwrap()
            .starts_with(b"\x89PNG"));
        assert!(VietqrConnector::render_svg(&payload)
            .unwrap()
            .contains("<svg"));
    }
}
