//! MoMo's resultCode mapped to what the domain understands, in one match each.
use crate::pay::connector::ReportedStatus;

/// The payment's state from an IPN or a query answer. 0 is paid; 9000 (authorised, capture or
/// cancel next), 1000 (waiting for the user), 7000/7002 (processing) and 8000 (waiting for
/// re-confirmation) are not final; 1003 (cancelled) and 1006 (declined by the user) are the
/// citizen's cancel; any other code is a failure with the raw code kept.
pub fn payment_status(code: i64) -> ReportedStatus {
    match code {
        0 => ReportedStatus::Succeeded,
        9000 | 1000 | 7000 | 7002 | 8000 => ReportedStatus::Pending,
        1003 | 1006 => ReportedStatus::Cancelled {
            code: code.to_string(),
        },
        other => ReportedStatus::Failed {
            code: other.to_string(),
        },
    }
}

/// Codes that say nothing about the payment, only that this request got no usable answer:
/// 10 maintenance, 11 access denied, 12 API version, 13 merchant authentication, 40 duplicated
/// requestId (the first request is not final yet), 43 conflicting transaction in progress,
/// 99 unknown.
pub fn is_no_answer(code: i64) -> bool {
    matches!(code, 10 | 11 | 12 | 13 | 40 | 43 | 99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(payment_status(0), ReportedStatus::Succeeded);
        for c in [9000, 1000, 7000, 7002, 8000] {
            assert_eq!(payment_status(c), ReportedStatus::Pending);
        }
        assert_eq!(
            payment_status(1006),
            ReportedStatus::Cancelled {
                code: "1006".into()
            }
        );
        assert_eq!(
            payment_status(1001),
            ReportedStatus::Failed {
                code: "1001".into()
            }
        );
        assert_eq!(
            payment_status(4242),
            ReportedStatus::Failed {
                code: "4242".into()
            }
        );
        assert!(is_no_answer(99) && !is_no_answer(0) && !is_no_answer(42));
    }
}
