//! Times are stored in UTC and shown in Vietnam time (UTC+07:00, no daylight saving).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// RFC 3339 in Vietnam time, whole seconds: `2026-11-22T10:30:05+07:00`.
pub fn vietnam(t: OffsetDateTime) -> String {
    let t = t.to_offset(VIETNAM).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses RFC 3339 (any offset).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_vietnam_time() {
        let t = parse_rfc3339("2026-11-22T03:30:05.25Z").unwrap();
        assert_eq!(vietnam(t), "2026-11-22T10:30:05+07:00");
    }
}
