//! Text the gateways accept: Vietnamese without diacritics (VNPAY's vnp_OrderInfo, bank memos).
use unicode_normalization::UnicodeNormalization;

/// Removes Vietnamese diacritics: NFD, drop combining marks, `đ`/`Đ` to `d`/`D`.
pub fn strip_diacritics(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// ASCII letters, digits and single spaces only, at most `max` bytes: what VNPAY's OrderInfo and
/// bank memos carry safely (no `~`/`*` whose encoding differs between encoders, no `&`/`=`).
pub fn plain_ascii(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in strip_diacritics(s).chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { ' ' };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if out.len() >= max {
            break;
        }
        out.push(c);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// At most `max` characters (not bytes), cut on a character boundary.
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_without_diacritics() {
        assert_eq!(
            strip_diacritics("Lệ phí hồ sơ Đăng ký kinh doanh"),
            "Le phi ho so Dang ky kinh doanh"
        );
        assert_eq!(
            plain_ascii("Lệ phí: hồ sơ #HS-2025/001 ~*&=", 255),
            "Le phi ho so HS 2025 001"
        );
        assert_eq!(plain_ascii("đường   phố", 5), "duong");
        assert_eq!(truncate_chars("Lệ phí", 3), "Lệ ");
    }
}
