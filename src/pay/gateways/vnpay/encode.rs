//! VNPAY's query-string encoding and the pay-URL signature (PAY API 2.1.0).
//!
//! The signed string: every `vnp_*` parameter with a non-empty value except vnp_SecureHash and
//! vnp_SecureHashType, sorted by key in byte order, keys and values form-URL-encoded (UTF-8, space
//! as `+`, `%XX` in UPPERCASE hex, `A-Z a-z 0-9 - _ .` kept), joined `k=v` with `&`;
//! vnp_SecureHash = lowercase hex HMAC-SHA512(hash secret, that string).
use ring::hmac;

/// VNPAY's form-URL-encoding of one key or value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    BadEscape,
    NotUtf8,
}

/// Decodes one component of a query string (`+` is a space, `%XX` either case).
pub fn decode(s: &str) -> Result<String, DecodeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|c| h(*c)),
                    b.get(i + 2).and_then(|c| h(*c)),
                ) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err(DecodeError::BadEscape),
                }
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

/// The string VNPAY signs, from decoded parameters.
pub fn signing_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| {
            k.starts_with("vnp_")
                && !v.is_empty()
                && *k != "vnp_SecureHash"
                && *k != "vnp_SecureHashType"
        })
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (k, v)) in kept.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

pub fn sign(secret: &[u8], data: &str) -> String {
    super::super::hmac_hex(hmac::HMAC_SHA512, secret, data.as_bytes())
}

/// The pay URL: `{pay_url}?{signed string}&vnp_SecureHash={hash}`.
pub fn pay_url(pay_url: &str, secret: &[u8], params: &[(&str, String)]) -> String {
    let data = signing_string(params.iter().map(|(k, v)| (*k, v.as_str())));
    let hash = sign(secret, &data);
    format!("{pay_url}?{data}&vnp_SecureHash={hash}")
}

/// Splits a raw query string into decoded pairs; a repeated key is refused (which copy was
/// signed would be ambiguous).
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k).map_err(|e| format!("parameter name: {e:?}"))?;
        let v = decode(v).map_err(|e| format!("value of {k}: {e:?}"))?;
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("parameter {k} repeated"));
        }
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_rules() {
        assert_eq!(encode("a b"), "a+b");
        assert_eq!(encode("A-Z_a.z09"), "A-Z_a.z09");
        assert_eq!(encode("~*'()!"), "%7E%2A%27%28%29%21");
        assert_eq!(
            encode("https://x.vn/r?a=1&b=2"),
            "https%3A%2F%2Fx.vn%2Fr%3Fa%3D1%26b%3D2"
        );
        assert_eq!(encode("Lệ"), "L%E1%BB%87");
        assert_eq!(decode("L%e1%bb%87+x").unwrap(), "Lệ x");
        assert_eq!(decode("%G1"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%1"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%FF"), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn signing_string_sorts_and_filters() {
        let s = signing_string([
            ("vnp_TxnRef", "A1"),
            ("vnp_Amount", "1000000"),
            ("vnp_SecureHash", "x"),
            ("vnp_SecureHashType", "HmacSHA512"),
            ("vnp_BankCode", ""),
            ("other", "y"),
            ("vnp_OrderInfo", "Le phi ho so"),
        ]);
        assert_eq!(
            s,
            "vnp_Amount=1000000&vnp_OrderInfo=Le+phi+ho+so&vnp_TxnRef=A1"
        );
    }

    #[test]
    fn query_parsing_refuses_repeats_and_bad_escapes() {
        assert!(parse_query("vnp_A=1&vnp_A=2").is_err());
        assert!(parse_query("vnp_A=%ZZ").is_err());
        assert_eq!(
            parse_query("vnp_A=a+b&&vnp_B=").unwrap(),
            vec![
                ("vnp_A".into(), "a b".into()),
                ("vnp_B".into(), String::new())
            ]
        );
    }
}
