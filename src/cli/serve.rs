//! `antin serve`: storage, dev credentials on first start, TLS, trust store, then the HTTPS server.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::{CliError, EXIT_CANTCREAT, EXIT_CONFIG, EXIT_SOFTWARE, EXIT_UNAVAILABLE};
use crate::config::{Config, LogFormat};
use crate::http::auth::{self, Role};
use crate::http::{self, AppState};
use crate::store::Store;

pub async fn run(config: Config) -> Result<u8, CliError> {
    init_logging(&config);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database = %config.database.redacted_url(),
        "starting antin"
    );
    let store = Store::connect(&config.database).await?;
    {
        // Proofs from memory instead of the database; until this is done they read the database.
        let store = store.clone();
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            match store.log_warm_node_cache().await {
                Ok(n) => tracing::info!(
                    target: "antin::audit",
                    nodes = n,
                    ms = start.elapsed().as_millis() as u64,
                    "log subtree hashes loaded into memory"
                ),
                Err(e) => {
                    tracing::warn!(target: "antin::audit", error = %e, "log subtree hashes not loaded")
                }
            }
        });
    }

    if config.auth.dev_keys && store.count_api_keys().await? == 0 {
        print_dev_keys(&store).await?;
    }

    let (cert, key) = (&config.server.tls_cert, &config.server.tls_key);
    if !cert.exists() || !key.exists() {
        if !config.server.dev_tls {
            return Err(CliError::new(
                EXIT_CONFIG,
                format!(
                    "TLS certificate {} or key {} missing and server.dev_tls is false",
                    cert.display(),
                    key.display()
                ),
            ));
        }
        let fp = http::tls::create_dev_certificate(cert, key)
            .map_err(|e| CliError::new(EXIT_CANTCREAT, e.to_string()))?;
        println!(
            "Created a self-signed development TLS certificate: {} (SHA-256 {fp}).",
            cert.display()
        );
        println!(
            "  Trust it in clients with e.g. `curl --cacert {}`.",
            cert.display()
        );
    }
    let client_ca = (!config.server.client_ca.is_empty())
        .then(|| std::path::PathBuf::from(&config.server.client_ca));
    let tls = http::tls::server_config(cert, key, client_ca.as_deref())
        .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;

    let listener = http::bind(config.server.listen)
        .await
        .map_err(|e| CliError::new(EXIT_UNAVAILABLE, e.to_string()))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
    let state = Arc::new(
        AppState::new(config, store).map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?,
    );
    let started = crate::audit::record::service_started(
        &hex::encode(openssl::sha::sha256(
            format!("{:?}", state.config).as_bytes(),
        )),
        env!("CARGO_PKG_VERSION"),
        "system",
        time::OffsetDateTime::now_utc(),
    );
    state
        .store
        .log_append(&[started], time::OffsetDateTime::now_utc())
        .await?;
    spawn_checkpointer(state.clone());
    // Kept alive while serving: the in-process gateway simulators (development configuration).
    let _simulators = start_payments(&state).await?;
    println!("antin listening on https://{local}");
    println!(
        "Transparency log {}: verifier key {}",
        state.log.origin(),
        state.log.vkey()
    );
    tracing::info!(%local, "listening");
    http::serve(state, listener, tls, shutdown_signal())
        .await
        .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
    tracing::info!("stopped");
    Ok(0)
}

/// Starts the payment workers and, when configured (development), the gateway simulators on
/// `payments.simulator_listen`, calling back this server with its own certificate trusted.
async fn start_payments(state: &Arc<AppState>) -> Result<Option<crate::sim::SimHandle>, CliError> {
    let Some(payments) = state.payments.clone() else {
        return Ok(None);
    };
    let cfg = &state.config.payments;
    let mut handle = None;
    if cfg.simulators {
        let base = if cfg.callback_base_url.is_empty() {
            state
                .config
                .server
                .public_url
                .trim_end_matches('/')
                .to_owned()
        } else {
            cfg.callback_base_url.trim_end_matches('/').to_owned()
        };
        let mut sim = crate::sim::SimConfig {
            ca_file: Some(state.config.server.tls_cert.clone()),
            allow_http: base.starts_with("http://"),
            ..Default::default()
        };
        for m in &mut sim.vnpay {
            m.ipn_url = Some(format!("{base}/callbacks/vnpay/ipn"));
        }
        sim.bank.notify_url = Some(format!("{base}/callbacks/bank"));
        let (addr, h) = crate::sim::spawn(sim, cfg.simulator_listen)
            .await
            .map_err(|e| CliError::new(EXIT_UNAVAILABLE, format!("gateway simulators: {e}")))?;
        println!("Gateway simulators (test credentials, development only) on http://{addr}");
        handle = Some(h);
    }
    if cfg.workers {
        crate::pay::worker::spawn(
            payments,
            std::time::Duration::from_millis(cfg.worker_interval_ms.max(10)),
        );
    }
    Ok(handle)
}

/// Signs a checkpoint now and then every `audit.checkpoint_interval_secs` while the log grows.
fn spawn_checkpointer(state: Arc<AppState>) {
    let every = state.config.audit.checkpoint_interval_secs;
    tokio::spawn(async move {
        loop {
            if let Err(e) = state
                .log
                .checkpoint_now(time::OffsetDateTime::now_utc())
                .await
            {
                tracing::error!(target: "antin::audit", error = %e, "cannot sign a checkpoint");
            }
            if every == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(every)).await;
        }
    });
}

async fn print_dev_keys(store: &Store) -> Result<(), CliError> {
    let now = time::OffsetDateTime::now_utc();
    println!("Development API keys (shown once; antin keeps only their SHA-256):");
    for role in Role::ALL {
        let (secret, record) = auth::generate_key(&format!("dev-{role}"), role, now)
            .map_err(|_| CliError::new(EXIT_SOFTWARE, "the system random generator failed"))?;
        let entry = crate::audit::record::api_key("api_key_created", &record, "system", now);
        store.insert_api_key(&record, &[entry]).await?;
        println!("  {:<8} {}", role.as_str(), secret.expose_secret());
    }
    println!("  Use: curl -H 'Authorization: Bearer <key>' ...");
    Ok(())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANTIN_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
