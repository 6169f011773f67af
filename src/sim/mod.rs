//! Gateway and bank simulators (`antin sim`): VNPAY, MoMo, ZaloPay and a bank sending VietQR credit
//! notifications, on localhost, so the whole payment flow runs on a fresh clone and tests can drive
//! every outcome (pay, fail, cancel, expire, hanging queries, duplicate, late, forged and wrong-amount
//! callbacks). Written from ../shared/docs/gateways.md and the wire contract in the payments brief
//! only, never from the connectors in `src/pay/`, so each side checks the other.
//!
//! It must never be mistaken for a gateway: it holds test credentials, keeps everything in memory
//! (bounded by `max_orders` per simulator), has unauthenticated control endpoints, and binds loopback
//! unless told otherwise. Times are UTC inside and GMT+7 on the wire, as the protocols say.
//! Layouts of the settlement files and every choice gateways.md leaves open: docs/gateways-sim.md.

pub mod bank;
mod control;
pub mod momo;
pub mod settlement;
pub mod sign;
pub mod vnpay;
pub mod zalopay;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::timefmt::VIETNAM;

/// One VNPAY merchant (terminal). VNPAY has no IPN URL in the pay request: it is configured per
/// merchant at VNPAY, hence here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnpayMerchant {
    pub tmn_code: String,
    pub hash_secret: SecretString,
    #[serde(default)]
    pub ipn_url: Option<String>,
}

/// One MoMo partner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomoMerchant {
    pub partner_code: String,
    pub access_key: SecretString,
    pub secret_key: SecretString,
}

/// One ZaloPay app. `callback_url` is used when an order carries none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZalopayApp {
    pub app_id: u64,
    pub key1: SecretString,
    pub key2: SecretString,
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// The bank: its BIN, the merchant accounts it keeps, where and how it notifies credits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankConfig {
    pub bin: String,
    pub name: String,
    pub accounts: Vec<String>,
    pub notify_url: Option<String>,
    pub notify_secret: SecretString,
    /// Balance of every account before the first simulated credit (VND).
    pub opening_balance: i64,
}

impl Default for BankConfig {
    fn default() -> Self {
        BankConfig {
            bin: "970415".into(),
            name: "Ngân hàng mô phỏng".into(),
            accounts: vec!["113366668888".into()],
            notify_url: None,
            notify_secret: SecretString::from("ANTINDEVBANKSECRET00000000000000"),
            opening_balance: 0,
        }
    }
}

/// Fees the gateways charge, in basis points of the gross amount (rounded half up to the dong),
/// plus a fixed part per successful payment. Refunds carry no fee.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fees {
    pub vnpay_bp: i64,
    pub vnpay_fixed: i64,
    pub momo_bp: i64,
    pub momo_fixed: i64,
    pub zalopay_bp: i64,
    pub zalopay_fixed: i64,
}

impl Default for Fees {
    fn default() -> Self {
        Fees {
            vnpay_bp: 110,
            vnpay_fixed: 0,
            momo_bp: 150,
            momo_fixed: 0,
            zalopay_bp: 100,
            zalopay_fixed: 1_000,
        }
    }
}

/// Everything the simulators need. `Default` is the development set from the payments brief
/// (test credentials, never real ones).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub vnpay: Vec<VnpayMerchant>,
    pub momo: Vec<MomoMerchant>,
    pub zalopay: Vec<ZalopayApp>,
    pub bank: BankConfig,
    pub fees: Fees,
    /// Multiplies every retry interval, refund delay and late-callback delay (1.0 = the gateways'
    /// real rhythm; tests use e.g. 0.001 so VNPAY's 5 minutes become 0.3 s).
    pub time_scale: f64,
    /// How long a query armed with `timeout-next-query` hangs (NOT scaled: it must outlast the
    /// client's timeout).
    pub query_hang_secs: u64,
    /// Delay of a `late-callback` before scaling.
    pub late_callback_secs: u64,
    /// How long ZaloPay takes to complete a refund, before scaling.
    pub refund_delay_secs: u64,
    /// Timeout of one callback delivery.
    pub callback_timeout_secs: u64,
    /// PEM file of the CA (or self-signed certificate) to trust when calling antin over HTTPS.
    pub ca_file: Option<PathBuf>,
    /// Deliver callbacks to plain `http://` URLs (tests). Off by default: HTTPS only.
    pub allow_http: bool,
    /// Orders (transfers for the bank) kept per simulator; past it, creations are refused.
    pub max_orders: usize,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Base URL of the simulator as the citizen's browser reaches it (payUrl, order_url); by default
    /// `http://` + the bound address.
    pub public_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            vnpay: vec![VnpayMerchant {
                tmn_code: "ANTINDEV".into(),
                hash_secret: SecretString::from("ANTINDEVVNPAYSECRET0000000000000"),
                ipn_url: None,
            }],
            momo: vec![MomoMerchant {
                partner_code: "MOMOANTIN".into(),
                access_key: SecretString::from("ANTINDEVACCESS"),
                secret_key: SecretString::from("ANTINDEVMOMOSECRET00000000000000"),
            }],
            zalopay: vec![ZalopayApp {
                app_id: 2554,
                key1: SecretString::from("ANTINDEVZALOKEY1000000000000000"),
                key2: SecretString::from("ANTINDEVZALOKEY2000000000000000"),
                callback_url: None,
            }],
            bank: BankConfig::default(),
            fees: Fees::default(),
            time_scale: 1.0,
            query_hang_secs: 60,
            late_callback_secs: 120,
            refund_delay_secs: 10,
            callback_timeout_secs: 15,
            ca_file: None,
            allow_http: false,
            max_orders: 100_000,
            max_body_bytes: 64 * 1024,
            public_url: None,
        }
    }
}

/// Why the simulators cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("simulator configuration: {0}")]
    Config(String),
    #[error("cannot read the CA file {path}: {detail}")]
    CaFile { path: PathBuf, detail: String },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl SimConfig {
    /// Loads a TOML file over the development defaults.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let cfg: SimConfig = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), SimError> {
        if !(self.time_scale.is_finite() && (0.0..=1000.0).contains(&self.time_scale)) {
            return Err(SimError::Config(
                "time_scale must be within 0..=1000".into(),
            ));
        }
        if self.max_orders == 0 || self.max_body_bytes < 1024 {
            return Err(SimError::Config(
                "max_orders must be > 0 and max_body_bytes >= 1024".into(),
            ));
        }
        for m in &self.vnpay {
            if m.tmn_code.is_empty() || m.tmn_code.len() > 8 {
                return Err(SimError::Config(format!(
                    "VNPAY tmn_code {:?} must be 1..=8 characters",
                    m.tmn_code
                )));
            }
        }
        Ok(())
    }
}

/// Which simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gw {
    Vnpay,
    Momo,
    Zalopay,
    Bank,
}

impl Gw {
    pub fn as_str(self) -> &'static str {
        match self {
            Gw::Vnpay => "vnpay",
            Gw::Momo => "momo",
            Gw::Zalopay => "zalopay",
            Gw::Bank => "bank",
        }
    }
    pub fn display(self) -> &'static str {
        match self {
            Gw::Vnpay => "VNPAY",
            Gw::Momo => "MoMo",
            Gw::Zalopay => "ZaloPay",
            Gw::Bank => "Ngân hàng",
        }
    }
}

/// An order's state at the simulated gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
    Expired,
}

/// A refund as the gateway keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct RefundRec {
    /// The merchant's refund reference (VNPAY vnp_RequestId, MoMo orderId, ZaloPay m_refund_id).
    pub refund_ref: String,
    pub amount: i64,
    /// `pending` (ZaloPay, asynchronous), `succeeded` or `failed`.
    pub status: Status,
    pub refund_txn_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
}

/// One attempt at delivering a callback.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRec {
    /// 1 or 2 (`duplicate-callback` sends two copies at once).
    pub copy: u32,
    /// 0 = first try, then retries.
    pub attempt: u32,
    /// `normal`, `late`, `duplicate`, `wrong-signature`, `wrong-amount`.
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub http_status: Option<u16>,
    /// The start of the merchant's answer (or the transport error).
    pub answer: String,
    /// The answer made the gateway stop (RspCode 00/02, HTTP 204, return_code != 0, bank 2xx/4xx).
    pub accepted: bool,
}

/// What every simulator keeps about an order (a transfer, for the bank); gateway-specific fields
/// live beside it in each simulator.
#[derive(Debug, Clone, Serialize)]
pub struct OrderCore {
    pub gateway: Gw,
    pub merchant: String,
    pub gateway_ref: String,
    /// Amount ordered, VND.
    pub amount: i64,
    /// Amount the gateway says was paid (differs after `wrong-amount`).
    pub paid_amount: Option<i64>,
    pub order_info: String,
    pub status: Status,
    /// The gateway's own result code for the current status.
    pub result_code: String,
    pub txn_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub refunds: Vec<RefundRec>,
    pub deliveries: Vec<DeliveryRec>,
    /// Queries answered so far.
    pub queries: u32,
    /// The next status query hangs for `query_hang_secs`.
    pub timeout_next_query: bool,
}

/// Most refunds one order can have (each must be at least 1 VND; this bounds the list).
pub const MAX_REFUNDS: usize = 100;
/// Most callback deliveries waiting or running at once; past it a new one is dropped (and recorded).
const MAX_IN_FLIGHT: usize = 10_000;

/// Most delivery records kept per order (a misbehaving merchant cannot grow it without bound).
const MAX_DELIVERY_RECS: usize = 64;

impl OrderCore {
    pub(crate) fn new(
        gateway: Gw,
        merchant: &str,
        gateway_ref: &str,
        amount: i64,
        order_info: &str,
        (created_at, expires_at): (OffsetDateTime, OffsetDateTime),
        pending_code: &str,
    ) -> Self {
        OrderCore {
            gateway,
            merchant: merchant.to_owned(),
            gateway_ref: gateway_ref.to_owned(),
            amount,
            paid_amount: None,
            order_info: order_info.to_owned(),
            status: Status::Pending,
            result_code: pending_code.to_owned(),
            txn_id: None,
            created_at,
            expires_at,
            finished_at: None,
            refunds: Vec::new(),
            deliveries: Vec::new(),
            queries: 0,
            timeout_next_query: false,
        }
    }

    /// Total refunded or being refunded.
    pub fn refunded(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status != Status::Failed)
            .map(|r| r.amount)
            .sum()
    }

    /// What can still be refunded.
    pub fn refundable(&self) -> i64 {
        if self.status != Status::Succeeded {
            return 0;
        }
        self.paid_amount.unwrap_or(self.amount) - self.refunded()
    }
}

/// The outcome a control action gives an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pay,
    Fail,
    Cancel,
    Expire,
}

/// A callback ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub post: bool,
    pub url: String,
    pub body: Vec<u8>,
    pub content_type: Option<&'static str>,
    /// The bank signs at each attempt (fresh timestamp); `Some(tamper)`.
    pub bank_sign: Option<bool>,
}

/// What the merchant's answer means for the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judged {
    Done,
    Retry,
}

/// A gateway's retry rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub retries: u32,
    pub interval: Duration,
    pub judge: fn(Option<u16>, &[u8]) -> Judged,
}

/// All simulators' state (one lock: the simulators are small and never hold it across an await).
#[derive(Default)]
pub(crate) struct SimState {
    pub vnpay: vnpay::VnpState,
    pub momo: momo::MomoState,
    pub zalopay: zalopay::ZpState,
    pub bank: bank::BankState,
    seq: u64,
}

impl SimState {
    /// A number unique within this process, for transaction ids.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn core_mut_ref(&self, gw: Gw, key: &str) -> Option<&OrderCore> {
        match gw {
            Gw::Vnpay => self.vnpay.orders.get(key).map(|o| &o.core),
            Gw::Momo => self.momo.orders.get(key).map(|o| &o.core),
            Gw::Zalopay => self.zalopay.orders.get(key).map(|o| &o.core),
            Gw::Bank => self.bank.transfers.get(key).map(|o| &o.core),
        }
    }

    pub fn core_mut(&mut self, gw: Gw, key: &str) -> Option<&mut OrderCore> {
        match gw {
            Gw::Vnpay => self.vnpay.orders.get_mut(key).map(|o| &mut o.core),
            Gw::Momo => self.momo.orders.get_mut(key).map(|o| &mut o.core),
            Gw::Zalopay => self.zalopay.orders.get_mut(key).map(|o| &mut o.core),
            Gw::Bank => self.bank.transfers.get_mut(key).map(|o| &mut o.core),
        }
    }
}

/// Shared by every handler and delivery task.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    state: Mutex<SimState>,
    pub http: reqwest::Client,
    public_url: OnceLock<String>,
    delivery_slots: tokio::sync::Semaphore,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Per-merchant VNPAY IPN URLs and the bank's notify URL, changeable at run time.
    pub urls: Mutex<HashMap<String, String>>,
}

impl Shared {
    fn new(cfg: SimConfig) -> Result<Self, SimError> {
        cfg.check()?;
        let timeout = Duration::from_secs(cfg.callback_timeout_secs.max(1));
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(path) = &cfg.ca_file {
            let ca_err = |detail: String| SimError::CaFile {
                path: path.clone(),
                detail,
            };
            let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_err(e.to_string()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| SimError::Config(format!("HTTP client: {e}")))?;
        let mut urls = HashMap::new();
        for m in &cfg.vnpay {
            if let Some(u) = &m.ipn_url {
                urls.insert(format!("vnpay:{}", m.tmn_code), u.clone());
            }
        }
        if let Some(u) = &cfg.bank.notify_url {
            urls.insert("bank".to_owned(), u.clone());
        }
        Ok(Shared {
            cfg,
            state: Mutex::new(SimState::default()),
            http,
            public_url: OnceLock::new(),
            delivery_slots: tokio::sync::Semaphore::new(64),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            urls: Mutex::new(urls),
        })
    }

    /// The state; a poisoned lock (a panic elsewhere) still yields the data, which stays consistent
    /// because every mutation is completed before the guard drops.
    pub fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn public_url(&self) -> &str {
        self.public_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1:8790")
    }

    pub fn url(&self, key: &str) -> Option<String> {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    pub fn scaled(&self, d: Duration) -> Duration {
        Duration::try_from_secs_f64(d.as_secs_f64() * self.cfg.time_scale).unwrap_or(d)
    }
}

/// How one copy of a callback is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Copy {
    pub delay: Duration,
    pub copy: u32,
    pub kind: &'static str,
}

/// Sends `out` now (after `how.delay`), retrying per `policy`, recording every attempt on the order.
pub(crate) fn deliver(
    shared: &Arc<Shared>,
    gw: Gw,
    key: &str,
    out: Outbound,
    policy: RetryPolicy,
    how: Copy,
) {
    use std::sync::atomic::Ordering;
    let Copy { delay, copy, kind } = how;
    let shared = shared.clone();
    let key = key.to_owned();
    if shared.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(core) = shared.state().core_mut(gw, &key) {
            if core.deliveries.len() < MAX_DELIVERY_RECS {
                core.deliveries.push(DeliveryRec {
                    copy,
                    attempt: 0,
                    kind,
                    at: OffsetDateTime::now_utc(),
                    http_status: None,
                    answer: "dropped: too many callbacks in flight".into(),
                    accepted: false,
                });
            }
        }
        return;
    }
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        for attempt in 0..=policy.retries {
            if attempt > 0 {
                tokio::time::sleep(shared.scaled(policy.interval)).await;
            }
            let (http_status, answer) = {
                let _slot = shared.delivery_slots.acquire().await;
                send_once(&shared, &out).await
            };
            let judged = match http_status {
                Some(_) => (policy.judge)(http_status, answer.as_bytes()),
                None => (policy.judge)(None, b""),
            };
            let rec = DeliveryRec {
                copy,
                attempt,
                kind,
                at: OffsetDateTime::now_utc(),
                http_status,
                answer: answer.chars().take(200).collect(),
                accepted: judged == Judged::Done,
            };
            tracing::debug!(target: "antin::sim", gateway = gw.as_str(), %key, attempt, ?http_status, "callback delivered");
            if let Some(core) = shared.state().core_mut(gw, &key) {
                if core.deliveries.len() < MAX_DELIVERY_RECS {
                    core.deliveries.push(rec);
                }
            }
            if judged == Judged::Done {
                break;
            }
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Largest answer read from a merchant.
const MAX_ANSWER: usize = 4096;

async fn send_once(shared: &Shared, out: &Outbound) -> (Option<u16>, String) {
    if out.url.starts_with("http://") && !shared.cfg.allow_http {
        return (
            None,
            "refused: plain HTTP callback URL (allow_http is off)".into(),
        );
    }
    if !out.url.starts_with("http://") && !out.url.starts_with("https://") {
        return (None, format!("refused: not an HTTP(S) URL: {}", out.url));
    }
    let mut req = if out.post {
        shared.http.post(&out.url).body(out.body.clone())
    } else {
        shared.http.get(&out.url)
    };
    if let Some(ct) = out.content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    if let Some(tamper) = out.bank_sign {
        req = req.header(
            "X-Bank-Signature",
            bank::signature_header(shared, &out.body, tamper),
        );
    }
    match req.send().await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        body.extend_from_slice(&c);
                        if body.len() > MAX_ANSWER {
                            body.truncate(MAX_ANSWER);
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return (None, format!("error reading the answer: {e}")),
                }
            }
            (Some(status), String::from_utf8_lossy(&body).into_owned())
        }
        Err(e) if e.is_timeout() => (None, "timeout".into()),
        Err(e) => (None, format!("error: {e}")),
    }
}

// ---- time on the wire (GMT+7) ----

/// `yyyyMMddHHmmss` in GMT+7 (VNPAY).
pub(crate) fn vn_compact(t: OffsetDateTime) -> String {
    let t = t.to_offset(VIETNAM);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `yyyyMMddHHmmss` as GMT+7.
pub(crate) fn parse_vn_compact(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let month = time::Month::try_from(n(4..6)? as u8).ok()?;
    let date = Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8).ok()?;
    let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
    Some(date.with_time(t).assume_offset(VIETNAM))
}

/// `yymmdd` of the GMT+7 date (ZaloPay app_trans_id / m_refund_id prefixes).
pub(crate) fn yymmdd(t: OffsetDateTime) -> String {
    let t = t.to_offset(VIETNAM);
    format!(
        "{:02}{:02}{:02}",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day()
    )
}

/// The GMT+7 calendar date of an instant.
pub(crate) fn vn_date(t: OffsetDateTime) -> Date {
    t.to_offset(VIETNAM).date()
}

pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A fee in VND: `bp` basis points rounded half up, plus `fixed`.
pub(crate) fn fee(amount: i64, bp: i64, fixed: i64) -> i64 {
    (amount.saturating_mul(bp) + 5_000) / 10_000 + fixed
}

// ---- small HTTP helpers ----

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<style>body{{font-family:sans-serif;max-width:34em;margin:2em auto;padding:0 1em}}\
.warn{{background:#fff3cd;padding:.5em}}table td{{padding:.2em .6em}}button{{font-size:1.1em;margin:.3em}}</style>\
</head><body><p class=\"warn\">Môi trường mô phỏng của antin — không phải cổng thanh toán thật.</p>\
<h1>{t}</h1>{body}</body></html>",
        t = html_escape(title)
    );
    (status, Html(html)).into_response()
}

/// Thousands separators, Vietnamese style (`50.000`).
pub(crate) fn vnd(amount: i64) -> String {
    let s = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    if amount < 0 {
        format!("-{out} ₫")
    } else {
        format!("{out} ₫")
    }
}

/// The payment page shown at the pay URL: the order and two buttons posting to the control
/// endpoints (so a person can click through on a fresh clone).
pub(crate) fn pay_page(core: &OrderCore) -> Response {
    let base = format!(
        "/{}/sim/orders/{}",
        core.gateway.as_str(),
        sign::vnp_encode(&core.gateway_ref)
    );
    let title = format!("{} — thanh toán (mô phỏng)", core.gateway.display());
    let rows = format!(
        "<table><tr><td>Mã đơn hàng</td><td>{}</td></tr><tr><td>Nội dung</td><td>{}</td></tr>\
<tr><td>Số tiền</td><td><b>{}</b></td></tr><tr><td>Hết hạn</td><td>{}</td></tr></table>",
        html_escape(&core.gateway_ref),
        html_escape(&core.order_info),
        vnd(core.amount),
        crate::timefmt::vietnam(core.expires_at)
    );
    let body = if core.status == Status::Pending {
        format!(
            "{rows}<form method=\"post\" action=\"{base}/pay?ui=1\"><button>Thanh toán</button></form>\
<form method=\"post\" action=\"{base}/cancel?ui=1\"><button>Hủy giao dịch</button></form>"
        )
    } else {
        format!(
            "{rows}<p>Giao dịch đã được xử lý: {}.</p>",
            status_vi(core.status)
        )
    };
    page(StatusCode::OK, &title, &body)
}

pub(crate) fn status_vi(s: Status) -> &'static str {
    match s {
        Status::Pending => "đang chờ thanh toán",
        Status::Succeeded => "thành công",
        Status::Failed => "thất bại",
        Status::Cancelled => "đã hủy",
        Status::Expired => "đã hết hạn",
    }
}

pub(crate) fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// The JSON object body of a request, or why not.
pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("the body is not a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

// ---- the router ----

/// Every simulator under its prefix (`/vnpay`, `/momo`, `/zalopay`, `/bank`), the control endpoints
/// under `/{gateway}/sim/`, with bodies limited to `max_body_bytes`.
pub fn router(cfg: SimConfig) -> Result<Router, SimError> {
    let shared = Arc::new(Shared::new(cfg)?);
    Ok(build_router(shared))
}

fn build_router(shared: Arc<Shared>) -> Router {
    let limit = shared.cfg.max_body_bytes;
    let mut r: Router<Arc<Shared>> = Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/vnpay/paymentv2/vpcpay.html", get(vnpay::pay))
        .route("/vnpay/merchant_webapi/api/transaction", post(vnpay::api))
        .route("/vnpay/sim/ipn-url", put(vnpay::set_ipn_url))
        .route("/momo/v2/gateway/api/create", post(momo::create))
        .route("/momo/v2/gateway/api/query", post(momo::query))
        .route("/momo/v2/gateway/api/refund", post(momo::refund))
        .route("/momo/pay/{order_id}", get(momo::pay_page))
        .route("/zalopay/v2/create", post(zalopay::create))
        .route("/zalopay/v2/query", post(zalopay::query))
        .route("/zalopay/v2/refund", post(zalopay::refund))
        .route("/zalopay/v2/query_refund", post(zalopay::query_refund))
        .route("/zalopay/pay/{app_trans_id}", get(zalopay::pay_page))
        .route("/bank/sim/transfer", post(bank::transfer))
        .route("/bank/sim/statement", get(bank::statement))
        .route("/bank/sim/notify-url", put(bank::set_notify_url));
    for gw in [Gw::Vnpay, Gw::Momo, Gw::Zalopay, Gw::Bank] {
        let p = gw.as_str();
        r = r
            .route(
                &format!("/{p}/sim/orders/{{gateway_ref}}"),
                get(move |s: State<Arc<Shared>>, path: Path<String>| control::show(s, gw, path)),
            )
            .route(
                &format!("/{p}/sim/orders/{{gateway_ref}}/{{action}}"),
                post(
                    move |s: State<Arc<Shared>>, path: Path<(String, String)>, q: RawQuery| {
                        control::act(s, gw, path, q)
                    },
                ),
            );
        if gw != Gw::Bank {
            r = r.route(
                &format!("/{p}/sim/settlement/payout"),
                post(move |s: State<Arc<Shared>>, q: RawQuery| settlement::payout(s, gw, q)),
            );
            r = r.route(
                &format!("/{p}/sim/settlement"),
                get(move |s: State<Arc<Shared>>, q: RawQuery| settlement::serve(s, gw, q)),
            );
        }
    }
    r.layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(too_large_in_gateway_shape))
        .layer(tower::limit::ConcurrencyLimitLayer::new(512))
        .with_state(shared)
}

/// A body over the limit is answered in the gateway's own error shape (status 413 kept).
async fn too_large_in_gateway_shape(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if resp.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return resp;
    }
    let body = if path.starts_with("/vnpay/") {
        serde_json::json!({"vnp_ResponseCode": "03", "vnp_Message": "Request body too large"})
    } else if path.starts_with("/momo/") {
        serde_json::json!({"resultCode": 20, "message": "Yêu cầu sai định dạng: nội dung quá lớn."})
    } else if path.starts_with("/zalopay/") {
        serde_json::json!({"return_code": 2, "return_message": "Giao dịch thất bại", "sub_return_code": -401, "sub_return_message": "Dữ liệu yêu cầu quá lớn"})
    } else {
        serde_json::json!({"error": "payload_too_large", "message": "request body too large"})
    };
    json_response(StatusCode::PAYLOAD_TOO_LARGE, &body)
}

async fn index() -> Response {
    page(
        StatusCode::OK,
        "Mô phỏng cổng thanh toán antin",
        "<ul><li>VNPAY: <code>/vnpay/paymentv2/vpcpay.html</code>, <code>/vnpay/merchant_webapi/api/transaction</code></li>\
<li>MoMo: <code>/momo/v2/gateway/api/{create,query,refund}</code></li>\
<li>ZaloPay: <code>/zalopay/v2/{create,query,refund,query_refund}</code></li>\
<li>Ngân hàng (VietQR): <code>POST /bank/sim/transfer</code>, <code>GET /bank/sim/statement?date=YYYY-MM-DD&amp;format=camt053|mt940</code></li>\
<li>Điều khiển: <code>POST /{gateway}/sim/orders/{ref}/{action}</code>, <code>GET /{gateway}/sim/settlement?date=YYYY-MM-DD</code></li></ul>\
<p>docs/gateways-sim.md</p>",
    )
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://ADDR` (or the configured public URL).
    pub fn base_url(&self) -> String {
        self.shared.public_url().to_owned()
    }
    /// Sets the IPN URL VNPAY calls for a merchant (configured at VNPAY, not in the request).
    pub fn set_vnpay_ipn_url(&self, tmn_code: &str, url: &str) {
        self.shared
            .urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("vnpay:{tmn_code}"), url.to_owned());
    }
    /// Sets the URL the bank notifies credits to.
    pub fn set_bank_notify_url(&self, url: &str) {
        self.shared
            .urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert("bank".to_owned(), url.to_owned());
    }
    /// Stops accepting, lets running requests finish.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
    /// Resolves when the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Binds `addr` (port 0 picks one) and serves the simulators on the current runtime.
pub async fn spawn(cfg: SimConfig, addr: SocketAddr) -> Result<(SocketAddr, SimHandle), SimError> {
    let shared = Arc::new(Shared::new(cfg)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let public = shared
        .cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let _ = shared
        .public_url
        .set(public.trim_end_matches('/').to_owned());
    let app = build_router(shared.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(target: "antin::sim", error = %e, "simulator server failed");
        }
    });
    Ok((
        local,
        SimHandle {
            addr: local,
            shared,
            stop: Some(tx),
            task,
        },
    ))
}
