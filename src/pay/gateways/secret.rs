//! Gateway credentials: given inline (development, the simulators' test keys) or by the name of
//! an environment variable (production). Held as `SecretString` so they never reach `Debug` or logs.
use secrecy::SecretString;

use crate::pay::connector::GatewayError;

/// Resolves a secret given either inline (`inline`) or through the variable named by `env`;
/// exactly one of the two must be set. `what` names the field in errors (never the value).
pub fn resolve(
    what: &str,
    inline: Option<&SecretString>,
    env: Option<&str>,
) -> Result<SecretString, GatewayError> {
    match (inline, env) {
        (Some(s), None) => Ok(s.clone()),
        (None, Some(var)) => std::env::var(var).map(SecretString::from).map_err(|_| {
            GatewayError::Config(format!("{what}: the environment variable {var} is not set"))
        }),
        (Some(_), Some(_)) => Err(GatewayError::Config(format!(
            "{what}: set either {what} or {what}_env, not both"
        ))),
        (None, None) => Err(GatewayError::Config(format!(
            "{what}: missing (set {what} or {what}_env)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn exactly_one_source() {
        let s = SecretString::from("k");
        assert_eq!(resolve("key", Some(&s), None).unwrap().expose_secret(), "k");
        assert!(resolve("key", Some(&s), Some("X")).is_err());
        assert!(resolve("key", None, None).is_err());
        let e = resolve("key", None, Some("ANTIN_TEST_SURELY_UNSET_VAR")).unwrap_err();
        assert!(e.to_string().contains("ANTIN_TEST_SURELY_UNSET_VAR"));
        std::env::set_var("ANTIN_TEST_PAY_SECRET_VAR", "from-env");
        let v = resolve("key", None, Some("ANTIN_TEST_PAY_SECRET_VAR")).unwrap();
        assert_eq!(v.expose_secret(), "from-env");
    }
}
