//! What resolving a discrepancy posts to the ledger (pure). Nothing is edited in place: a
//! correction is a new balanced posting set built by `pay::ledger`.

use crate::pay::ledger::{recon_adjustment, Account, PostingSet, Vnd};

use super::model::{Class, Discrepancy};

/// The correcting posting for a discrepancy that involves money, `None` when it involves none
/// (a wrong account, a missing settlement, a fee difference are settled outside the ledger).
pub fn correction(d: &Discrepancy) -> Option<PostingSet> {
    if !d.class.involves_money() {
        return None;
    }
    let clearing = Account::GatewayClearing(d.gateway.clone());
    // Where money we counted but never got comes back out of: the agency's collection account
    // when a ledger row names it, else the gateway's fees (a payout short of its file).
    let agency = d
        .account
        .clone()
        .map(Account::AgencyCollection)
        .unwrap_or_else(|| Account::GatewayFees(d.gateway.clone()));
    // Money received that is not (or not all) the agency's: owed back until identified.
    let received = |v: i64| {
        if v >= 0 {
            Some(recon_adjustment(
                clearing.clone(),
                Account::RefundsPayable,
                Vnd::new(v)?,
            ))
        } else {
            Some(recon_adjustment(
                Account::RefundsPayable,
                clearing.clone(),
                Vnd::new(-v)?,
            ))
        }
    };
    match d.class {
        Class::AmountMismatch => {
            let diff = d.actual? - d.expected?;
            if diff > 0 {
                received(diff)
            } else {
                Some(recon_adjustment(agency, clearing, Vnd::new(-diff)?))
            }
        }
        Class::MissingInLedger | Class::Duplicate | Class::StatusWeFailedTheyPaid => {
            received(d.actual?)
        }
        Class::StatusWePaidTheyFailed | Class::MissingAtGateway => {
            Some(recon_adjustment(agency, clearing, Vnd::new(d.expected?)?))
        }
        Class::MissingAtBank | Class::WrongAccount | Class::FeeMismatch => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(class: Class, expected: Option<i64>, actual: Option<i64>) -> Discrepancy {
        Discrepancy {
            class,
            key: "k".into(),
            gateway: "vnpay".into(),
            ledger: None,
            gateway_row: None,
            bank: None,
            expected,
            actual,
            agency: Some("dev".into()),
            account: Some("X".into()),
            detail: String::new(),
        }
    }

    #[test]
    fn corrections_balance_and_go_the_right_way() {
        let c = correction(&d(Class::AmountMismatch, Some(80_000), Some(85_000))).unwrap();
        assert_eq!(c.legs()[0].credit, Account::RefundsPayable);
        assert_eq!(c.legs()[0].amount.get(), 5_000);
        let c = correction(&d(Class::AmountMismatch, Some(85_000), Some(80_000))).unwrap();
        assert_eq!(c.legs()[0].debit, Account::AgencyCollection("X".into()));
        let c = correction(&d(Class::MissingInLedger, None, Some(10_000))).unwrap();
        assert_eq!(c.legs()[0].debit, Account::GatewayClearing("vnpay".into()));
        assert_eq!(c.lines().iter().map(|l| l.amount).sum::<i64>(), 0);
        assert!(correction(&d(Class::WrongAccount, None, Some(1))).is_none());
        assert!(correction(&d(Class::FeeMismatch, Some(1), Some(2))).is_none());
    }
}
