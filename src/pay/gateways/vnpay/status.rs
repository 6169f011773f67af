//! VNPAY's codes mapped to what the domain understands, each in one match.
use crate::pay::connector::ReportedStatus;

/// An IPN: vnp_ResponseCode (the payment's result) and vnp_TransactionStatus.
///
/// Paid only when both are `00`. 24 is the citizen cancelling. Status 01 (not completed) is
/// pending; 07 (debited, suspected fraud) is held by VNPAY and not final either. Any other code
/// is a failed attempt with the raw code kept (the response code, or the transaction status when
/// the response code is 00).
pub fn ipn_status(response_code: &str, transaction_status: &str) -> ReportedStatus {
    match (response_code, transaction_status) {
        ("00", "00") => ReportedStatus::Succeeded,
        ("24", _) => ReportedStatus::Cancelled { code: "24".into() },
        (_, "01") | ("07", _) | (_, "07") => ReportedStatus::Pending,
        ("00", other) => ReportedStatus::Failed { code: other.into() },
        (code, _) => ReportedStatus::Failed { code: code.into() },
    }
}

/// A querydr answer's vnp_TransactionStatus (its vnp_ResponseCode is about the query itself).
/// 05/06/09 are refund states of a payment that was taken.
pub fn query_status(transaction_status: &str) -> ReportedStatus {
    match transaction_status {
        "00" | "05" | "06" | "09" => ReportedStatus::Succeeded,
        "01" | "07" => ReportedStatus::Pending,
        other => ReportedStatus::Failed { code: other.into() },
    }
}

/// vnp_ResponseCode of querydr/refund API calls (about the request, not the payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCode {
    Ok,
    /// 91: the transaction is not known.
    NotFound,
    /// 94: duplicate request (querydr) / a refund already in progress (refund).
    Duplicate,
    /// 95: refund of a transaction that did not succeed.
    NotRefundable,
    /// 02 bad TmnCode, 03 bad format, 97 checksum: our request was refused.
    Refused,
    /// 99 or anything else: no usable answer.
    Other,
}

pub fn api_code(code: &str) -> ApiCode {
    match code {
        "00" => ApiCode::Ok,
        "91" => ApiCode::NotFound,
        "94" => ApiCode::Duplicate,
        "95" => ApiCode::NotRefundable,
        "02" | "03" | "97" => ApiCode::Refused,
        _ => ApiCode::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(ipn_status("00", "00"), ReportedStatus::Succeeded);
        assert_eq!(
            ipn_status("24", "02"),
            ReportedStatus::Cancelled { code: "24".into() }
        );
        assert_eq!(ipn_status("00", "01"), ReportedStatus::Pending);
        assert_eq!(ipn_status("07", "00"), ReportedStatus::Pending);
        assert_eq!(
            ipn_status("51", "02"),
            ReportedStatus::Failed { code: "51".into() }
        );
        // A code not in the published table: failed, raw code kept.
        assert_eq!(
            ipn_status("xx", "02"),
            ReportedStatus::Failed { code: "xx".into() }
        );
        assert_eq!(
            ipn_status("00", "02"),
            ReportedStatus::Failed { code: "02".into() }
        );
        assert_eq!(query_status("00"), ReportedStatus::Succeeded);
        assert_eq!(query_status("06"), ReportedStatus::Succeeded);
        assert_eq!(query_status("01"), ReportedStatus::Pending);
        assert_eq!(
            query_status("04"),
            ReportedStatus::Failed { code: "04".into() }
        );
        assert_eq!(api_code("91"), ApiCode::NotFound);
        assert_eq!(api_code("42"), ApiCode::Other);
    }
}
