//! `antin sim`: the gateway and bank simulators on their own (antin serve can also start them
//! in-process). Test credentials only; binds loopback unless told loudly otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, EXIT_CONFIG, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::sim::{SimConfig, SimError};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub listen: SocketAddr,
    /// Simulator configuration (TOML, merged over the development defaults; see docs/gateways-sim.md).
    #[arg(long, value_name = "FILE")]
    pub sim_config: Option<PathBuf>,
    /// Multiplies retry intervals and delays (1 = the gateways' real rhythm).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Deliver callbacks to plain http:// URLs too.
    #[arg(long)]
    pub allow_http: bool,
    /// CA (or self-signed certificate) PEM to trust when calling antin over HTTPS, e.g. antin's dev
    /// certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// IPN URL of the first VNPAY merchant (VNPAY configures it per merchant, not per request).
    #[arg(long, value_name = "URL")]
    pub vnpay_ipn_url: Option<String>,
    /// Where the bank notifies credits (camt.054).
    #[arg(long, value_name = "URL")]
    pub bank_notify_url: Option<String>,
    /// Base URL browsers reach the simulator at (default http://LISTEN).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Listen on a non-loopback address (the control endpoints are unauthenticated).
    #[arg(long)]
    pub dangerous_public_bind: bool,
}

pub fn run(args: SimArgs) -> Result<u8, CliError> {
    if !args.listen.ip().is_loopback() && !args.dangerous_public_bind {
        return Err(CliError::new(
            EXIT_USAGE,
            format!(
                "{} is not a loopback address: the simulators' control endpoints are unauthenticated (use --dangerous-public-bind to insist)",
                args.listen
            ),
        ));
    }
    let mut cfg = match &args.sim_config {
        None => SimConfig::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", p.display())))?;
            SimConfig::from_toml(&text).map_err(config_err)?
        }
    };
    if let Some(s) = args.time_scale {
        cfg.time_scale = s;
    }
    cfg.allow_http |= args.allow_http;
    if args.ca_file.is_some() {
        cfg.ca_file = args.ca_file.clone();
    }
    if let Some(u) = &args.vnpay_ipn_url {
        match cfg.vnpay.first_mut() {
            Some(m) => m.ipn_url = Some(u.clone()),
            None => return Err(CliError::new(EXIT_CONFIG, "no VNPAY merchant configured")),
        }
    }
    if args.bank_notify_url.is_some() {
        cfg.bank.notify_url = args.bank_notify_url.clone();
    }
    if args.public_url.is_some() {
        cfg.public_url = args.public_url.clone();
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let (addr, handle) = crate::sim::spawn(cfg, args.listen).await.map_err(config_err)?;
        println!("antin simulators listening on http://{addr} (VNPAY /vnpay, MoMo /momo, ZaloPay /zalopay, bank /bank)");
        println!("  Test credentials only; never a real gateway. Stop with Ctrl-C.");
        tokio::select! {
            () = handle_wait(handle) => Err(CliError::new(EXIT_UNAVAILABLE, "the simulator server stopped")),
            _ = tokio::signal::ctrl_c() => Ok(0),
        }
    })
}

async fn handle_wait(h: crate::sim::SimHandle) {
    h.wait().await;
}

fn config_err(e: SimError) -> CliError {
    match e {
        SimError::Bind { .. } => CliError::new(EXIT_UNAVAILABLE, e.to_string()),
        SimError::CaFile { .. } => CliError::new(EXIT_NOINPUT, e.to_string()),
        _ => CliError::new(EXIT_CONFIG, e.to_string()),
    }
}
