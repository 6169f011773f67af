//! Builds the connectors of every agency from `[payments.agencies.*]`: each gateway table is the
//! connector's own configuration struct (src/pay/gateways), checked here at start so a typo or a
//! missing secret fails the start, not the first payment.

use std::sync::Arc;

use crate::config::PaymentsConfig;

use super::connector::{Connector, GatewayError};
use super::gateways::{momo, vietqr, vnpay, zalopay};
use super::service::Registry;

#[derive(Debug, thiserror::Error)]
#[error("payments.agencies.{agency}.{gateway}: {reason}")]
pub struct RegistryError {
    pub agency: String,
    pub gateway: &'static str,
    pub reason: String,
}

fn build<C, F>(
    agency: &str,
    gateway: &'static str,
    value: &toml::Value,
    make: F,
) -> Result<Arc<dyn Connector>, RegistryError>
where
    C: serde::de::DeserializeOwned,
    F: FnOnce(C) -> Result<Arc<dyn Connector>, GatewayError>,
{
    let err = |reason: String| RegistryError {
        agency: agency.to_owned(),
        gateway,
        reason,
    };
    let cfg: C = value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    make(cfg).map_err(|e| err(e.to_string()))
}

pub fn from_config(cfg: &PaymentsConfig) -> Result<Registry, RegistryError> {
    let mut registry = Registry::default();
    if !cfg.enabled {
        return Ok(registry);
    }
    for (id, agency) in &cfg.agencies {
        if let Some(v) = &agency.vnpay {
            let c = build(id, "vnpay", v, |c: vnpay::VnpayConfig| {
                Ok(Arc::new(vnpay::VnpayConnector::new(c)?) as Arc<dyn Connector>)
            })?;
            registry.insert(id, c);
        }
        if let Some(v) = &agency.momo {
            let c = build(id, "momo", v, |c: momo::MomoConfig| {
                Ok(Arc::new(momo::MomoConnector::new(c)?) as Arc<dyn Connector>)
            })?;
            registry.insert(id, c);
        }
        if let Some(v) = &agency.zalopay {
            let c = build(id, "zalopay", v, |c: zalopay::ZalopayConfig| {
                Ok(Arc::new(zalopay::ZalopayConnector::new(c)?) as Arc<dyn Connector>)
            })?;
            registry.insert(id, c);
        }
        if let Some(v) = &agency.vietqr {
            let c = build(id, "vietqr", v, |c: vietqr::VietqrConfig| {
                Ok(Arc::new(vietqr::VietqrConnector::new(c)?) as Arc<dyn Connector>)
            })?;
            registry.insert(id, c);
        }
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_configuration_builds_all_four_connectors() {
        let c = crate::config::Config::load_from(None, Vec::new()).unwrap();
        let r = super::from_config(&c.payments).unwrap();
        assert_eq!(r.gateways_of("dev").len(), 4);
    }

    #[test]
    fn a_missing_secret_fails_the_start() {
        let env = vec![(
            "ANTIN_PAYMENTS__AGENCIES__DEV__VNPAY".to_string(),
            r#"{ base_url = "http://x", tmn_code = "A" }"#.to_string(),
        )];
        let c = crate::config::Config::load_from(None, env).unwrap();
        let e = super::from_config(&c.payments).unwrap_err();
        assert!(e.to_string().contains("vnpay"), "{e}");
    }
}
