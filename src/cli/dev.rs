//! `antin dev ocsp|tsa --listen ADDR`: the built-in test OCSP responder or TSA on their own, over
//! plain HTTP (development and tests only: they sign with the test PKI's keys).

use std::net::SocketAddr;

use clap::Subcommand;

use super::{CliError, EXIT_CONFIG, EXIT_SOFTWARE, EXIT_UNAVAILABLE};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// The test OCSP responder (RFC 6960: POST /, GET /<base64>), from sign.dev_ocsp_cas.
    Ocsp {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18089")]
        listen: SocketAddr,
    },
    /// The test TSA (RFC 3161: POST /), from sign.dev_tsa_cert / dev_tsa_key.
    Tsa {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18090")]
        listen: SocketAddr,
    },
}

pub fn run(config: &Config, cmd: DevCommand) -> Result<u8, CliError> {
    let mut sign = config.sign.clone();
    // Only the dev service asked for is built (and only it must be configured).
    sign.profiles.clear();
    let (listen, router, what) = match cmd {
        DevCommand::Ocsp { listen } => {
            let ocsp = crate::sign::ocsp::DevOcsp::from_config(&sign)
                .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
            // Served at / and at /ocsp (the test PKI's AIA URL http://127.0.0.1:18089/ocsp).
            let r = crate::sign::ocsp::router(std::sync::Arc::new(ocsp));
            (
                listen,
                axum::Router::new()
                    .nest_service("/ocsp", r.clone())
                    .merge(r),
                "OCSP responder",
            )
        }
        DevCommand::Tsa { listen } => {
            sign.dev_tsa = true;
            let signer =
                crate::sign::service::Signer::from_config(&sign, &config.server.public_url)
                    .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
            let tsa = signer
                .dev_tsa()
                .ok_or_else(|| CliError::new(EXIT_CONFIG, "no dev TSA configured"))?;
            (listen, crate::sign::tsa::router(tsa), "TSA")
        }
    };
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            CliError::new(EXIT_UNAVAILABLE, format!("cannot listen on {listen}: {e}"))
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
        println!("antin dev {what} (test keys: never in production) listening on http://{local}");
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
        Ok(0)
    })
}
