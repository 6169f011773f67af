//! The HTTPS API: axum on rustls, API keys and client certificates, limits, metrics, graceful
//! shutdown. Handlers stay thin: they authenticate, parse the request, call the cores, store.

pub mod auth;
pub mod check;
pub mod error;
mod extend;
mod log;
pub mod metrics;
mod openapi;
mod payments;
mod recon;
mod routes;
mod signing;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::i18n::Lang;
use crate::store::Store;
use crate::verify::Verifier;
use auth::{Caller, Role};
use error::{ApiError, ErrorCode};

/// Everything a request handler may use.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub verifier: Verifier,
    pub metrics: metrics::Metrics,
    /// Bounds CPU-bound verification work running at once.
    pub verify_slots: Semaphore,
    pub client_cert_role: Role,
    /// The transparency log every decision is written to.
    pub log: crate::audit::log::TransparencyLog,
    /// The signing profiles.
    pub signer: crate::sign::service::Signer,
    /// Fee payments (None when `payments.enabled` is false).
    pub payments: Option<Arc<crate::pay::service::Payments>>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error(transparent)]
    Context(#[from] crate::verify::engine::ContextError),
    #[error(transparent)]
    Log(#[from] crate::audit::log::LogError),
    #[error(transparent)]
    Sign(#[from] crate::sign::service::SignError),
    #[error("payments: {0}")]
    Payments(String),
}

impl AppState {
    /// Builds the state from a configuration and an open store, with the payment connectors the
    /// configuration describes.
    pub fn new(config: Config, store: Store) -> Result<Self, StateError> {
        let registry = crate::pay::registry::from_config(&config.payments)
            .map_err(|e| StateError::Payments(e.to_string()))?;
        Self::with_registry(config, store, registry)
    }

    /// Builds the state with the given payment connectors (tests use fakes).
    pub fn with_registry(
        config: Config,
        store: Store,
        registry: crate::pay::service::Registry,
    ) -> Result<Self, StateError> {
        let context = crate::verify::engine::Context::from_config(&config, &[])?;
        let signer =
            crate::sign::service::Signer::from_config(&config.sign, &config.server.public_url)?;
        let log = crate::audit::log::TransparencyLog::open(
            store.clone(),
            &config.audit,
            &config.server.public_url,
        )?;
        let concurrency = match config.server.verify_concurrency {
            0 => {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
                    * 4
            }
            n => n,
        };
        let client_cert_role = Role::parse(&config.server.client_cert_role).unwrap_or(Role::Portal);
        let payments = config.payments.enabled.then(|| {
            Arc::new(crate::pay::service::Payments::new(
                store.clone(),
                config.payments.clone(),
                registry,
                &config.server.public_url,
            ))
        });
        Ok(AppState {
            payments,
            config,
            store,
            verifier: Verifier::new(context),
            metrics: Default::default(),
            verify_slots: Semaphore::new(concurrency),
            client_cert_role,
            log,
            signer,
        })
    }
}

/// Per-connection facts, attached to every request of the connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// SHA-256 of the verified client certificate (mTLS), if one was presented.
    pub client_cert_sha256: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Builds the router (without TLS), e.g. for in-process tests.
pub fn router(state: Arc<AppState>) -> axum::Router {
    use tower_http::limit::RequestBodyLimitLayer;
    let max_body = state.config.server.max_body_bytes;
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    let mut app = routes::routes()
        .merge(check::routes(&state))
        .merge(extend::routes());
    if let Some(tsa) = state.signer.dev_tsa() {
        // The built-in test TSA (development only: sign.dev_tsa), for clients and profiles that
        // want an RFC 3161 URL.
        app = app.nest_service("/dev/tsa", crate::sign::tsa::router(tsa));
    }
    if let Some(ocsp) = state.signer.dev_ocsp() {
        // The built-in test OCSP responder (development only: sign.dev_ocsp), RFC 6960 A.1.
        app = app.nest_service("/dev/ocsp", crate::sign::ocsp::router(ocsp));
    }
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::from_fn(move |req, next| {
            with_timeout(req, next, timeout)
        }));
    // Reconciliation uploads are larger and slower than any other request: their own limit
    // (enforced while streaming to disk) and time budget.
    let import_timeout = Duration::from_secs(state.config.recon.import_timeout_secs.max(1));
    let imports = recon::import_routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            with_timeout(req, next, import_timeout)
        }));
    app.merge(imports)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::middleware::from_fn(localize))
        .with_state(state)
}

/// Attaches the caller (API key, else client certificate) to the request; routes decide what each
/// role may do. Requests without credentials go on as anonymous (health, metrics, OpenAPI).
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(secret) = auth::presented_key(req.headers()) {
        if !auth::looks_like_key(&secret) {
            return Err(ApiError::new(ErrorCode::Unauthenticated));
        }
        let record = state
            .store
            .find_api_key_by_hash(&auth::hash_key(secret.expose_secret()))
            .await?;
        let caller = record
            .as_ref()
            .and_then(auth::caller_for_key)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
        req.extensions_mut().insert(caller);
    } else if let Some(fp) = req
        .extensions()
        .get::<ConnInfo>()
        .and_then(|c| c.client_cert_sha256.clone())
    {
        req.extensions_mut().insert(Caller {
            id: format!("cert:{fp}"),
            role: state.client_cert_role,
        });
    }
    Ok(next.run(req).await)
}

async fn with_timeout(req: Request, next: Next, timeout: Duration) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::new(ErrorCode::Timeout)),
    }
}

/// Metrics and one structured log line per request (no bodies, no credentials).
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state
        .metrics
        .record_request(&method, &route, status, elapsed);
    tracing::info!(
        target: "antin::http",
        method,
        route,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

/// Re-renders API errors in the language the client asked for (pages of the check page are
/// left alone; an upload refused by the body limit before its handler gets a page too).
async fn localize(req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        req.headers()
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let page_upload = req.uri().path() == "/verify" && !check::wants_json(req.headers());
    let resp = next.run(req).await;
    if resp.extensions().get::<check::HtmlPage>().is_some() {
        return resp;
    }
    match resp.extensions().get::<ApiError>() {
        Some(err) if lang != Lang::Vi => err.render(lang),
        Some(_) => resp,
        None if resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && page_upload => {
            check::too_large(lang, None)
        }
        None if resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge).render(lang)
        }
        None => resp,
    }
}

/// Serves HTTPS until `shutdown` resolves, then drains connections for the grace period.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    tls_config: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    let app = router(state.clone());
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
    let handshake_timeout = Duration::from_secs(state.config.server.tls_handshake_timeout_secs);
    let connections = Arc::new(Semaphore::new(state.config.server.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing");
            drop(tcp);
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let client_cert_sha256 = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| hex::encode(ring::digest::digest(&ring::digest::SHA256, c.as_ref())));
            let info = ConnInfo {
                peer,
                client_cert_sha256,
            };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    let mut app = app.clone();
                    async move {
                        use tower::Service as _;
                        app.call(req.map(axum::body::Body::new)).await
                    }
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    tracing::info!(
        open = graceful.count(),
        "shutting down; draining connections"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing remaining connections");
    }
    state.store.close().await;
    Ok(())
}

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Requires one of `roles`.
/// The next field of a multipart form, read whole: its name and bytes. An oversized body is
/// `payload_too_large`, anything malformed `bad_request`, for every form of the API.
pub(crate) async fn next_field(
    multipart: &mut axum::extract::Multipart,
) -> Result<Option<(String, bytes::Bytes)>, ApiError> {
    Ok(next_field_with_filename(multipart)
        .await?
        .map(|(name, _, bytes)| (name, bytes)))
}

/// [`next_field`], with the part's file name when it has one.
pub(crate) async fn next_field_with_filename(
    multipart: &mut axum::extract::Multipart,
) -> Result<Option<(String, Option<String>, bytes::Bytes)>, ApiError> {
    use axum::http::StatusCode;
    let bad = |d: String| ApiError::with_detail(ErrorCode::BadRequest, d);
    let field = match multipart.next_field().await {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge))
        }
        Err(e) => return Err(bad(format!("malformed multipart body: {}", e.body_text()))),
    };
    let name = field.name().unwrap_or("").to_owned();
    let file_name = field.file_name().map(str::to_owned);
    let bytes = field.bytes().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge)
        } else {
            bad(format!("cannot read field {name:?}: {}", e.body_text()))
        }
    })?;
    Ok(Some((name, file_name, bytes)))
}

pub fn require(caller: Option<&Caller>, roles: &[Role]) -> Result<Caller, ApiError> {
    let caller = caller.ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated))?;
    if roles.contains(&caller.role) {
        Ok(caller.clone())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden))
    }
}
