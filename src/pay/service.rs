//! The payment service: loads a payment, asks the pure machines (`state`, `ledger`) what follows
//! from an event, and commits the result (state, transitions, postings, outbox, log) in one
//! transaction guarded by the payment's version. Gateways are reached only through
//! [`Connector`]s; the clock comes in as an argument wherever a decision depends on it.
//!
//! It never marks an attempt paid or failed without the gateway's word (a timeout is UNKNOWN), never
//! records a second success for a payment, and never applies a callback before its signature, its
//! order and its amount were checked, in that order.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::connector::{
    CallbackAnswer, CallbackInput, CallbackVerdict, Connector, GatewayError, GatewayKind,
    GatewayReport, HttpAnswer, QueryRequest, RefundOutcome, RefundRequest, ReportedStatus,
    StartOutcome, StartRequest,
};
use super::ledger::{self, Vnd};
use super::state::{
    apply_attempt_event, payment_start_allowed, payment_step, refund_step, AttemptEvent,
    AttemptState, AttemptStep, Illegal, Outcome, PaymentEvent, PaymentState, RefundState,
};
use crate::audit::entry::Pseudonymizer;
use crate::audit::record;
use crate::config::PaymentsConfig;
use crate::i18n::Lang;
use crate::store::payments::{
    AttemptRecord, CallbackRow, FlagRow, IdemResponse, OutboxDone, OutboxEvent, OutboxRow,
    PayChange, PaymentAggregate, PaymentRecord, RefundRecord, TransitionRow,
};
use crate::store::{LogInput, Store, StoreError};

/// How many times a decision is re-made when another one committed first.
const MAX_RETRIES: usize = 16;

/// The lowercase name of a gateway, as stored and used in URLs and ledger accounts.
pub fn gateway_name(kind: GatewayKind) -> &'static str {
    match kind {
        GatewayKind::Vnpay => "vnpay",
        GatewayKind::Momo => "momo",
        GatewayKind::Zalopay => "zalopay",
        GatewayKind::Vietqr => "vietqr",
    }
}

pub fn parse_gateway(s: &str) -> Option<GatewayKind> {
    match s {
        "vnpay" => Some(GatewayKind::Vnpay),
        "momo" => Some(GatewayKind::Momo),
        "zalopay" => Some(GatewayKind::Zalopay),
        "vietqr" => Some(GatewayKind::Vietqr),
        _ => None,
    }
}

/// The callback path of antin for a gateway (the bank's credit notifications confirm VietQR).
pub fn callback_path(kind: GatewayKind) -> &'static str {
    match kind {
        GatewayKind::Vnpay => "/callbacks/vnpay/ipn",
        GatewayKind::Momo => "/callbacks/momo/ipn",
        GatewayKind::Zalopay => "/callbacks/zalopay",
        GatewayKind::Vietqr => "/callbacks/bank",
    }
}

/// The connectors, per agency and gateway.
#[derive(Default, Clone)]
pub struct Registry {
    by_agency: HashMap<(String, GatewayKind), Arc<dyn Connector>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<String> = self
            .by_agency
            .keys()
            .map(|(a, k)| format!("{a}/{}", gateway_name(*k)))
            .collect();
        keys.sort();
        f.debug_struct("Registry")
            .field("connectors", &keys)
            .finish()
    }
}

impl Registry {
    pub fn insert(&mut self, agency: &str, connector: Arc<dyn Connector>) {
        self.by_agency
            .insert((agency.to_owned(), connector.kind()), connector);
    }

    pub fn get(&self, agency: &str, kind: GatewayKind) -> Option<&Arc<dyn Connector>> {
        self.by_agency.get(&(agency.to_owned(), kind))
    }

    /// Every agency's connector for a gateway, in a stable order.
    pub fn of_kind(&self, kind: GatewayKind) -> Vec<(&str, &Arc<dyn Connector>)> {
        let mut v: Vec<(&str, &Arc<dyn Connector>)> = self
            .by_agency
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|((a, _), c)| (a.as_str(), c))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn gateways_of(&self, agency: &str) -> Vec<GatewayKind> {
        let mut v: Vec<GatewayKind> = self
            .by_agency
            .keys()
            .filter(|(a, _)| a == agency)
            .map(|(_, k)| *k)
            .collect();
        v.sort_by_key(|k| gateway_name(*k));
        v
    }
}

/// Errors of the payment service (mapped to stable API codes in `http::payments`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayError {
    #[error("payment not found")]
    NotFound,
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The payment's state does not allow this (e.g. cancelling a paid payment).
    #[error(transparent)]
    Illegal(#[from] Illegal),
    #[error("the agency {agency:?} has no {gateway} connector configured")]
    GatewayNotConfigured { agency: String, gateway: String },
    #[error("the gateway is unavailable: {0}")]
    GatewayUnavailable(String),
    #[error("the payment changed too often while deciding; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A validated payment request (parse, don't validate: built only by [`NewPayment::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub dossier_ref: String,
    pub agency: String,
    pub procedure_code: String,
    pub fee_code: String,
    pub amount: i64,
    pub payer_name: String,
    pub payer_cccd: Option<String>,
    pub description: Option<String>,
    pub return_url: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
}

fn code_field(v: &Value, name: &str, max: usize) -> Result<String, PayError> {
    let s = v
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| PayError::Invalid(format!("\"{name}\" is required (a string)")))?
        .trim();
    if s.is_empty() || s.chars().count() > max {
        return Err(PayError::Invalid(format!(
            "\"{name}\" must have 1 to {max} characters"
        )));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(PayError::Invalid(format!(
            "\"{name}\" must not contain control characters"
        )));
    }
    Ok(s.to_owned())
}

fn ascii_code(v: &Value, name: &str, max: usize) -> Result<String, PayError> {
    let s = code_field(v, name, max)?;
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
    {
        return Err(PayError::Invalid(format!(
            "\"{name}\" may contain only A-Z a-z 0-9 - _ . /"
        )));
    }
    Ok(s)
}

impl NewPayment {
    /// Reads a `POST /v1/payments` body. Amounts are whole dong: a JSON integer > 0 (a fraction, a
    /// string or a negative number is refused).
    pub fn parse(v: &Value) -> Result<NewPayment, PayError> {
        if !v.is_object() {
            return Err(PayError::Invalid("the body must be a JSON object".into()));
        }
        const KNOWN: [&str; 10] = [
            "dossier_ref",
            "agency",
            "procedure_code",
            "fee_code",
            "amount",
            "payer",
            "description",
            "return_url",
            "expires_at",
            "currency",
        ];
        if let Some(obj) = v.as_object() {
            if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(PayError::Invalid(format!("unknown field {k:?}")));
            }
        }
        if let Some(c) = v.get("currency") {
            if c.as_str() != Some("VND") {
                return Err(PayError::Invalid("\"currency\" must be \"VND\"".into()));
            }
        }
        let amount = match v.get("amount") {
            Some(Value::Number(n)) => n.as_i64().filter(|a| *a > 0).ok_or_else(|| {
                PayError::Invalid("\"amount\" must be a positive whole number of dong".into())
            })?,
            _ => {
                return Err(PayError::Invalid(
                    "\"amount\" is required: a positive whole number of dong".into(),
                ))
            }
        };
        // 1,000,000,000,000 VND: far above any fee, far below i64 overflow in sums.
        if amount > 1_000_000_000_000 {
            return Err(PayError::Invalid("\"amount\" is too large".into()));
        }
        let payer = v
            .get("payer")
            .filter(|p| p.is_object())
            .ok_or_else(|| PayError::Invalid("\"payer\" is required (an object)".into()))?;
        let payer_name = code_field(payer, "name", 200)?;
        let payer_cccd = match payer.get("cccd") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PayError::Invalid(
                        "\"payer.cccd\" must be the 12 digits of a CCCD".into(),
                    ));
                }
                Some(s.to_owned())
            }
            Some(_) => return Err(PayError::Invalid("\"payer.cccd\" must be a string".into())),
        };
        let description = match v.get("description") {
            None | Some(Value::Null) => None,
            Some(_) => Some(code_field(v, "description", 200)?),
        };
        let return_url = match v.get("return_url") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let u = code_field(v, "return_url", 1000)?;
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(PayError::Invalid(
                        "\"return_url\" must be an http(s) URL".into(),
                    ));
                }
                Some(u)
            }
        };
        let expires_at = match v.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(crate::timefmt::parse_rfc3339(s).ok_or_else(|| {
                PayError::Invalid("\"expires_at\" must be an RFC 3339 time".into())
            })?),
            Some(_) => {
                return Err(PayError::Invalid(
                    "\"expires_at\" must be an RFC 3339 time".into(),
                ))
            }
        };
        Ok(NewPayment {
            dossier_ref: ascii_code(v, "dossier_ref", 64)?,
            agency: ascii_code(v, "agency", 64)?,
            procedure_code: ascii_code(v, "procedure_code", 64)?,
            fee_code: ascii_code(v, "fee_code", 64)?,
            amount,
            payer_name,
            payer_cccd,
            description,
            return_url,
            expires_at,
        })
    }
}

/// Who asks, and under which Idempotency-Key (its response is stored with the change).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: String,
    pub idem: Option<(String, String)>,
    pub lang: Lang,
    pub client_ip: String,
}

impl Ctx {
    pub fn system() -> Self {
        Ctx {
            actor: "system".into(),
            idem: None,
            lang: Lang::Vi,
            client_ip: "127.0.0.1".into(),
        }
    }
}

/// A finished portal call: the HTTP status and JSON body (also what an idempotent replay gets).
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub status: u16,
    pub body: Value,
}

/// What a report did to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
    /// Nothing changed because the attempt was already final (a replay or a lost race).
    AlreadyFinal,
    Conflict,
    DoublePayment,
}

pub struct Payments {
    store: Store,
    cfg: PaymentsConfig,
    registry: Registry,
    callback_base: String,
    /// This instance's lease owner id.
    pub instance: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("registry", &self.registry)
            .field("instance", &self.instance)
            .finish()
    }
}

fn scaled(cfg: &PaymentsConfig, secs: u64) -> Duration {
    let ms = (secs as f64 * 1000.0 * cfg.backoff_scale.clamp(0.0, 1000.0)).round();
    Duration::milliseconds(ms.max(1.0) as i64)
}

/// Delays between status queries of an attempt (by how many were made).
const SYNC_BACKOFF_SECS: [u64; 8] = [10, 30, 60, 120, 300, 600, 1800, 3600];

/// Delays between webhook deliveries (gateways.md: about a day in all).
pub const WEBHOOK_BACKOFF_SECS: [u64; 15] = [
    60, 300, 300, 600, 600, 600, 600, 600, 3600, 3600, 3600, 3600, 3600, 21600, 21600,
];

fn transition(
    subject: &'static str,
    id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
    actor: &str,
) -> TransitionRow {
    TransitionRow {
        subject,
        subject_id: id.to_owned(),
        from_state: from.map(str::to_owned),
        to_state: to.to_owned(),
        cause: cause.to_owned(),
        actor: actor.to_owned(),
    }
}

fn log_for(payment_id: &str, t: &TransitionRow, now: OffsetDateTime) -> LogInput {
    record::payment_state(
        payment_id,
        t.subject,
        &t.subject_id,
        t.from_state.as_deref(),
        &t.to_state,
        &t.cause,
        &t.actor,
        now,
    )
}

/// What a gateway's answer to `start` writes into the attempt row.
type FillAttempt = Box<dyn Fn(&mut AttemptRecord) + Send + Sync>;

impl Payments {
    pub fn new(store: Store, cfg: PaymentsConfig, registry: Registry, public_url: &str) -> Self {
        let base = if cfg.callback_base_url.is_empty() {
            public_url
        } else {
            cfg.callback_base_url.as_str()
        };
        let callback_base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Payments {
            store,
            cfg,
            registry,
            callback_base,
            instance: format!("antin-{}", uuid::Uuid::new_v4().simple()),
            http,
        }
    }

    /// Uses this client for webhooks (e.g. one trusting a test CA).
    pub fn with_webhook_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    fn lease(&self) -> Duration {
        Duration::seconds(self.cfg.lease_secs.clamp(1, 86_400) as i64)
    }

    fn not_found_grace(&self) -> Duration {
        Duration::seconds(self.cfg.not_found_grace_secs.min(86_400) as i64)
    }

    pub fn config(&self) -> &PaymentsConfig {
        &self.cfg
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn idem_response(ctx: &Ctx, status: u16, body: &Value) -> Option<IdemResponse> {
        ctx.idem.as_ref().map(|(portal, key)| IdemResponse {
            portal: portal.clone(),
            key: key.clone(),
            status,
            body: body.to_string(),
        })
    }

    async fn load(&self, id: &str) -> Result<PaymentAggregate, PayError> {
        self.store.pay_load(id).await?.ok_or(PayError::NotFound)
    }

    /// Loads a payment as seen by a portal (others' payments do not exist for it).
    pub async fn get_for(&self, portal: Option<&str>, id: &str) -> Result<Value, PayError> {
        let agg = self.load(id).await?;
        if let Some(p) = portal {
            if agg.payment.portal != p {
                return Err(PayError::NotFound);
            }
        }
        Ok(view(&agg))
    }

    // --- Create ---------------------------------------------------------------------------------

    pub async fn create(
        &self,
        ctx: &Ctx,
        req: NewPayment,
        pseudonyms: &Pseudonymizer,
        now: OffsetDateTime,
    ) -> Result<Done, PayError> {
        let agency = self
            .cfg
            .agencies
            .get(&req.agency)
            .ok_or_else(|| PayError::Invalid(format!("unknown agency {:?}", req.agency)))?;
        let expires_at = match req.expires_at {
            Some(t) => {
                if t <= now + Duration::seconds(60) {
                    return Err(PayError::Invalid(
                        "\"expires_at\" must be at least a minute ahead".into(),
                    ));
                }
                if t > now + Duration::seconds(self.cfg.max_expiry_secs as i64) {
                    return Err(PayError::Invalid(format!(
                        "\"expires_at\" may be at most {} seconds ahead",
                        self.cfg.max_expiry_secs
                    )));
                }
                t
            }
            None => now + Duration::seconds(self.cfg.default_expiry_secs as i64),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let description = req
            .description
            .clone()
            .unwrap_or_else(|| format!("Thanh toán lệ phí hồ sơ {}", req.dossier_ref));
        let p = PaymentRecord {
            id: id.clone(),
            portal: ctx.actor.clone(),
            dossier_ref: req.dossier_ref.clone(),
            agency: req.agency.clone(),
            procedure_code: req.procedure_code.clone(),
            fee_code: req.fee_code.clone(),
            amount: req.amount,
            payer_name: req.payer_name.clone(),
            payer_cccd: req.payer_cccd.clone(),
            collection_account: agency.collection_account.clone(),
            description,
            return_url: req.return_url.clone(),
            state: PaymentState::Created,
            version: 0,
            refunded: 0,
            expires_at,
            created_at: now,
            updated_at: now,
        };
        let agg = PaymentAggregate {
            payment: p.clone(),
            attempts: vec![],
            refunds: vec![],
        };
        let mut body = view(&agg);
        body["gateways"] = json!(self
            .registry
            .gateways_of(&p.agency)
            .into_iter()
            .map(gateway_name)
            .collect::<Vec<_>>());
        let entry = record::payment_created(
            &id,
            &p.dossier_ref,
            &p.agency,
            &p.fee_code,
            p.amount,
            &p.payer_name,
            p.payer_cccd.as_deref(),
            &ctx.actor,
            pseudonyms,
            now,
        );
        let idem = Self::idem_response(ctx, 201, &body);
        self.store
            .pay_insert(&p, &ctx.actor, idem.as_ref(), &[entry])
            .await?;
        Ok(Done { status: 201, body })
    }

    // --- Attempts -------------------------------------------------------------------------------

    /// Starts an attempt through `kind`: stores it, asks the gateway, records the answer. A gateway
    /// timeout leaves the attempt UNKNOWN for status sync (the portal still gets 201 and the state).
    pub async fn start_attempt(
        &self,
        ctx: &Ctx,
        portal: Option<&str>,
        payment_id: &str,
        kind: GatewayKind,
        now: OffsetDateTime,
    ) -> Result<Done, PayError> {
        let gw = gateway_name(kind);
        let (attempt, connector, payment) = {
            let mut tries = 0;
            loop {
                tries += 1;
                if tries > MAX_RETRIES {
                    return Err(PayError::Contended);
                }
                let agg = self.load(payment_id).await?;
                if portal.is_some_and(|p| p != agg.payment.portal) {
                    return Err(PayError::NotFound);
                }
                payment_start_allowed(agg.payment.state)?;
                if agg.payment.expires_at <= now {
                    return Err(PayError::Illegal(Illegal {
                        what: "payment",
                        state: "past its expiry",
                        event: "start_attempt",
                    }));
                }
                if agg.attempts.len() >= self.cfg.max_attempts {
                    return Err(PayError::Invalid(format!(
                        "a payment may have at most {} attempts",
                        self.cfg.max_attempts
                    )));
                }
                let connector = self
                    .registry
                    .get(&agg.payment.agency, kind)
                    .ok_or_else(|| PayError::GatewayNotConfigured {
                        agency: agg.payment.agency.clone(),
                        gateway: gw.into(),
                    })?
                    .clone();
                let window = Duration::seconds(self.cfg.attempt_window_secs as i64);
                let expires_at = std::cmp::min(now + window, agg.payment.expires_at);
                let seq = agg.attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1;
                let attempt_ref = new_ref();
                // Stored before the gateway is asked: if its answer is lost (timeout, crash),
                // status sync and callbacks still find the order by the gateway's own reference.
                let gateway_ref = Some(connector.order_ref(&attempt_ref, now));
                let a = AttemptRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    payment_id: payment_id.to_owned(),
                    seq,
                    gateway: gw.into(),
                    attempt_ref,
                    gateway_ref,
                    state: AttemptState::Created,
                    amount: agg.payment.amount,
                    redirect_url: None,
                    qr_payload: None,
                    gateway_txn_id: None,
                    client_ip: ctx.client_ip.clone(),
                    created_at: now,
                    updated_at: now,
                    expires_at,
                    // If this instance dies before the gateway's answer is stored, status sync
                    // asks the gateway about it.
                    next_query_at: Some(now + scaled(&self.cfg, 30)),
                    query_count: 0,
                };
                let t = transition(
                    "attempt",
                    &a.id,
                    None,
                    "created",
                    "attempt_created",
                    &ctx.actor,
                );
                let change = PayChange {
                    payment_id: payment_id.to_owned(),
                    expected_version: agg.payment.version,
                    log: vec![log_for(payment_id, &t, now)],
                    transitions: vec![t],
                    new_attempts: vec![a.clone()],
                    ..Default::default()
                };
                if self.store.pay_commit(&change, now).await? {
                    break (a, connector, agg.payment);
                }
            }
        };
        let req = StartRequest {
            attempt_ref: attempt.attempt_ref.clone(),
            amount_vnd: attempt.amount,
            order_info: payment.description.clone(),
            created_at: now,
            expires_at: attempt.expires_at,
            return_url: payment
                .return_url
                .clone()
                .unwrap_or_else(|| self.cfg.default_return_url.clone()),
            callback_url: format!("{}{}", self.callback_base, callback_path(kind)),
            client_ip: ctx.client_ip.clone(),
            lang: ctx.lang,
        };
        let result = connector.start(&req).await;
        let mut unavailable = None;
        let (event, cause, fill): (AttemptEvent, String, FillAttempt) = match result {
            Ok(StartOutcome::Redirect { url, gateway_ref }) => (
                AttemptEvent::Started,
                "gateway_accepted".into(),
                Box::new(move |a: &mut AttemptRecord| {
                    a.redirect_url = Some(url.clone());
                    a.gateway_ref = Some(gateway_ref.clone());
                }),
            ),
            Ok(StartOutcome::Qr {
                payload,
                gateway_ref,
            }) => (
                AttemptEvent::Started,
                "qr_issued".into(),
                Box::new(move |a: &mut AttemptRecord| {
                    a.qr_payload = Some(payload.clone());
                    a.gateway_ref = Some(gateway_ref.clone());
                }),
            ),
            Ok(StartOutcome::Rejected { code, message }) => {
                tracing::info!(gateway = gw, %code, %message, "gateway rejected the order");
                (
                    AttemptEvent::Rejected,
                    format!("gateway_rejected:{code}"),
                    Box::new(|_: &mut AttemptRecord| {}),
                )
            }
            Err(GatewayError::Unknown { detail, .. }) => {
                tracing::warn!(gateway = gw, %detail, "no trustworthy answer: attempt UNKNOWN");
                (
                    AttemptEvent::NoAnswer,
                    "gateway_no_answer".into(),
                    Box::new(|_: &mut AttemptRecord| {}),
                )
            }
            Err(e) => {
                // Nothing was sent (circuit open, unsupported, configuration): the attempt
                // failed here, with certainty.
                unavailable = Some(e.to_string());
                (
                    AttemptEvent::Rejected,
                    "gateway_not_called".into(),
                    Box::new(|_: &mut AttemptRecord| {}),
                )
            }
        };
        self.on_attempt_event(
            payment_id,
            &attempt.id,
            event,
            None,
            &cause,
            &ctx.actor,
            now,
            None,
            |a| fill(a),
        )
        .await?;
        if let Some(e) = unavailable {
            return Err(PayError::GatewayUnavailable(e));
        }
        let agg = self.load(payment_id).await?;
        let a = agg
            .attempts
            .iter()
            .find(|x| x.id == attempt.id)
            .ok_or(PayError::NotFound)?;
        let mut body = attempt_view(&agg.payment, a);
        body["payment"] = view(&agg);
        if let Some(idem) = Self::idem_response(ctx, 201, &body) {
            self.store.idem_finish(&idem).await?;
        }
        Ok(Done { status: 201, body })
    }

    /// Applies one event to one attempt, re-deciding if the payment changed meanwhile. `fill`
    /// copies what the gateway said into the attempt row.
    #[allow(clippy::too_many_arguments)]
    async fn on_attempt_event(
        &self,
        payment_id: &str,
        attempt_id: &str,
        event: AttemptEvent,
        callback: Option<CallbackRow>,
        cause: &str,
        actor: &str,
        now: OffsetDateTime,
        mut loaded: Option<PaymentAggregate>,
        fill: impl Fn(&mut AttemptRecord),
    ) -> Result<Applied, PayError> {
        for _ in 0..MAX_RETRIES {
            // The caller's fresh read serves the first try (the version check catches a change
            // since); a retry reads again.
            let agg = match loaded.take() {
                Some(agg) => agg,
                None => self.load(payment_id).await?,
            };
            let idx = agg
                .attempts
                .iter()
                .position(|a| a.id == attempt_id)
                .ok_or(PayError::NotFound)?;
            let states: Vec<AttemptState> = agg.attempts.iter().map(|a| a.state).collect();
            let d = apply_attempt_event(agg.payment.state, &states, idx, event)?;
            let p = &agg.payment;
            let mut change = PayChange {
                payment_id: payment_id.to_owned(),
                expected_version: p.version,
                ..Default::default()
            };
            let mut applied = Applied::Unchanged;
            let old = &agg.attempts[idx];
            let mut a = old.clone();
            fill(&mut a);
            match d.attempt {
                AttemptStep::To(to) => {
                    a.state = to;
                    a.next_query_at = match to {
                        AttemptState::Unknown => {
                            Some(now + scaled(&self.cfg, SYNC_BACKOFF_SECS[0]))
                        }
                        // Past its window, status sync asks (the callback may be lost).
                        AttemptState::Pending | AttemptState::Created => Some(std::cmp::max(
                            a.expires_at + scaled(&self.cfg, 60),
                            now + scaled(&self.cfg, SYNC_BACKOFF_SECS[0]),
                        )),
                        _ => None,
                    };
                    change.transitions.push(transition(
                        "attempt",
                        &a.id,
                        Some(old.state.as_str()),
                        to.as_str(),
                        cause,
                        actor,
                    ));
                    applied = Applied::Changed;
                }
                AttemptStep::Conflict => {
                    change.flags.push(FlagRow {
                        attempt_id: Some(a.id.clone()),
                        kind: "conflicting_report".into(),
                        detail: format!(
                            "the gateway reported {cause} for an attempt already {}",
                            old.state.as_str()
                        ),
                    });
                    applied = Applied::Conflict;
                }
                AttemptStep::Same => {}
            }
            if a != *old || applied != Applied::Unchanged {
                change.attempts.push(a.clone());
            }
            let amount = Vnd::new(a.amount)
                .ok_or_else(|| StoreError::Corrupt(format!("attempt {} amount", a.id)))?;
            if d.double_payment {
                applied = Applied::DoublePayment;
                change
                    .postings
                    .push((a.id.clone(), ledger::double_payment(&a.gateway, amount)));
                change.flags.push(FlagRow {
                    attempt_id: Some(a.id.clone()),
                    kind: "double_payment".into(),
                    detail: format!(
                        "{} VND taken through {} while the payment was {}: refunded",
                        a.amount,
                        a.gateway,
                        p.state.as_str()
                    ),
                });
                let r = RefundRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    payment_id: payment_id.to_owned(),
                    attempt_id: a.id.clone(),
                    refund_ref: new_ref(),
                    amount: a.amount,
                    full: true,
                    reason: "double payment".into(),
                    state: RefundState::Pending,
                    gateway_refund_id: None,
                    created_by: "system".into(),
                    created_at: now,
                    updated_at: now,
                    next_try_at: Some(now),
                    tries: 0,
                };
                change.transitions.push(transition(
                    "refund",
                    &r.id,
                    None,
                    "pending",
                    "double_payment",
                    "system",
                ));
                change.new_refunds.push(r);
                change
                    .outbox
                    .push(self.event(p, "payment.double_payment", &a, now));
            }
            if let Some(to) = d.payment {
                change.payment_state = Some(to);
                change.transitions.push(transition(
                    "payment",
                    &p.id,
                    Some(p.state.as_str()),
                    to.as_str(),
                    cause,
                    actor,
                ));
                if to == PaymentState::Succeeded {
                    change.postings.push((
                        a.id.clone(),
                        ledger::payment_confirmed(&a.gateway, &p.collection_account, amount),
                    ));
                }
                let mut after = p.clone();
                after.state = to;
                change.outbox.push(self.event(
                    &after,
                    &format!("payment.{}", to.as_str()),
                    &a,
                    now,
                ));
            }
            for t in &change.transitions {
                change.log.push(log_for(payment_id, t, now));
            }
            let changed = applied != Applied::Unchanged || change.payment_state.is_some();
            if !changed && change.attempts.is_empty() {
                let result = if old.state.is_open() {
                    Applied::Unchanged
                } else {
                    Applied::AlreadyFinal
                };
                if let Some(cb) = &callback {
                    let entry = record::payment_callback(
                        &cb.gateway,
                        &cb.raw_sha256,
                        cb.payment_id.as_deref(),
                        &cb.outcome,
                        now,
                    );
                    self.store.pay_record_callback(cb, &[entry], now).await?;
                }
                return Ok(result);
            }
            if let Some(cb) = &callback {
                change.log.push(record::payment_callback(
                    &cb.gateway,
                    &cb.raw_sha256,
                    cb.payment_id.as_deref(),
                    &cb.outcome,
                    now,
                ));
                change.callback = Some(cb.clone());
            }
            if self.store.pay_commit(&change, now).await? {
                return Ok(applied);
            }
        }
        Err(PayError::Contended)
    }

    fn event(
        &self,
        p: &PaymentRecord,
        kind: &str,
        a: &AttemptRecord,
        now: OffsetDateTime,
    ) -> OutboxEvent {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "id": id,
            "type": kind,
            "created_at": crate::timefmt::vietnam(now),
            "data": {
                "payment_id": p.id,
                "dossier_ref": p.dossier_ref,
                "state": p.state.as_str(),
                "amount": p.amount,
                "currency": "VND",
                "attempt": {"id": a.id, "gateway": a.gateway, "state": a.state.as_str(),
                            "gateway_txn_id": a.gateway_txn_id},
            }
        });
        OutboxEvent {
            id,
            portal: p.portal.clone(),
            payment_id: p.id.clone(),
            event_type: kind.to_owned(),
            body: body.to_string(),
        }
    }

    fn payment_event(
        &self,
        p: &PaymentRecord,
        kind: &str,
        extra: Value,
        now: OffsetDateTime,
    ) -> OutboxEvent {
        let id = uuid::Uuid::new_v4().to_string();
        let mut data = json!({
            "payment_id": p.id,
            "dossier_ref": p.dossier_ref,
            "state": p.state.as_str(),
            "amount": p.amount,
            "refunded": p.refunded,
            "currency": "VND",
        });
        if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        let body = json!({"id": id, "type": kind, "created_at": crate::timefmt::vietnam(now), "data": data});
        OutboxEvent {
            id,
            portal: p.portal.clone(),
            payment_id: p.id.clone(),
            event_type: kind.to_owned(),
            body: body.to_string(),
        }
    }

    // --- Reports (callbacks and status queries) -------------------------------------------------

    fn outcome_of(
        &self,
        status: &ReportedStatus,
        a: &AttemptRecord,
        now: OffsetDateTime,
    ) -> Option<(Outcome, String)> {
        Some(match status {
            ReportedStatus::Succeeded => (Outcome::Succeeded, "gateway_succeeded".into()),
            ReportedStatus::Failed { code } => (Outcome::Failed, format!("gateway_failed:{code}")),
            ReportedStatus::Cancelled { code } => {
                (Outcome::Cancelled, format!("gateway_cancelled:{code}"))
            }
            ReportedStatus::Pending => (Outcome::Pending, "gateway_pending".into()),
            ReportedStatus::NotFound => {
                // The gateway does not know the order: once its window is over (with a margin
                // for clocks), no money can move on it any more.
                if now > a.expires_at + self.not_found_grace() {
                    (Outcome::Expired, "gateway_not_found_after_window".into())
                } else {
                    return None;
                }
            }
        })
    }

    /// A verified callback: order, then amount, then exactly one transition; the answer in the
    /// gateway's own format.
    pub async fn callback(
        &self,
        kind: GatewayKind,
        input: &CallbackInput<'_>,
        now: OffsetDateTime,
    ) -> HttpAnswer {
        let gw = gateway_name(kind);
        let connectors = self.registry.of_kind(kind);
        let Some((_, first)) = connectors.first() else {
            return HttpAnswer {
                status: 404,
                content_type: Some("application/json"),
                body: br#"{"error":"gateway not configured"}"#.to_vec(),
            };
        };
        // Each agency has its own credentials: the one whose signature verifies is the sender.
        let mut verdict = CallbackVerdict::BadSignature;
        let mut via: Option<(&str, &Arc<dyn Connector>)> = None;
        for (agency, c) in &connectors {
            match c.parse_callback(input) {
                CallbackVerdict::Verified(r) => {
                    verdict = CallbackVerdict::Verified(r);
                    via = Some((agency, c));
                    break;
                }
                CallbackVerdict::Malformed(m) => {
                    if !matches!(verdict, CallbackVerdict::Malformed(_)) {
                        verdict = CallbackVerdict::Malformed(m);
                    }
                }
                CallbackVerdict::BadSignature => {}
            }
        }
        let report = match verdict {
            CallbackVerdict::Verified(r) => r,
            CallbackVerdict::BadSignature => {
                tracing::warn!(gateway = gw, "callback refused: bad signature");
                return first.answer(CallbackAnswer::InvalidSignature);
            }
            CallbackVerdict::Malformed(m) => {
                tracing::warn!(gateway = gw, detail = %m, "callback refused: malformed");
                return first.answer(CallbackAnswer::Malformed);
            }
        };
        let (agency, connector) = via.unwrap_or((connectors[0].0, first));
        match self.handle_report(kind, agency, &report, now).await {
            Ok(a) => connector.answer(a),
            Err(e) => {
                tracing::error!(gateway = gw, error = %e, "callback could not be processed");
                connector.answer(CallbackAnswer::RetryLater)
            }
        }
    }

    async fn handle_report(
        &self,
        kind: GatewayKind,
        agency: &str,
        report: &GatewayReport,
        now: OffsetDateTime,
    ) -> Result<CallbackAnswer, PayError> {
        let gw = gateway_name(kind);
        let raw = hex::encode(report.raw_sha256);
        let mut cb = CallbackRow {
            gateway: gw.into(),
            raw_sha256: raw.clone(),
            gateway_ref: report.gateway_ref.clone(),
            payment_id: None,
            attempt_id: None,
            outcome: String::new(),
        };
        let found = self.store.pay_find_attempt(gw, &report.gateway_ref).await?;
        let agg = match &found {
            Some(item) => self.store.pay_load(&item.payment_id).await?,
            None => None,
        };
        let (Some(item), Some(agg)) = (found, agg) else {
            cb.outcome = "order_not_found".into();
            let entry = record::payment_callback(gw, &raw, None, &cb.outcome, now);
            self.store.pay_record_callback(&cb, &[entry], now).await?;
            return Ok(CallbackAnswer::OrderNotFound);
        };
        if agg.payment.agency != agency {
            // Signed with another agency's credentials than the order's: not this order.
            cb.outcome = "order_not_found".into();
            let entry = record::payment_callback(gw, &raw, None, "agency_mismatch", now);
            self.store.pay_record_callback(&cb, &[entry], now).await?;
            return Ok(CallbackAnswer::OrderNotFound);
        }
        cb.payment_id = Some(item.payment_id.clone());
        cb.attempt_id = Some(item.attempt_id.clone());
        let Some(attempt) = agg.attempts.iter().find(|a| a.id == item.attempt_id) else {
            return Ok(CallbackAnswer::OrderNotFound);
        };
        if report.amount_vnd != attempt.amount {
            cb.outcome = "invalid_amount".into();
            self.flag(
                &agg,
                Some(&attempt.id),
                "amount_mismatch",
                &format!(
                    "{gw} reported {} VND for an order of {} VND",
                    report.amount_vnd, attempt.amount
                ),
                Some(cb),
                now,
            )
            .await?;
            return Ok(CallbackAnswer::InvalidAmount);
        }
        let Some((outcome, cause)) = self.outcome_of(&report.status, attempt, now) else {
            cb.outcome = "not_final".into();
            let entry =
                record::payment_callback(gw, &raw, cb.payment_id.as_deref(), &cb.outcome, now);
            self.store.pay_record_callback(&cb, &[entry], now).await?;
            return Ok(CallbackAnswer::Confirmed);
        };
        cb.outcome = cause.clone();
        let txn = report.gateway_txn_id.clone();
        let applied = self
            .on_attempt_event(
                &item.payment_id,
                &item.attempt_id,
                AttemptEvent::Reported(outcome),
                Some(cb),
                &format!("callback:{cause}"),
                &format!("gateway:{gw}"),
                now,
                Some(agg),
                |a| {
                    if a.gateway_txn_id.is_none() {
                        a.gateway_txn_id = txn.clone();
                    }
                },
            )
            .await?;
        Ok(match applied {
            Applied::Changed | Applied::DoublePayment => CallbackAnswer::Confirmed,
            Applied::AlreadyFinal | Applied::Conflict => CallbackAnswer::AlreadyConfirmed,
            Applied::Unchanged => CallbackAnswer::Confirmed,
        })
    }

    /// Records an anomaly for finance officers (no state change), with the callback that caused it.
    async fn flag(
        &self,
        agg: &PaymentAggregate,
        attempt_id: Option<&str>,
        kind: &str,
        detail: &str,
        callback: Option<CallbackRow>,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let mut agg = agg.clone();
        for _ in 0..MAX_RETRIES {
            let mut change = PayChange {
                payment_id: agg.payment.id.clone(),
                expected_version: agg.payment.version,
                flags: vec![FlagRow {
                    attempt_id: attempt_id.map(str::to_owned),
                    kind: kind.into(),
                    detail: detail.into(),
                }],
                ..Default::default()
            };
            if let Some(cb) = &callback {
                change.log.push(record::payment_callback(
                    &cb.gateway,
                    &cb.raw_sha256,
                    cb.payment_id.as_deref(),
                    &cb.outcome,
                    now,
                ));
                change.callback = Some(cb.clone());
            }
            if self.store.pay_commit(&change, now).await? {
                return Ok(());
            }
            agg = self.load(&agg.payment.id).await?;
        }
        Err(PayError::Contended)
    }

    /// Asks the gateway about one attempt and applies the answer (status sync).
    pub async fn sync_attempt(
        &self,
        payment_id: &str,
        attempt_id: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, PayError> {
        let agg = self.load(payment_id).await?;
        let Some(a) = agg.attempts.iter().find(|a| a.id == attempt_id).cloned() else {
            return Err(PayError::NotFound);
        };
        if !a.state.is_open() {
            self.store
                .pay_reschedule_sync(&a.id, &self.instance, None, a.query_count)
                .await?;
            return Ok(Applied::Unchanged);
        }
        let kind = parse_gateway(&a.gateway)
            .ok_or_else(|| StoreError::Corrupt(format!("gateway {:?}", a.gateway)))?;
        let Some(connector) = self.registry.get(&agg.payment.agency, kind) else {
            return Err(PayError::GatewayNotConfigured {
                agency: agg.payment.agency.clone(),
                gateway: a.gateway.clone(),
            });
        };
        let count = a.query_count + 1;
        let next = now
            + scaled(
                &self.cfg,
                SYNC_BACKOFF_SECS[(count as usize).min(SYNC_BACKOFF_SECS.len() - 1)],
            );
        let answer = if kind == GatewayKind::Vietqr {
            // A bank transfer has no status query: the credit notification or the statement match
            // settles it. Past the window with nothing received, the QR is expired.
            if now > a.expires_at + self.not_found_grace() {
                Some(ReportedStatus::NotFound)
            } else {
                None
            }
        } else {
            let q = QueryRequest {
                gateway_ref: a
                    .gateway_ref
                    .clone()
                    .unwrap_or_else(|| a.attempt_ref.clone()),
                created_at: a.created_at,
                gateway_txn_id: a.gateway_txn_id.clone(),
                client_ip: a.client_ip.clone(),
            };
            match connector.query(&q).await {
                Ok(report) => {
                    if report.status == ReportedStatus::Succeeded && report.amount_vnd != a.amount {
                        self.flag(
                            &agg,
                            Some(&a.id),
                            "amount_mismatch",
                            &format!(
                                "status query reported {} VND paid for an order of {} VND",
                                report.amount_vnd, a.amount
                            ),
                            None,
                            now,
                        )
                        .await?;
                        self.store
                            .pay_reschedule_sync(&a.id, &self.instance, None, count)
                            .await?;
                        return Ok(Applied::Conflict);
                    }
                    let txn = report.gateway_txn_id.clone();
                    if let Some((outcome, cause)) = self.outcome_of(&report.status, &a, now) {
                        if outcome != Outcome::Pending || a.state != AttemptState::Pending {
                            let applied = self
                                .on_attempt_event(
                                    payment_id,
                                    attempt_id,
                                    AttemptEvent::Reported(outcome),
                                    None,
                                    &format!("status_query:{cause}"),
                                    "system:status_sync",
                                    now,
                                    None,
                                    |r| {
                                        if r.gateway_txn_id.is_none() {
                                            r.gateway_txn_id = txn.clone();
                                        }
                                    },
                                )
                                .await?;
                            if !matches!(applied, Applied::Unchanged | Applied::AlreadyFinal)
                                && outcome != Outcome::Pending
                            {
                                return Ok(applied);
                            }
                        }
                    }
                    None
                }
                Err(e) => {
                    tracing::info!(gateway = %a.gateway, attempt = %a.id, error = %e, "status query without an answer");
                    if a.state == AttemptState::Created {
                        // The start never got an answer stored: unknown until the gateway says.
                        self.on_attempt_event(
                            payment_id,
                            attempt_id,
                            AttemptEvent::NoAnswer,
                            None,
                            "status_query_no_answer",
                            "system:status_sync",
                            now,
                            None,
                            |_| {},
                        )
                        .await?;
                    }
                    None
                }
            }
        };
        if let Some(status) = answer {
            if let Some((outcome, cause)) = self.outcome_of(&status, &a, now) {
                return self
                    .on_attempt_event(
                        payment_id,
                        attempt_id,
                        AttemptEvent::Reported(outcome),
                        None,
                        &format!("status_sync:{cause}"),
                        "system:status_sync",
                        now,
                        None,
                        |_| {},
                    )
                    .await;
            }
        }
        self.store
            .pay_reschedule_sync(&a.id, &self.instance, Some(next), count)
            .await?;
        Ok(Applied::Unchanged)
    }

    // --- Cancel, expire -------------------------------------------------------------------------

    pub async fn cancel(
        &self,
        ctx: &Ctx,
        portal: Option<&str>,
        payment_id: &str,
        now: OffsetDateTime,
    ) -> Result<Done, PayError> {
        self.apply_payment_event(
            ctx,
            portal,
            payment_id,
            PaymentEvent::Cancel,
            "cancelled_by_portal",
            now,
        )
        .await
    }

    /// Expires a payment whose time ran out with nothing waiting (the sweep).
    pub async fn expire(&self, payment_id: &str, now: OffsetDateTime) -> Result<bool, PayError> {
        let agg = self.load(payment_id).await?;
        if agg.payment.expires_at > now
            || payment_step(agg.payment.state, PaymentEvent::Expire).is_err()
        {
            return Ok(false);
        }
        match self
            .apply_payment_event(
                &Ctx::system(),
                None,
                payment_id,
                PaymentEvent::Expire,
                "expiry_passed",
                now,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(PayError::Illegal(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn apply_payment_event(
        &self,
        ctx: &Ctx,
        portal: Option<&str>,
        payment_id: &str,
        event: PaymentEvent,
        cause: &str,
        now: OffsetDateTime,
    ) -> Result<Done, PayError> {
        for _ in 0..MAX_RETRIES {
            let agg = self.load(payment_id).await?;
            if portal.is_some_and(|p| p != agg.payment.portal) {
                return Err(PayError::NotFound);
            }
            let p = &agg.payment;
            let to = payment_step(p.state, event)?;
            let t = transition(
                "payment",
                &p.id,
                Some(p.state.as_str()),
                to.as_str(),
                cause,
                &ctx.actor,
            );
            let mut after = agg.clone();
            after.payment.state = to;
            after.payment.version += 1;
            let body = view(&after);
            let change = PayChange {
                payment_id: p.id.clone(),
                expected_version: p.version,
                payment_state: Some(to),
                log: vec![log_for(&p.id, &t, now)],
                transitions: vec![t],
                outbox: vec![self.payment_event_row(&after.payment, to, now)],
                idem: Self::idem_response(ctx, 200, &body),
                ..Default::default()
            };
            if self.store.pay_commit(&change, now).await? {
                return Ok(Done { status: 200, body });
            }
        }
        Err(PayError::Contended)
    }

    fn payment_event_row(
        &self,
        p: &PaymentRecord,
        to: PaymentState,
        now: OffsetDateTime,
    ) -> OutboxEvent {
        self.payment_event(p, &format!("payment.{}", to.as_str()), json!({}), now)
    }

    // --- Refunds --------------------------------------------------------------------------------

    pub async fn refund(
        &self,
        ctx: &Ctx,
        portal: Option<&str>,
        payment_id: &str,
        amount: Option<i64>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Done, PayError> {
        let (refund, attempt, payment) = 'outer: {
            for _ in 0..MAX_RETRIES {
                let agg = self.load(payment_id).await?;
                if portal.is_some_and(|p| p != agg.payment.portal) {
                    return Err(PayError::NotFound);
                }
                let p = &agg.payment;
                let amount = amount.unwrap_or(p.amount - p.refunded);
                let to = payment_step(
                    p.state,
                    PaymentEvent::RefundRequested {
                        amount,
                        paid: p.amount,
                        refunded: p.refunded,
                    },
                )
                .map_err(|e| {
                    if p.state == PaymentState::Succeeded
                        || p.state == PaymentState::PartiallyRefunded
                    {
                        PayError::Invalid(format!(
                            "the refund must be between 1 and {} VND",
                            p.amount - p.refunded
                        ))
                    } else {
                        PayError::Illegal(e)
                    }
                })?;
                let a = agg
                    .attempts
                    .iter()
                    .find(|a| a.state == AttemptState::Succeeded)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("paid payment {} without a success", p.id))
                    })?
                    .clone();
                let amount_v =
                    Vnd::new(amount).ok_or_else(|| PayError::Invalid("amount".into()))?;
                let r = RefundRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    payment_id: p.id.clone(),
                    attempt_id: a.id.clone(),
                    refund_ref: new_ref(),
                    amount,
                    full: amount == p.amount && p.refunded == 0,
                    reason: reason.to_owned(),
                    state: RefundState::Pending,
                    gateway_refund_id: None,
                    created_by: ctx.actor.clone(),
                    created_at: now,
                    updated_at: now,
                    // If this instance dies before the gateway's answer is stored, the refund
                    // worker asks again where the gateway de-duplicates by our refund reference.
                    next_try_at: parse_gateway(&a.gateway)
                        .filter(|k| refund_retry_safe(*k))
                        .map(|_| now + scaled(&self.cfg, 30)),
                    tries: 0,
                };
                let ts = vec![
                    transition(
                        "payment",
                        &p.id,
                        Some(p.state.as_str()),
                        to.as_str(),
                        "refund_requested",
                        &ctx.actor,
                    ),
                    transition(
                        "refund",
                        &r.id,
                        None,
                        "pending",
                        "refund_requested",
                        &ctx.actor,
                    ),
                ];
                let mut after = p.clone();
                after.state = to;
                let change = PayChange {
                    payment_id: p.id.clone(),
                    expected_version: p.version,
                    payment_state: Some(to),
                    log: ts.iter().map(|t| log_for(&p.id, t, now)).collect(),
                    transitions: ts,
                    new_refunds: vec![r.clone()],
                    postings: vec![(
                        r.id.clone(),
                        ledger::refund_requested(&p.collection_account, amount_v),
                    )],
                    outbox: vec![self.payment_event(
                        &after,
                        "payment.refund_pending",
                        json!({"refund_id": r.id, "refund_amount": amount}),
                        now,
                    )],
                    ..Default::default()
                };
                if self.store.pay_commit(&change, now).await? {
                    break 'outer (r, a, after);
                }
            }
            return Err(PayError::Contended);
        };
        self.call_refund(&payment, &attempt, &refund, &ctx.actor, &ctx.client_ip, now)
            .await?;
        let agg = self.load(payment_id).await?;
        let r = agg
            .refunds
            .iter()
            .find(|x| x.id == refund.id)
            .ok_or(PayError::NotFound)?;
        let body = json!({"refund": refund_view(r), "payment": view(&agg)});
        if let Some(idem) = Self::idem_response(ctx, 201, &body) {
            self.store.idem_finish(&idem).await?;
        }
        Ok(Done { status: 201, body })
    }

    /// Asks the gateway to refund and records the answer (a timeout leaves it pending for a retry).
    async fn call_refund(
        &self,
        p: &PaymentRecord,
        a: &AttemptRecord,
        r: &RefundRecord,
        actor: &str,
        client_ip: &str,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let kind = parse_gateway(&a.gateway)
            .ok_or_else(|| StoreError::Corrupt(format!("gateway {:?}", a.gateway)))?;
        let Some(connector) = self.registry.get(&p.agency, kind) else {
            return Err(PayError::GatewayNotConfigured {
                agency: p.agency.clone(),
                gateway: a.gateway.clone(),
            });
        };
        let req = RefundRequest {
            refund_ref: r.refund_ref.clone(),
            gateway_ref: a
                .gateway_ref
                .clone()
                .unwrap_or_else(|| a.attempt_ref.clone()),
            gateway_txn_id: a.gateway_txn_id.clone(),
            amount_vnd: r.amount,
            full: r.full,
            reason: r.reason.clone(),
            original_created_at: a.created_at,
            // The refund's own creation time, never this call's: a retry must send the request
            // first sent (ZaloPay dates m_refund_id from it, and a new date would be a second
            // refund of the same money).
            created_at: r.created_at,
            created_by: actor.to_owned(),
            client_ip: client_ip.to_owned(),
        };
        let tries = r.tries + 1;
        let retry = now
            + scaled(
                &self.cfg,
                SYNC_BACKOFF_SECS[(tries as usize).min(SYNC_BACKOFF_SECS.len() - 1)],
            );
        match connector.refund(&req).await {
            Ok(RefundOutcome::Refunded { gateway_refund_id }) => {
                self.finish_refund(
                    &p.id,
                    &r.id,
                    RefundState::Succeeded,
                    gateway_refund_id,
                    "gateway_refunded",
                    now,
                )
                .await
            }
            Ok(RefundOutcome::Rejected { code, message }) => {
                tracing::warn!(refund = %r.id, %code, %message, "gateway refused the refund");
                self.finish_refund(
                    &p.id,
                    &r.id,
                    RefundState::Failed,
                    None,
                    &format!("gateway_refused:{code}"),
                    now,
                )
                .await
            }
            Ok(RefundOutcome::Pending) if refund_retry_safe(kind) => {
                self.store
                    .pay_reschedule_refund(&r.id, &self.instance, Some(retry), tries)
                    .await?;
                Ok(())
            }
            Ok(RefundOutcome::Pending) => {
                self.refund_unconfirmed(
                    p,
                    a,
                    r,
                    tries,
                    "the gateway accepted the refund and reports it in progress",
                    now,
                )
                .await
            }
            Err(GatewayError::Unsupported { .. }) => {
                // VietQR: the agency returns the money by bank transfer; an officer records it.
                let agg = self.load(&p.id).await?;
                self.flag(
                    &agg,
                    Some(&a.id),
                    "manual_refund_required",
                    &format!(
                        "refund {} of {} VND must be made by bank transfer",
                        r.id, r.amount
                    ),
                    None,
                    now,
                )
                .await?;
                self.store
                    .pay_reschedule_refund(&r.id, &self.instance, None, tries)
                    .await?;
                Ok(())
            }
            Err(e) if refund_retry_safe(kind) => {
                tracing::warn!(refund = %r.id, error = %e, "refund without a trustworthy answer; will retry");
                self.store
                    .pay_reschedule_refund(&r.id, &self.instance, Some(retry), tries)
                    .await?;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(refund = %r.id, error = %e, "refund without a trustworthy answer; not re-sent");
                self.refund_unconfirmed(
                    p,
                    a,
                    r,
                    tries,
                    &format!("no trustworthy answer ({e})"),
                    now,
                )
                .await
            }
        }
    }

    /// A refund the gateway may have executed, on a gateway where sending it again could refund
    /// twice (VNPAY: every request has a new vnp_RequestId). Kept pending, not retried, flagged: an
    /// officer confirms it from the gateway's statement (reconciliation) and records the outcome.
    async fn refund_unconfirmed(
        &self,
        p: &PaymentRecord,
        a: &AttemptRecord,
        r: &RefundRecord,
        tries: i64,
        why: &str,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let agg = self.load(&p.id).await?;
        self.flag(
            &agg,
            Some(&a.id),
            "refund_unconfirmed",
            &format!(
                "refund {} of {} VND through {}: {why}; not re-sent automatically",
                r.id, r.amount, a.gateway
            ),
            None,
            now,
        )
        .await?;
        self.store
            .pay_reschedule_refund(&r.id, &self.instance, None, tries)
            .await?;
        Ok(())
    }

    /// A refund's final outcome: refund state, payment state (for refunds of the payment's own
    /// success), postings, outbox, log.
    pub async fn finish_refund(
        &self,
        payment_id: &str,
        refund_id: &str,
        outcome: RefundState,
        gateway_refund_id: Option<String>,
        cause: &str,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        for _ in 0..MAX_RETRIES {
            let agg = self.load(payment_id).await?;
            let p = &agg.payment;
            let Some(r) = agg.refunds.iter().find(|x| x.id == refund_id) else {
                return Err(PayError::NotFound);
            };
            let Some(to) = refund_step(r.state, outcome)? else {
                return Ok(());
            };
            let a = agg
                .attempts
                .iter()
                .find(|x| x.id == r.attempt_id)
                .ok_or(PayError::NotFound)?;
            let amount =
                Vnd::new(r.amount).ok_or_else(|| StoreError::Corrupt("refund amount".into()))?;
            let mut nr = r.clone();
            nr.state = to;
            nr.gateway_refund_id = gateway_refund_id.clone().or(nr.gateway_refund_id);
            nr.next_try_at = None;
            let mut change = PayChange {
                payment_id: p.id.clone(),
                expected_version: p.version,
                ..Default::default()
            };
            change.transitions.push(transition(
                "refund",
                &r.id,
                Some(r.state.as_str()),
                to.as_str(),
                cause,
                "system",
            ));
            let own = a.state == AttemptState::Succeeded;
            if own {
                let ev = match to {
                    RefundState::Succeeded => PaymentEvent::RefundSucceeded {
                        amount: r.amount,
                        paid: p.amount,
                        refunded: p.refunded,
                    },
                    _ => PaymentEvent::RefundFailed {
                        refunded: p.refunded,
                    },
                };
                let pto = payment_step(p.state, ev)?;
                change.payment_state = Some(pto);
                change.transitions.push(transition(
                    "payment",
                    &p.id,
                    Some(p.state.as_str()),
                    pto.as_str(),
                    cause,
                    "system",
                ));
                let mut after = p.clone();
                after.state = pto;
                if to == RefundState::Succeeded {
                    after.refunded = p.refunded + r.amount;
                    change.refunded = Some(after.refunded);
                }
                change.outbox.push(self.payment_event(
                    &after,
                    &format!("payment.{}", pto.as_str()),
                    json!({"refund_id": r.id, "refund_state": to.as_str(), "refund_amount": r.amount}),
                    now,
                ));
            } else {
                change.outbox.push(self.payment_event(
                    p,
                    "payment.double_payment_refund",
                    json!({"refund_id": r.id, "refund_state": to.as_str(), "refund_amount": r.amount, "attempt_id": a.id}),
                    now,
                ));
            }
            match to {
                RefundState::Succeeded => change
                    .postings
                    .push((r.id.clone(), ledger::refund_completed(&a.gateway, amount))),
                RefundState::Failed if own => change.postings.push((
                    r.id.clone(),
                    ledger::refund_refused(&p.collection_account, amount),
                )),
                RefundState::Failed => change.flags.push(FlagRow {
                    attempt_id: Some(a.id.clone()),
                    kind: "double_payment_refund_refused".into(),
                    detail: format!(
                        "the gateway refused to return {} VND: an officer must",
                        r.amount
                    ),
                }),
                RefundState::Pending => {}
            }
            change.refunds.push(nr);
            for t in &change.transitions {
                change.log.push(log_for(&p.id, t, now));
            }
            if self.store.pay_commit(&change, now).await? {
                return Ok(());
            }
        }
        Err(PayError::Contended)
    }

    /// Calls the gateway again for a pending refund (the refund worker).
    pub async fn retry_refund(
        &self,
        payment_id: &str,
        refund_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let agg = self.load(payment_id).await?;
        let Some(r) = agg.refunds.iter().find(|x| x.id == refund_id) else {
            return Err(PayError::NotFound);
        };
        if r.state != RefundState::Pending {
            return Ok(());
        }
        let a = agg
            .attempts
            .iter()
            .find(|x| x.id == r.attempt_id)
            .ok_or(PayError::NotFound)?;
        self.call_refund(&agg.payment, a, r, &r.created_by, "127.0.0.1", now)
            .await
    }

    // --- Webhooks -------------------------------------------------------------------------------

    /// The portal configuration for a payment's portal (by the name of its API key).
    async fn portal_target(&self, portal: &str) -> Result<Option<(String, Vec<u8>)>, PayError> {
        let Some(key_id) = portal.strip_prefix("key:") else {
            return Ok(None);
        };
        let Some(name) = self.store.api_key_name(key_id).await? else {
            return Ok(None);
        };
        let Some(pc) = self.cfg.portals.get(&name) else {
            return Ok(None);
        };
        if pc.webhook_url.is_empty() {
            return Ok(None);
        }
        let key = match (&pc.webhook_key, &pc.webhook_key_env) {
            (Some(k), _) => {
                use secrecy::ExposeSecret;
                k.expose_secret().as_bytes().to_vec()
            }
            (None, Some(var)) => std::env::var(var).unwrap_or_default().into_bytes(),
            (None, None) => Vec::new(),
        };
        if key.is_empty() {
            tracing::warn!(portal = %name, "portal has a webhook URL but no key: not delivering unsigned");
            return Ok(None);
        }
        Ok(Some((pc.webhook_url.clone(), key)))
    }

    /// Delivers due outbox events once; returns how many were delivered. The claimed events are
    /// sent concurrently (each to its portal, each with its own timeout) and their outcomes
    /// recorded in one write: one event at a time, delivery fell behind the callbacks that make
    /// them.
    pub async fn deliver_due(&self, now: OffsetDateTime) -> Result<usize, PayError> {
        let rows = self
            .store
            .outbox_claim(&self.instance, now, self.lease(), 32)
            .await?;
        let sends = rows.iter().map(|row| self.deliver_one(row, now));
        let mut done = Vec::with_capacity(rows.len());
        let mut first_error = None;
        for r in futures_util::future::join_all(sends).await {
            match r {
                Ok(d) => done.push(d),
                // Its lease runs out and it is tried again; the others are still recorded.
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        let delivered = done.iter().filter(|d| d.delivered_at.is_some()).count();
        self.store.outbox_done_many(&self.instance, &done).await?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(delivered),
        }
    }

    /// Sends one claimed event; says what to record for it.
    async fn deliver_one(
        &self,
        row: &OutboxRow,
        now: OffsetDateTime,
    ) -> Result<OutboxDone, PayError> {
        let attempts = row.attempts + 1;
        let next = WEBHOOK_BACKOFF_SECS
            .get(row.attempts as usize)
            .map(|s| now + scaled(&self.cfg, *s));
        let failed = |e: String| OutboxDone {
            id: row.id.clone(),
            delivered_at: None,
            next,
            attempts,
            error: Some(e),
        };
        let Some((url, key)) = self.portal_target(&row.portal).await? else {
            // Nowhere to deliver: kept, not retried (the portal polls).
            return Ok(OutboxDone {
                id: row.id.clone(),
                delivered_at: None,
                next: None,
                attempts: row.attempts,
                error: Some("no webhook configured".into()),
            });
        };
        let t = now.unix_timestamp();
        let sig = webhook_signature(&key, t, row.body.as_bytes());
        let res = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-antin-event-id", &row.id)
            .header("x-antin-event-type", &row.event_type)
            .header("x-antin-signature", format!("t={t},v1={sig}"))
            .body(row.body.clone())
            .send()
            .await;
        Ok(match res {
            Ok(resp) if resp.status().is_success() => OutboxDone {
                id: row.id.clone(),
                delivered_at: Some(now),
                next: None,
                attempts,
                error: None,
            },
            Ok(resp) => failed(format!("HTTP {}", resp.status().as_u16())),
            Err(e) => failed(format!("{e}")),
        })
    }

    // --- Worker passes --------------------------------------------------------------------------

    /// Status sync: queries claimed attempts. Returns how many were processed.
    pub async fn sync_due(&self, now: OffsetDateTime) -> Result<usize, PayError> {
        let items = self
            .store
            .pay_claim_sync(&self.instance, now, self.lease(), 16)
            .await?;
        let n = items.len();
        for item in items {
            if let Err(e) = self
                .sync_attempt(&item.payment_id, &item.attempt_id, now)
                .await
            {
                tracing::warn!(attempt = %item.attempt_id, error = %e, "status sync failed");
                let next = now + scaled(&self.cfg, 60);
                self.store
                    .pay_reschedule_sync(&item.attempt_id, &self.instance, Some(next), 0)
                    .await?;
            }
        }
        Ok(n)
    }

    pub async fn refunds_due(&self, now: OffsetDateTime) -> Result<usize, PayError> {
        let items = self
            .store
            .pay_claim_refunds(&self.instance, now, self.lease(), 16)
            .await?;
        let n = items.len();
        for item in items {
            if let Err(e) = self
                .retry_refund(&item.payment_id, &item.attempt_id, now)
                .await
            {
                tracing::warn!(refund = %item.attempt_id, error = %e, "refund retry failed");
            }
        }
        Ok(n)
    }

    pub async fn expire_due(&self, now: OffsetDateTime) -> Result<usize, PayError> {
        let ids = self.store.pay_expired_candidates(now, 64).await?;
        let mut n = 0;
        for id in ids {
            if self.expire(&id, now).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Attempts unresolved at the daily cut-off (23:59:59 Vietnam time) of `date`.
    pub async fn unresolved_at_cutoff(
        &self,
        date: time::Date,
    ) -> Result<Vec<AttemptRecord>, PayError> {
        Ok(self.store.pay_unresolved(cutoff_of(date)).await?)
    }

    /// One pass of every worker.
    pub async fn work_once(&self, now: OffsetDateTime) -> Result<(), PayError> {
        self.sync_due(now).await?;
        self.refunds_due(now).await?;
        self.expire_due(now).await?;
        self.deliver_due(now).await?;
        self.store.idem_purge(now - Duration::hours(24)).await?;
        Ok(())
    }
}

/// Whether a refund may be sent again with the same reference after an unclear answer: MoMo
/// replays by requestId, ZaloPay refuses a repeated m_refund_id (then asks query_refund); VNPAY has
/// no such key.
fn refund_retry_safe(kind: GatewayKind) -> bool {
    matches!(kind, GatewayKind::Momo | GatewayKind::Zalopay)
}

/// A reference we send to gateways: 20 upper-case hex digits (80 random bits; unique by the
/// database's constraint). Short enough for the VietQR memo (25 with its prefix), upper case so a
/// bank that upper-cases memos still gives it back unchanged.
fn new_ref() -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string();
    s.truncate(20);
    s.make_ascii_uppercase();
    s
}

/// The daily cut-off of `date`: 23:59:59 in Vietnam time.
pub fn cutoff_of(date: time::Date) -> OffsetDateTime {
    date.with_hms(23, 59, 59)
        .unwrap_or(date.midnight())
        .assume_offset(crate::timefmt::VIETNAM)
}

/// `hex(HMAC-SHA256(key, "<t>." + body))`, the webhook signature portals check.
pub fn webhook_signature(key: &[u8], t: i64, body: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    hex::encode(ctx.sign().as_ref())
}

fn attempt_view(p: &PaymentRecord, a: &AttemptRecord) -> Value {
    let mut v = json!({
        "id": a.id,
        "gateway": a.gateway,
        "state": a.state.as_str(),
        "amount": a.amount,
        "reference": a.gateway_ref.clone().unwrap_or_else(|| a.attempt_ref.clone()),
        "created_at": crate::timefmt::vietnam(a.created_at),
        "expires_at": crate::timefmt::vietnam(a.expires_at),
        "gateway_txn_id": a.gateway_txn_id,
    });
    if let Some(u) = &a.redirect_url {
        v["redirect_url"] = json!(u);
    }
    if let Some(q) = &a.qr_payload {
        v["qr"] = json!({
            "payload": q,
            "png": format!("/v1/payments/{}/attempts/{}/qr.png", p.id, a.id),
            "svg": format!("/v1/payments/{}/attempts/{}/qr.svg", p.id, a.id),
        });
    }
    v
}

fn refund_view(r: &RefundRecord) -> Value {
    json!({
        "id": r.id,
        "attempt_id": r.attempt_id,
        "amount": r.amount,
        "full": r.full,
        "reason": r.reason,
        "state": r.state.as_str(),
        "gateway_refund_id": r.gateway_refund_id,
        "created_at": crate::timefmt::vietnam(r.created_at),
    })
}

/// The JSON a portal sees for a payment (no CCCD: the portal sent it and needs it not back).
pub fn view(agg: &PaymentAggregate) -> Value {
    let p = &agg.payment;
    json!({
        "id": p.id,
        "dossier_ref": p.dossier_ref,
        "agency": p.agency,
        "procedure_code": p.procedure_code,
        "fee_code": p.fee_code,
        "amount": p.amount,
        "currency": "VND",
        "refunded": p.refunded,
        "description": p.description,
        "state": p.state.as_str(),
        "collection_account": p.collection_account,
        "expires_at": crate::timefmt::vietnam(p.expires_at),
        "created_at": crate::timefmt::vietnam(p.created_at),
        "updated_at": crate::timefmt::vietnam(p.updated_at),
        "attempts": agg.attempts.iter().map(|a| attempt_view(p, a)).collect::<Vec<_>>(),
        "refunds": agg.refunds.iter().map(refund_view).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_requests_are_parsed_strictly() {
        let ok = json!({"dossier_ref": "HS-2026-0001", "agency": "dev", "procedure_code": "1.000001",
            "fee_code": "LPHT", "amount": 50000, "payer": {"name": "Nguyễn Văn An", "cccd": "001099012345"}});
        let p = NewPayment::parse(&ok).unwrap();
        assert_eq!(p.amount, 50_000);
        assert_eq!(p.payer_name, "Nguyễn Văn An");
        for (field, bad) in [
            ("amount", json!(0)),
            ("amount", json!(-5)),
            ("amount", json!(1.5)),
            ("amount", json!("50000")),
            ("amount", json!(10_000_000_000_000i64)),
            ("dossier_ref", json!("HS 1")),
            ("dossier_ref", json!("")),
            ("currency", json!("USD")),
            ("extra", json!(1)),
        ] {
            let mut v = ok.clone();
            v[field] = bad.clone();
            assert!(NewPayment::parse(&v).is_err(), "{field} = {bad}");
        }
        let mut v = ok.clone();
        v["payer"]["cccd"] = json!("12345");
        assert!(NewPayment::parse(&v).is_err());
        assert!(NewPayment::parse(&json!([1])).is_err());
    }

    #[test]
    fn cutoff_is_vietnam_midnight_minus_one_second() {
        let c = cutoff_of(time::macros::date!(2026 - 11 - 22));
        assert_eq!(
            c.to_offset(time::UtcOffset::UTC),
            time::macros::datetime!(2026-11-22 16:59:59 UTC)
        );
    }

    #[test]
    fn webhook_signature_is_hmac_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        let s = webhook_signature(b"key", 1_700_000_000, br#"{"a":1}"#);
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"key");
        assert!(
            ring::hmac::verify(&k, br#"1700000000.{"a":1}"#, &hex::decode(&s).unwrap()).is_ok()
        );
        assert_eq!(s.len(), 64);
    }
}
