//! Double-entry postings in integer VND. Pure: builds posting sets; the store writes them.
//!
//! A posting set is made only of [`Leg`]s, each moving one positive amount from one account (credit)
//! to another (debit), so every set balances by construction: the sum of its lines is zero. Sets
//! are never changed once written; a correction is a new set ([`PostingSet::reversal`]). A balance
//! is the sum of an account's lines (debits positive, credits negative), derivable at any time.
//!
//! The accounts and the flows (antin brokers the money; the agency owns it):
//! - payment confirmed by gateway G for agency account X, amount A:
//!   `citizen_receivable -> agency_collection:X` (the fee is recognised for the agency) and
//!   `gateway_clearing:G -> citizen_receivable` (the citizen paid it through G: G owes us A);
//! - settlement by G (net of its fee F): `agency_collection:X` receives A - F from clearing,
//!   `gateway_fees:G` records F;
//! - refund of R requested: `agency_collection:X -> refunds_payable` then, when G refunds,
//!   `refunds_payable -> gateway_clearing:G`; a refused refund is the reversal of the request;
//! - money for a payment already paid/closed (double payment): `gateway_clearing:G ->
//!   refunds_payable` at once (it was never the agency's).

use serde::{Deserialize, Serialize};

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Account {
    CitizenReceivable,
    /// What a gateway owes us (asset), per gateway.
    GatewayClearing(String),
    /// What we hold for an agency's collection account (treasury or bank), per account number.
    AgencyCollection(String),
    /// Money owed back to citizens.
    RefundsPayable,
    /// Fees the gateways charged, per gateway.
    GatewayFees(String),
}

impl Account {
    /// The stored form, e.g. `gateway_clearing:vnpay`.
    pub fn code(&self) -> String {
        match self {
            Account::CitizenReceivable => "citizen_receivable".into(),
            Account::GatewayClearing(g) => format!("gateway_clearing:{g}"),
            Account::AgencyCollection(a) => format!("agency_collection:{a}"),
            Account::RefundsPayable => "refunds_payable".into(),
            Account::GatewayFees(g) => format!("gateway_fees:{g}"),
        }
    }

    pub fn parse(code: &str) -> Option<Account> {
        let (head, tail) = match code.split_once(':') {
            Some((h, t)) => (h, Some(t)),
            None => (code, None),
        };
        match (head, tail) {
            ("citizen_receivable", None) => Some(Account::CitizenReceivable),
            ("refunds_payable", None) => Some(Account::RefundsPayable),
            ("gateway_clearing", Some(t)) if !t.is_empty() => {
                Some(Account::GatewayClearing(t.into()))
            }
            ("agency_collection", Some(t)) if !t.is_empty() => {
                Some(Account::AgencyCollection(t.into()))
            }
            ("gateway_fees", Some(t)) if !t.is_empty() => Some(Account::GatewayFees(t.into())),
            _ => None,
        }
    }
}

/// A positive amount of dong. Zero and negative amounts cannot be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vnd(i64);

impl Vnd {
    pub fn new(v: i64) -> Option<Vnd> {
        (v > 0).then_some(Vnd(v))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// One movement: `amount` from `credit` to `debit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub debit: Account,
    pub credit: Account,
    pub amount: Vnd,
}

/// What a posting set records (stored as its `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingKind {
    PaymentConfirmed,
    DoublePayment,
    RefundRequested,
    RefundCompleted,
    RefundRefused,
    Settlement,
    Reversal,
    /// A correction posted when a finance officer resolves a reconciliation discrepancy.
    ReconAdjustment,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::PaymentConfirmed => "payment_confirmed",
            PostingKind::DoublePayment => "double_payment",
            PostingKind::RefundRequested => "refund_requested",
            PostingKind::RefundCompleted => "refund_completed",
            PostingKind::RefundRefused => "refund_refused",
            PostingKind::Settlement => "settlement",
            PostingKind::Reversal => "reversal",
            PostingKind::ReconAdjustment => "recon_adjustment",
        }
    }
}

/// A balanced set of legs, written together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingSet {
    pub kind: PostingKind,
    legs: Vec<Leg>,
}

/// One line as stored: an account and a signed amount (debit > 0, credit < 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account: Account,
    pub amount: i64,
}

impl PostingSet {
    fn new(kind: PostingKind, legs: Vec<Leg>) -> Self {
        PostingSet { kind, legs }
    }

    pub fn legs(&self) -> &[Leg] {
        &self.legs
    }

    /// The stored lines: two per leg, summing to zero.
    pub fn lines(&self) -> Vec<Line> {
        self.legs
            .iter()
            .flat_map(|l| {
                [
                    Line {
                        account: l.debit.clone(),
                        amount: l.amount.get(),
                    },
                    Line {
                        account: l.credit.clone(),
                        amount: -l.amount.get(),
                    },
                ]
            })
            .collect()
    }

    /// The correction of this set: every leg the other way round.
    pub fn reversal(&self) -> PostingSet {
        PostingSet::new(
            PostingKind::Reversal,
            self.legs
                .iter()
                .map(|l| Leg {
                    debit: l.credit.clone(),
                    credit: l.debit.clone(),
                    amount: l.amount,
                })
                .collect(),
        )
    }
}

pub fn payment_confirmed(gateway: &str, collection_account: &str, amount: Vnd) -> PostingSet {
    PostingSet::new(
        PostingKind::PaymentConfirmed,
        vec![
            Leg {
                debit: Account::CitizenReceivable,
                credit: Account::AgencyCollection(collection_account.into()),
                amount,
            },
            Leg {
                debit: Account::GatewayClearing(gateway.into()),
                credit: Account::CitizenReceivable,
                amount,
            },
        ],
    )
}

pub fn double_payment(gateway: &str, amount: Vnd) -> PostingSet {
    PostingSet::new(
        PostingKind::DoublePayment,
        vec![Leg {
            debit: Account::GatewayClearing(gateway.into()),
            credit: Account::RefundsPayable,
            amount,
        }],
    )
}

pub fn refund_requested(collection_account: &str, amount: Vnd) -> PostingSet {
    PostingSet::new(
        PostingKind::RefundRequested,
        vec![Leg {
            debit: Account::AgencyCollection(collection_account.into()),
            credit: Account::RefundsPayable,
            amount,
        }],
    )
}

pub fn refund_completed(gateway: &str, amount: Vnd) -> PostingSet {
    PostingSet::new(
        PostingKind::RefundCompleted,
        vec![Leg {
            debit: Account::RefundsPayable,
            credit: Account::GatewayClearing(gateway.into()),
            amount,
        }],
    )
}

pub fn refund_refused(collection_account: &str, amount: Vnd) -> PostingSet {
    let mut set = refund_requested(collection_account, amount).reversal();
    set.kind = PostingKind::RefundRefused;
    set
}

/// A gateway paid out `gross` for an agency account, keeping `fee` (0 <= fee < gross).
pub fn settlement(
    gateway: &str,
    collection_account: &str,
    gross: Vnd,
    fee: i64,
) -> Option<PostingSet> {
    if fee < 0 || fee >= gross.get() {
        return None;
    }
    let mut legs = vec![Leg {
        debit: Account::AgencyCollection(collection_account.into()),
        credit: Account::GatewayClearing(gateway.into()),
        amount: Vnd::new(gross.get() - fee)?,
    }];
    if let Some(fee) = Vnd::new(fee) {
        legs.push(Leg {
            debit: Account::GatewayFees(gateway.into()),
            credit: Account::GatewayClearing(gateway.into()),
            amount: fee,
        });
    }
    Some(PostingSet::new(PostingKind::Settlement, legs))
}

/// A reconciliation correction: `amount` from `credit` to `debit` (e.g. money a gateway paid that
/// our ledger never saw: `gateway_clearing:G -> refunds_payable`, owed back until identified).
pub fn recon_adjustment(debit: Account, credit: Account, amount: Vnd) -> PostingSet {
    PostingSet::new(
        PostingKind::ReconAdjustment,
        vec![Leg {
            debit,
            credit,
            amount,
        }],
    )
}

/// Balances per account from stored lines.
pub fn balances<'a>(
    lines: impl IntoIterator<Item = &'a Line>,
) -> std::collections::BTreeMap<Account, i64> {
    let mut out = std::collections::BTreeMap::new();
    for l in lines {
        *out.entry(l.account.clone()).or_insert(0) += l.amount;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(set: &PostingSet) -> i64 {
        set.lines().iter().map(|l| l.amount).sum()
    }

    #[test]
    fn every_builder_balances_for_many_amounts() {
        // A deterministic sweep over amounts (including the extremes of VND fees).
        let mut x: u64 = 12345;
        for i in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = if i == 0 {
                1
            } else {
                (x >> 20) as i64 % 50_000_000 + 1
            };
            let a = Vnd::new(a).unwrap();
            let fee = (x >> 7) as i64 % a.get();
            let sets = [
                payment_confirmed("vnpay", "3511", a),
                double_payment("momo", a),
                refund_requested("3511", a),
                refund_completed("zalopay", a),
                refund_refused("3511", a),
                settlement("vnpay", "3511", a, fee).unwrap(),
            ];
            for s in &sets {
                assert_eq!(sum(s), 0, "{s:?}");
                assert_eq!(sum(&s.reversal()), 0);
                assert!(s.lines().iter().all(|l| l.amount != 0));
            }
        }
    }

    #[test]
    fn a_paid_then_settled_payment_leaves_the_agency_with_the_net() {
        let a = Vnd::new(50_000).unwrap();
        let sets = [
            payment_confirmed("vnpay", "X", a),
            settlement("vnpay", "X", a, 1_100).unwrap(),
        ];
        let lines: Vec<Line> = sets.iter().flat_map(|s| s.lines()).collect();
        let b = balances(&lines);
        assert_eq!(b[&Account::CitizenReceivable], 0);
        assert_eq!(b[&Account::GatewayClearing("vnpay".into())], 0);
        // Agency: owed 50,000 (credit), received 48,900 (debit): 1,100 still owed as fee expense.
        assert_eq!(b[&Account::AgencyCollection("X".into())], -1_100);
        assert_eq!(b[&Account::GatewayFees("vnpay".into())], 1_100);
        assert_eq!(b.values().sum::<i64>(), 0);
    }

    #[test]
    fn full_refund_returns_every_account_to_zero_but_clearing() {
        let a = Vnd::new(20_000).unwrap();
        let sets = [
            payment_confirmed("momo", "X", a),
            refund_requested("X", a),
            refund_completed("momo", a),
        ];
        let lines: Vec<Line> = sets.iter().flat_map(|s| s.lines()).collect();
        let b = balances(&lines);
        assert_eq!(b[&Account::AgencyCollection("X".into())], 0);
        assert_eq!(b[&Account::RefundsPayable], 0);
        assert_eq!(b[&Account::GatewayClearing("momo".into())], 0);
    }

    #[test]
    fn zero_and_negative_amounts_cannot_be_posted() {
        assert!(Vnd::new(0).is_none());
        assert!(Vnd::new(-5).is_none());
        assert!(settlement("g", "X", Vnd::new(10).unwrap(), 10).is_none());
        assert!(settlement("g", "X", Vnd::new(10).unwrap(), -1).is_none());
    }

    #[test]
    fn account_codes_round_trip() {
        for a in [
            Account::CitizenReceivable,
            Account::GatewayClearing("vnpay".into()),
            Account::AgencyCollection("113366668888".into()),
            Account::RefundsPayable,
            Account::GatewayFees("momo".into()),
        ] {
            assert_eq!(Account::parse(&a.code()), Some(a));
        }
        assert_eq!(Account::parse("gateway_clearing:"), None);
        assert_eq!(Account::parse("nope"), None);
    }
}
