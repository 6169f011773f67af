//! The simulators' own signing and encoding helpers, written from ../shared/docs/gateways.md (never
//! from the connectors in `src/pay/`, so the two sides check each other): HMAC-SHA256/512 as lowercase
//! hex, VNPAY's form-URL encoding, and a strict query-string decoder.

use ring::hmac;

/// Lowercase hex HMAC-SHA256 (MoMo signatures, ZaloPay macs, the bank's X-Bank-Signature).
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    hex::encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg).as_ref())
}

/// Lowercase hex HMAC-SHA512 (VNPAY vnp_SecureHash).
pub fn hmac_sha512_hex(key: &[u8], msg: &[u8]) -> String {
    hex::encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, key), msg).as_ref())
}

/// Compares a presented hex MAC with the expected one in constant time (case-insensitive hex).
pub fn mac_matches(expected_hex: &str, presented: &str) -> bool {
    let (Ok(a), Ok(b)) = (
        hex::decode(expected_hex),
        hex::decode(presented.to_ascii_lowercase()),
    ) else {
        return false;
    };
    // openssl's CRYPTO_memcmp needs equal lengths (it panics otherwise).
    a.len() == b.len() && openssl::memcmp::eq(&a, &b)
}

/// VNPAY's form-URL encoding (gateways.md, "Signing"): UTF-8, space as `+`, unreserved
/// `A-Z a-z 0-9 - _ .` kept, every other byte `%XX` with UPPERCASE hex (so `~` and `*` are encoded).
pub fn vnp_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
    out
}

/// The VNPAY string to sign: every `vnp_*` pair with a non-empty value except vnp_SecureHash and
/// vnp_SecureHashType, sorted by key (byte order), encoded with [`vnp_encode`], joined with `&`.
pub fn vnp_sign_data<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut v: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(k, v)| {
            k.starts_with("vnp_")
                && !v.is_empty()
                && *k != "vnp_SecureHash"
                && *k != "vnp_SecureHashType"
        })
        .collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v.iter()
        .map(|(k, v)| format!("{}={}", vnp_encode(k), vnp_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query string (or form body) as signed and sent: the same pairs, with the hash appended.
pub fn vnp_signed_query(pairs: &[(String, String)], secret: &[u8]) -> String {
    let data = vnp_sign_data(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let hash = hmac_sha512_hex(secret, data.as_bytes());
    if data.is_empty() {
        format!("vnp_SecureHash={hash}")
    } else {
        format!("{data}&vnp_SecureHash={hash}")
    }
}

/// Why a query string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent-escape in {0:?}")]
    BadEscape(String),
    /// The decoded bytes are not UTF-8.
    #[error("a value is not UTF-8")]
    NotUtf8,
    /// The same key twice (which value would be signed is ambiguous).
    #[error("parameter {0} given twice")]
    Duplicate(String),
    #[error("more than {0} parameters")]
    TooMany(usize),
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space), strictly.
pub fn form_decode(s: &str) -> Result<String, QueryError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let v = hex
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| QueryError::BadEscape(s.chars().take(40).collect()))?;
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

/// Parses a query string into ordered pairs; empty segments are skipped, a repeated key is an error.
pub fn parse_query(q: &str, max_pairs: usize) -> Result<Vec<(String, String)>, QueryError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for seg in q.split('&').filter(|s| !s.is_empty()) {
        if out.len() >= max_pairs {
            return Err(QueryError::TooMany(max_pairs));
        }
        let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
        let (k, v) = (form_decode(k)?, form_decode(v)?);
        if out.iter().any(|(ek, _)| *ek == k) {
            return Err(QueryError::Duplicate(k));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// The value of `key` among decoded pairs.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnp_encoding_follows_the_rule() {
        assert_eq!(vnp_encode("a b~*/:"), "a+b%7E%2A%2F%3A");
        assert_eq!(vnp_encode("Thanh toán"), "Thanh+to%C3%A1n");
        assert_eq!(vnp_encode("A-z_0.9"), "A-z_0.9");
    }

    #[test]
    fn sign_data_sorts_and_skips() {
        let pairs = [
            ("vnp_b", "2"),
            ("vnp_SecureHash", "x"),
            ("vnp_a", "1 2"),
            ("vnp_empty", ""),
            ("other", "z"),
            ("vnp_SecureHashType", "HmacSHA512"),
        ];
        assert_eq!(vnp_sign_data(pairs), "vnp_a=1+2&vnp_b=2");
    }

    #[test]
    fn query_decoding_is_strict() {
        assert_eq!(
            parse_query("a=1+2&b=%C3%A1&&c", 10).unwrap(),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "á".into()),
                ("c".into(), "".into())
            ]
        );
        assert!(matches!(
            parse_query("a=%G1", 10),
            Err(QueryError::BadEscape(_))
        ));
        assert!(matches!(
            parse_query("a=%2", 10),
            Err(QueryError::BadEscape(_))
        ));
        assert_eq!(parse_query("a=%FF", 10), Err(QueryError::NotUtf8));
        assert!(matches!(
            parse_query("a=1&a=2", 10),
            Err(QueryError::Duplicate(_))
        ));
        assert!(matches!(
            parse_query("a&b&c", 2),
            Err(QueryError::TooMany(2))
        ));
    }

    #[test]
    fn mac_comparison() {
        let m = hmac_sha256_hex(b"k", b"m");
        assert!(mac_matches(&m, &m.to_ascii_uppercase()));
        assert!(!mac_matches(&m, "00"));
        assert!(!mac_matches(&m, "zz"));
    }
}
