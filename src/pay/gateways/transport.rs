//! The outbound edge shared by the connectors: one reqwest client per gateway with connect and
//! request timeouts, no redirects, bounded response bodies, the gateway's circuit breaker, and
//! retries only for calls the caller declares idempotent.
//!
//! Whatever cannot be trusted (no answer, a timeout, a 5xx, a body over the limit, and whatever
//! the connector's parser rejects, e.g. a bad response signature) is `GatewayError::Unknown` and
//! counts as a breaker failure.
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::pay::connector::{GatewayError, GatewayKind};

use super::breaker::{BreakerConfig, CircuitBreaker};

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub connect_timeout_ms: u64,
    /// Whole request, body included.
    pub timeout_ms: u64,
    /// Largest response body read; more is an untrusted answer.
    pub max_response_bytes: usize,
    /// Extra tries for idempotent calls (status queries; MoMo calls keyed by requestId).
    pub retries: u32,
    pub retry_backoff_ms: u64,
    pub breaker: BreakerConfig,
    /// PEM roots for https base URLs (default: the system bundle).
    pub ca_bundle: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout_ms: 3_000,
            timeout_ms: 15_000,
            max_response_bytes: 64 * 1024,
            retries: 2,
            retry_backoff_ms: 200,
            breaker: BreakerConfig::default(),
            ca_bundle: None,
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// Whether a call may be sent again after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Creates and refunds whose key does not make a repeat safe: one try only.
    Never,
    /// Queries, and calls the gateway deduplicates by an idempotency key.
    Idempotent,
}

/// A response as received: status and the (bounded) body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

pub struct Transport {
    kind: GatewayKind,
    client: reqwest::Client,
    config: HttpConfig,
    breaker: Mutex<CircuitBreaker>,
}

impl Transport {
    pub fn new(
        kind: GatewayKind,
        base_url: &str,
        config: &HttpConfig,
    ) -> Result<Self, GatewayError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("antin/", env!("CARGO_PKG_VERSION")));
        if base_url.starts_with("https://") {
            let path = config
                .ca_bundle
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
            let pem = std::fs::read(&path)
                .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        } else if !base_url.starts_with("http://") {
            return Err(GatewayError::Config(format!(
                "{kind:?} base_url must be http:// or https://"
            )));
        }
        let client = builder
            .build()
            .map_err(|e| GatewayError::Config(format!("{kind:?} HTTP client: {e}")))?;
        Ok(Transport {
            kind,
            client,
            config: config.clone(),
            breaker: Mutex::new(CircuitBreaker::new(config.breaker)),
        })
    }

    fn unknown(&self, detail: impl Into<String>) -> GatewayError {
        GatewayError::Unknown {
            gateway: self.kind,
            detail: detail.into(),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // A poisoned lock only means another call panicked mid-update; the state is still a
        // valid breaker state.
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `build(try_number)` to `url` and hands each response to `parse`, retrying (when
    /// `retry` allows) while the outcome is `Unknown`. `build` is called per try so a request id
    /// can be fresh for each one.
    pub async fn call<T>(
        &self,
        url: &str,
        retry: Retry,
        mut build: impl FnMut(u32) -> Body,
        parse: impl Fn(&Response) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let tries = match retry {
            Retry::Never => 1,
            Retry::Idempotent => 1 + self.config.retries.min(5),
        };
        let mut last = None;
        for n in 0..tries {
            if n > 0 {
                let backoff = self
                    .config
                    .retry_backoff_ms
                    .saturating_mul(1 << (n - 1).min(6));
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            if !self.breaker().try_acquire(Instant::now()) {
                return Err(GatewayError::Unavailable { gateway: self.kind });
            }
            // Reports to the breaker even if this future is dropped mid-call (a cancelled
            // half-open probe must not leave the breaker refusing forever).
            let mut guard = Outcome {
                transport: self,
                reported: false,
            };
            let outcome = match self.send(url, build(n)).await {
                Ok(resp) => parse(&resp),
                Err(e) => Err(e),
            };
            guard.reported = true;
            match outcome {
                Err(e @ GatewayError::Unknown { .. }) => {
                    self.breaker().on_failure(Instant::now());
                    tracing::warn!(gateway = ?self.kind, try_number = n, error = %e, "gateway call");
                    last = Some(e);
                }
                other => {
                    self.breaker().on_success();
                    return other;
                }
            }
        }
        Err(last.unwrap_or_else(|| self.unknown("no try made")))
    }

    async fn send(&self, url: &str, body: Body) -> Result<Response, GatewayError> {
        let req = self.client.post(url);
        let req = match body {
            Body::Json(v) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&v).map_err(|e| self.unknown(e.to_string()))?),
            Body::Form(pairs) => req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form_encode(&pairs)),
        };
        let mut resp = req.send().await.map_err(|e| {
            self.unknown(if e.is_timeout() {
                "timeout".to_owned()
            } else {
                format!("no answer: {e}")
            })
        })?;
        let status = resp.status().as_u16();
        let limit = self.config.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(self.unknown(format!("response over {limit} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.unknown(format!("reading the response: {e}")))?
        {
            if body.len() + chunk.len() > limit {
                return Err(self.unknown(format!("response over {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        if status >= 500 {
            return Err(self.unknown(format!("HTTP {status}")));
        }
        Ok(Response { status, body })
    }
}

/// Counts a call that never reported (its future was dropped) as a failure.
struct Outcome<'a> {
    transport: &'a Transport,
    reported: bool,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.transport.breaker().on_failure(Instant::now());
        }
    }
}

/// application/x-www-form-urlencoded (WHATWG: space as `+`, unreserved `*-._` and alphanumerics
/// kept).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let enc = |s: &str, out: &mut String| {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    };
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Parses a JSON object response; anything else is an untrusted answer.
pub fn json_object(
    kind: GatewayKind,
    resp: &Response,
) -> Result<serde_json::Map<String, serde_json::Value>, GatewayError> {
    match serde_json::from_slice::<serde_json::Value>(&resp.body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(GatewayError::Unknown {
            gateway: kind,
            detail: format!("HTTP {}: the answer is not a JSON object", resp.status),
        }),
        Err(e) => Err(GatewayError::Unknown {
            gateway: kind,
            detail: format!("HTTP {}: the answer is not JSON: {e}", resp.status),
        }),
    }
}
