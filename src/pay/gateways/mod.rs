//! The gateway connectors, one folder per gateway, each implementing
//! [`crate::pay::connector::Connector`]: protocol-exact request building and signing, callback
//! verification and parsing, answers in the gateway's own format, status queries and refunds.
//!
//! Each gateway folder keeps its wire format in pure functions (no clock, no network: the time and
//! request ids are arguments) so they are unit-tested against the published vectors and fuzzed;
//! the `Connector` impl is the thin effectful edge (reqwest through [`transport::Transport`], with
//! timeouts, bounded body reads, bounded retries only where the gateway makes them safe, and a
//! [`breaker::CircuitBreaker`] per gateway).
//!
//! Never: trust a field before its signature is checked, guess an outcome (no answer or an answer
//! we cannot verify is `GatewayError::Unknown`), log or print a secret.
pub mod breaker;
pub mod momo;
pub mod registry;
pub mod secret;
pub mod text;
pub mod transport;
pub mod vietqr;
pub mod vnpay;
pub mod zalopay;

use ring::hmac;
use time::{OffsetDateTime, UtcOffset};

/// Vietnam time (GMT+7), the gateways' wall clock.
pub const VN_OFFSET: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The clock a connector reads (the system clock in production, a fixed one in tests).
pub type Clock = fn() -> OffsetDateTime;

/// Largest callback body any connector looks at; the HTTP layer should bound it earlier.
pub const MAX_CALLBACK_BYTES: usize = 64 * 1024;

pub(crate) fn hmac_hex(alg: hmac::Algorithm, key: &[u8], msg: &[u8]) -> String {
    hex::encode(hmac::sign(&hmac::Key::new(alg, key), msg).as_ref())
}

/// Constant-time check of a hex MAC (either case) over `msg`.
pub(crate) fn hmac_verify_hex(key: &hmac::Key, msg: &[u8], mac_hex: &str) -> bool {
    match hex::decode(mac_hex.trim()) {
        Ok(tag) => hmac::verify(key, msg, &tag).is_ok(),
        Err(_) => false,
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A JSON scalar as the text a gateway signs: strings as they are, numbers in their decimal form,
/// booleans as `true`/`false`, null or missing as "".
pub(crate) fn json_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// A whole non-negative integer from a JSON number or a string of ASCII digits.
pub(crate) fn json_int(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::Number(n) => n.as_i64().filter(|x| *x >= 0),
        serde_json::Value::String(s) => parse_digits(s),
        _ => None,
    }
}

/// ASCII digits only (no sign, no spaces), at most 18 of them so the value fits an i64.
pub(crate) fn parse_digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `yyyyMMddHHmmss` in Vietnam time (VNPAY's dates).
pub(crate) fn vn_compact(t: OffsetDateTime) -> String {
    let t = t.to_offset(VN_OFFSET);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `yyyyMMddHHmmss` read as Vietnam time, returned in UTC.
pub(crate) fn parse_vn_compact(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let month = time::Month::try_from(n(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8).ok()?;
    let tod = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, tod)
            .assume_offset(VN_OFFSET)
            .to_offset(UtcOffset::UTC),
    )
}

/// `yymmdd` in Vietnam time (ZaloPay's app_trans_id and m_refund_id prefix).
pub(crate) fn vn_yymmdd(t: OffsetDateTime) -> String {
    let t = t.to_offset(VN_OFFSET);
    format!(
        "{:02}{:02}{:02}",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day()
    )
}

/// Unix milliseconds (ZaloPay's app_time, timestamps).
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn vietnam_time_formats() {
        let t = datetime!(2025-11-21 17:30:05 UTC);
        assert_eq!(vn_compact(t), "20251122003005");
        assert_eq!(vn_yymmdd(t), "251122");
        assert_eq!(parse_vn_compact("20251122003005"), Some(t));
        assert_eq!(parse_vn_compact("20251322003005"), None);
        assert_eq!(parse_vn_compact("2025112200300"), None);
        assert_eq!(parse_vn_compact("+0251122003005"), None);
    }

    #[test]
    fn digits_only() {
        assert_eq!(parse_digits("1000000"), Some(1_000_000));
        assert_eq!(parse_digits("-1"), None);
        assert_eq!(parse_digits("1.5"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("9999999999999999999"), None);
    }
}
