//! Builds the connectors of every agency from `[payments.agencies.*]`: each gateway table is the
//! connector's own configuration struct (src/pay/gateways), checked here at start so a typo fails
//! the start, not the first payment.

use std::sync::Arc;

use crate::config::PaymentsConfig;

use super::service::Registry;

#[derive(Debug, thiserror::Error)]
#[error("payments.agencies.{agency}.{gateway}: {reason}")]
pub struct RegistryError {
    pub agency: String,
    pub gateway: &'static str,
    pub reason: String,
}

pub fn from_config(cfg: &PaymentsConfig) -> Result<Registry, RegistryError> {
    let mut registry = Registry::default();
    if !cfg.enabled {
        return Ok(registry);
    }
    // TODO(pay-core, at the pay-gw merge): build the VNPAY, MoMo, ZaloPay and VietQR connectors
    // from their config structs; until then only connectors inserted by tests exist.
    let _ = (&mut registry, Arc::new(()));
    Ok(registry)
}
