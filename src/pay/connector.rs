//! One trait per gateway connector; the domain (src/pay/*) knows gateways only through it.
//!
//! The trait is object-safe (`Arc<dyn Connector>`): its async methods go through `async-trait`,
//! which boxes each returned future (one allocation per outbound call, negligible next to a
//! network round trip). Implementors write `#[async_trait::async_trait] impl Connector for ...`.
//!
//! This module never does I/O itself; it only defines the contract between the connectors
//! (src/pay/gateways) and the payment domain.
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    Vnpay,
    Momo,
    Zalopay,
    Vietqr,
}

/// Start one attempt. `attempt_ref` is OUR reference sent to the gateway (vnp_TxnRef, MoMo orderId,
/// ZaloPay app_trans_id — the connector derives the gateway-specific form, e.g. `yymmdd_` prefix for
/// ZaloPay, and returns it in `StartOutcome::gateway_ref`), unique per attempt.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub attempt_ref: String, // [A-Za-z0-9], <= 32 chars, made by pay-core
    pub amount_vnd: i64,     // > 0, whole dong
    pub order_info: String, // Vietnamese; the connector strips diacritics where the gateway needs it
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub return_url: String, // citizen's browser comes back here (display only)
    pub callback_url: String, // server-to-server IPN/callback URL of antin for this gateway
    pub client_ip: String,
    pub lang: crate::i18n::Lang, // see src/i18n.rs (vi default, en)
}

#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// Send the citizen to `url` (VNPAY pay URL, MoMo payUrl, ZaloPay order_url).
    Redirect { url: String, gateway_ref: String },
    /// VietQR: show the EMVCo payload (as text, PNG and SVG via the connector's render functions).
    Qr {
        payload: String,
        gateway_ref: String,
    },
    /// The gateway answered and refused (bad data, duplicate, limits): the attempt failed.
    Rejected { code: String, message: String },
}

/// What a gateway says about an attempt (from a verified callback or a status query).
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayReport {
    pub gateway_ref: String, // our ref as the gateway echoes it
    pub amount_vnd: i64,     // as the gateway reports it (VNPAY's x100 undone)
    pub status: ReportedStatus,
    pub gateway_txn_id: Option<String>, // vnp_TransactionNo, MoMo transId, zp_trans_id, bank ref
    pub raw_sha256: [u8; 32],           // SHA-256 of the raw message bytes as received
    pub at: Option<OffsetDateTime>,     // pay time if given (UTC)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedStatus {
    Succeeded,
    Failed { code: String },    // final failure, raw gateway code kept
    Cancelled { code: String }, // the citizen cancelled (VNPAY 24, MoMo 1003/1006)
    Pending,                    // not final yet (MoMo 1000/7000, ZaloPay 3, VNPAY 01)
    NotFound,                   // query: the gateway does not know the order
}

/// A callback as received by antin's HTTP layer, untouched.
#[derive(Debug, Clone)]
pub struct CallbackInput<'a> {
    pub method: &'a str,
    pub query: Option<&'a str>, // raw query string (VNPAY IPN is a GET)
    pub body: &'a [u8],         // raw body (MoMo/ZaloPay JSON, bank camt.054)
    pub headers: &'a http::HeaderMap,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallbackVerdict {
    /// Signature valid: the domain checks order and amount next.
    Verified(GatewayReport),
    BadSignature,
    Malformed(String),
}

/// What antin answers the gateway, in the gateway's own format (VNPAY RspCode JSON, MoMo 204,
/// ZaloPay return_code JSON, bank 200/4xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackAnswer {
    Confirmed,
    AlreadyConfirmed,
    OrderNotFound,
    InvalidAmount,
    InvalidSignature,
    Malformed,
    RetryLater,
}

pub struct HttpAnswer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub gateway_ref: String,
    pub created_at: OffsetDateTime,
    pub gateway_txn_id: Option<String>,
    pub client_ip: String,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub refund_ref: String,
    pub gateway_ref: String,
    pub gateway_txn_id: Option<String>,
    pub amount_vnd: i64,
    pub full: bool,
    pub reason: String,
    /// When the paid attempt was created (VNPAY's vnp_TransactionDate).
    pub original_created_at: OffsetDateTime,
    /// When the refund was created: the same on every retry of it (ZaloPay's m_refund_id is
    /// dated from it, so a later day's retry can only ask query_refund, never refund again).
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub client_ip: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefundOutcome {
    Refunded { gateway_refund_id: Option<String> },
    Pending,
    Rejected { code: String, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No answer, or an answer we cannot trust: the outcome is UNKNOWN (never guessed).
    #[error("no trustworthy answer from {gateway:?}: {detail}")]
    Unknown {
        gateway: GatewayKind,
        detail: String,
    },
    /// The circuit breaker is open: nothing was sent.
    #[error("{gateway:?} is unavailable (circuit open)")]
    Unavailable { gateway: GatewayKind },
    /// This gateway does not support the operation (e.g. VietQR refund: manual).
    #[error("{gateway:?} does not support {what}")]
    Unsupported {
        gateway: GatewayKind,
        what: &'static str,
    },
    #[error("configuration: {0}")]
    Config(String),
}

#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    fn kind(&self) -> GatewayKind;
    /// The reference the gateway will know an order by, decided before it is asked (it is stored
    /// with the attempt first, so status queries, callbacks and refunds find the order even when
    /// the answer to `start` was lost to a timeout or a crash). Most gateways take ours as is.
    fn order_ref(&self, attempt_ref: &str, _created_at: OffsetDateTime) -> String {
        attempt_ref.to_owned()
    }
    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError>;
    /// Pure: verify and parse a callback. Never trusts anything before the signature check.
    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict;
    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer;
    async fn query(&self, req: &QueryRequest) -> Result<GatewayReport, GatewayError>;
    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, GatewayError>;
}
