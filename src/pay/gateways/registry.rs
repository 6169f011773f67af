//! The configured connectors: one optional table per gateway, built into `Arc<dyn Connector>`s.
//! The domain's `[payments]` configuration embeds [`GatewaysConfig`] (e.g. as
//! `[payments.gateways.vnpay]`).
use std::collections::HashMap;
use std::sync::Arc;

use crate::pay::connector::{Connector, GatewayError, GatewayKind};

use super::momo::{MomoConfig, MomoConnector};
use super::vietqr::{VietqrConfig, VietqrConnector};
use super::vnpay::{VnpayConfig, VnpayConnector};
use super::zalopay::{ZalopayConfig, ZalopayConnector};

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaysConfig {
    pub vnpay: Option<VnpayConfig>,
    pub momo: Option<MomoConfig>,
    pub zalopay: Option<ZalopayConfig>,
    pub vietqr: Option<VietqrConfig>,
}

impl GatewaysConfig {
    /// Builds every configured connector (resolving `*_env` secrets now, so a missing variable
    /// fails at start-up, not at the first payment).
    pub fn build(&self) -> Result<HashMap<GatewayKind, Arc<dyn Connector>>, GatewayError> {
        let mut out: HashMap<GatewayKind, Arc<dyn Connector>> = HashMap::new();
        if let Some(c) = &self.vnpay {
            out.insert(
                GatewayKind::Vnpay,
                Arc::new(VnpayConnector::new(c.clone())?),
            );
        }
        if let Some(c) = &self.momo {
            out.insert(GatewayKind::Momo, Arc::new(MomoConnector::new(c.clone())?));
        }
        if let Some(c) = &self.zalopay {
            out.insert(
                GatewayKind::Zalopay,
                Arc::new(ZalopayConnector::new(c.clone())?),
            );
        }
        if let Some(c) = &self.vietqr {
            out.insert(
                GatewayKind::Vietqr,
                Arc::new(VietqrConnector::new(c.clone())?),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The development defaults (the simulators' test credentials, never real ones).
    pub const DEV: &str = r#"
[vnpay]
base_url = "http://127.0.0.1:8090/vnpay"
tmn_code = "ANTINDEV"
hash_secret = "ANTINDEVVNPAYSECRET0000000000000"

[momo]
base_url = "http://127.0.0.1:8090/momo"
partner_code = "MOMOANTIN"
access_key = "ANTINDEVACCESS"
secret_key = "ANTINDEVMOMOSECRET00000000000000"
http = { timeout_ms = 10000, breaker = { failure_threshold = 3 } }

[zalopay]
base_url = "http://127.0.0.1:8090/zalopay"
app_id = 2554
key1 = "ANTINDEVZALOKEY1000000000000000"
key2_env = "ANTIN_TEST_ZALOPAY_KEY2"

[vietqr]
bin = "970415"
account = "113366668888"
notify_secret = "ANTINDEVBANKSECRET00000000000000"
"#;

    #[test]
    fn dev_configuration_builds_every_connector() {
        std::env::set_var("ANTIN_TEST_ZALOPAY_KEY2", "ANTINDEVZALOKEY2000000000000000");
        let cfg: GatewaysConfig = toml::from_str(DEV).unwrap();
        assert_eq!(cfg.momo.as_ref().unwrap().http.breaker.failure_threshold, 3);
        assert_eq!(cfg.momo.as_ref().unwrap().http.breaker.cool_down_secs, 30);
        let built = cfg.build().unwrap();
        assert_eq!(built.len(), 4);
        for (kind, c) in &built {
            assert_eq!(c.kind(), *kind);
        }
        // Secrets stay out of Debug.
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("ANTINDEVVNPAYSECRET"), "{dbg}");
        assert!(!dbg.contains("ANTINDEVMOMOSECRET"), "{dbg}");
    }

    #[test]
    fn unknown_fields_and_missing_secrets_are_refused() {
        let typo = DEV.replace("tmn_code", "tmncode");
        assert!(toml::from_str::<GatewaysConfig>(&typo).is_err());
        let both = DEV.replace(
            "notify_secret = \"ANTINDEVBANKSECRET00000000000000\"",
            "notify_secret = \"x\"\nnotify_secret_env = \"Y\"",
        );
        let cfg: GatewaysConfig = toml::from_str(&both).unwrap();
        assert!(matches!(cfg.build(), Err(GatewayError::Config(_))));
        let unset = DEV.replace("ANTIN_TEST_ZALOPAY_KEY2", "ANTIN_TEST_SURELY_UNSET_KEY2");
        let cfg: GatewaysConfig = toml::from_str(&unset).unwrap();
        let Err(e) = cfg.build() else { panic!() };
        assert!(e.to_string().contains("ANTIN_TEST_SURELY_UNSET_KEY2"));
    }
}
