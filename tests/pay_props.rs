//! Property tests of the payment cores (src/pay/state.rs, src/pay/ledger.rs), with proptest:
//! - the payment-level machine agrees, for arbitrary states, events and amounts, with an
//!   independent table of the legal transitions written from the issue (everything else is
//!   rejected);
//! - the attempt machine never leaves a final state and only the gateway's word finalises;
//! - arbitrary sequences of events on a payment and its attempts never reach an illegal state
//!   (at most one success, paid iff one success, refunds within the amount, the open state derived
//!   from the attempts);
//! - every posting set balances for arbitrary amounts, and balances derived from the postings of an
//!   arbitrary payment/refund/settlement history equal an independent running total per account.

use antin::pay::ledger::{self, Account, Line, PostingSet, Vnd};
use antin::pay::state::{
    apply_attempt_event, attempt_step, open_state, payment_start_allowed, payment_step,
    AttemptEvent, AttemptState, AttemptStep, Outcome, PaymentEvent, PaymentState,
};
use proptest::prelude::*;

fn payment_state() -> impl Strategy<Value = PaymentState> {
    proptest::sample::select(PaymentState::ALL.to_vec())
}

fn attempt_state() -> impl Strategy<Value = AttemptState> {
    proptest::sample::select(AttemptState::ALL.to_vec())
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Succeeded),
        Just(Outcome::Failed),
        Just(Outcome::Cancelled),
        Just(Outcome::Expired),
        Just(Outcome::Pending),
    ]
}

fn attempt_event() -> impl Strategy<Value = AttemptEvent> {
    prop_oneof![
        Just(AttemptEvent::Started),
        Just(AttemptEvent::Rejected),
        Just(AttemptEvent::NoAnswer),
        outcome().prop_map(AttemptEvent::Reported),
    ]
}

/// Amounts around the interesting edges (negative, zero, small, VND-sized, huge).
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        -1_000i64..=1_000,
        1i64..=50_000_000,
        Just(i64::MAX / 4),
        Just(-(i64::MAX / 4)),
    ]
}

fn payment_event() -> impl Strategy<Value = PaymentEvent> {
    prop_oneof![
        Just(PaymentEvent::Cancel),
        Just(PaymentEvent::Expire),
        (amount(), amount(), amount()).prop_map(|(amount, paid, refunded)| {
            PaymentEvent::RefundRequested {
                amount,
                paid,
                refunded,
            }
        }),
        (amount(), amount(), amount()).prop_map(|(amount, paid, refunded)| {
            PaymentEvent::RefundSucceeded {
                amount,
                paid,
                refunded,
            }
        }),
        amount().prop_map(|refunded| PaymentEvent::RefundFailed { refunded }),
    ]
}

/// The legal payment-level transitions, written from the list independently of
/// `payment_step`: cancel from created/pending/failed (never while unknown: money may be moving),
/// expire from created/failed, refunds from a paid state for 1..=what is left, a refund outcome only
/// while one is pending. `None`: illegal.
fn legal(state: PaymentState, event: PaymentEvent) -> Option<PaymentState> {
    use PaymentState::*;
    match event {
        PaymentEvent::Cancel => [Created, Pending, Failed]
            .contains(&state)
            .then_some(Cancelled),
        PaymentEvent::Expire => [Created, Failed].contains(&state).then_some(Expired),
        PaymentEvent::RefundRequested {
            amount,
            paid,
            refunded,
        } => {
            let left = paid.checked_sub(refunded)?;
            ([Succeeded, PartiallyRefunded].contains(&state)
                && refunded >= 0
                && amount >= 1
                && amount <= left)
                .then_some(RefundPending)
        }
        PaymentEvent::RefundSucceeded {
            amount,
            paid,
            refunded,
        } => {
            let left = paid.checked_sub(refunded)?;
            if state != RefundPending || refunded < 0 || amount < 1 || amount > left {
                return None;
            }
            Some(if amount == left {
                Refunded
            } else {
                PartiallyRefunded
            })
        }
        PaymentEvent::RefundFailed { refunded } => {
            (state == RefundPending).then_some(if refunded > 0 {
                PartiallyRefunded
            } else {
                Succeeded
            })
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The machine and the independent table agree on every (state, event), amounts included:
    /// what the table forbids is rejected.
    #[test]
    fn payment_events_follow_the_legal_table(state in payment_state(), event in payment_event()) {
        prop_assert_eq!(payment_step(state, event).ok(), legal(state, event), "{:?} {:?}", state, event);
    }

    /// Final states stay final, only a gateway report finalises, a timeout is never a guess, and
    /// Started/Rejected are only for an attempt not yet sent.
    #[test]
    fn attempt_events_respect_finality(state in attempt_state(), event in attempt_event()) {
        let step = attempt_step(state, event);
        match step {
            Ok(AttemptStep::To(to)) => {
                prop_assert!(state.is_open(), "{state:?} --{event:?}--> {to:?}");
                prop_assert_ne!(to, state);
                match event {
                    AttemptEvent::Started => prop_assert_eq!(to, AttemptState::Pending),
                    AttemptEvent::Rejected => prop_assert_eq!(to, AttemptState::Failed),
                    AttemptEvent::NoAnswer => prop_assert_eq!(to, AttemptState::Unknown),
                    AttemptEvent::Reported(o) => {
                        let expected = match o {
                            Outcome::Succeeded => AttemptState::Succeeded,
                            Outcome::Failed => AttemptState::Failed,
                            Outcome::Cancelled => AttemptState::Cancelled,
                            Outcome::Expired => AttemptState::Expired,
                            Outcome::Pending => AttemptState::Pending,
                        };
                        prop_assert_eq!(to, expected);
                    }
                }
            }
            Ok(AttemptStep::Conflict) => {
                // A contradiction of a final state we hold, never of an open one.
                prop_assert!(!state.is_open());
            }
            Ok(AttemptStep::Same) => {}
            Err(_) => {
                prop_assert!(
                    matches!(event, AttemptEvent::Started | AttemptEvent::Rejected)
                        && state != AttemptState::Created
                );
            }
        }
        if matches!(event, AttemptEvent::Started | AttemptEvent::Rejected) && state != AttemptState::Created {
            prop_assert!(step.is_err(), "{state:?} accepted {event:?}");
        }
    }
}

/// One step of a whole payment's life.
#[derive(Debug, Clone)]
enum Step {
    NewAttempt,
    /// An event on attempt `i % attempts`.
    Attempt(usize, AttemptEvent),
    Cancel,
    Expire,
    Refund(i64),
    RefundOk,
    RefundRefused,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::NewAttempt),
        8 => (0usize..4, attempt_event()).prop_map(|(i, e)| Step::Attempt(i, e)),
        1 => Just(Step::Cancel),
        1 => Just(Step::Expire),
        2 => amount().prop_map(Step::Refund),
        2 => Just(Step::RefundOk),
        1 => Just(Step::RefundRefused),
    ]
}

/// A payment driven only through the machines, as the service does, with the ledger postings it
/// makes (kept to check the ledger) and an independent running total per account.
#[derive(Debug)]
struct Life {
    amount: i64,
    payment: PaymentState,
    attempts: Vec<AttemptState>,
    refunded: i64,
    pending_refund: Option<i64>,
    double_payments: usize,
    sets: Vec<PostingSet>,
    /// Expected balances, by hand: agency, clearing, refunds payable.
    agency: i64,
    clearing: i64,
    payable: i64,
}

const GW: &str = "momo";
const ACCT: &str = "113366668888";

impl Life {
    fn new(amount: i64) -> Self {
        Life {
            amount,
            payment: PaymentState::Created,
            attempts: Vec::new(),
            refunded: 0,
            pending_refund: None,
            double_payments: 0,
            sets: Vec::new(),
            agency: 0,
            clearing: 0,
            payable: 0,
        }
    }

    fn apply(&mut self, s: &Step) {
        let a = Vnd::new(self.amount).unwrap();
        match *s {
            Step::NewAttempt => {
                if payment_start_allowed(self.payment).is_ok() {
                    self.attempts.push(AttemptState::Created);
                    let i = self.attempts.len() - 1;
                    self.event(i, AttemptEvent::Started, a);
                } else {
                    // Never while unknown (two payments could both go through) or once final.
                    assert!(!matches!(
                        self.payment,
                        PaymentState::Created | PaymentState::Pending | PaymentState::Failed
                    ));
                }
            }
            Step::Attempt(i, e) => {
                if !self.attempts.is_empty() {
                    let i = i % self.attempts.len();
                    self.event(i, e, a);
                }
            }
            Step::Cancel => {
                if let Ok(to) = payment_step(self.payment, PaymentEvent::Cancel) {
                    self.payment = to;
                }
            }
            Step::Expire => {
                // The store offers expiry only when nothing is waiting.
                let waiting = self.attempts.iter().any(|x| x.is_open());
                if !waiting {
                    if let Ok(to) = payment_step(self.payment, PaymentEvent::Expire) {
                        self.payment = to;
                    }
                }
            }
            Step::Refund(r) => {
                let ev = PaymentEvent::RefundRequested {
                    amount: r,
                    paid: self.paid(),
                    refunded: self.refunded,
                };
                match payment_step(self.payment, ev) {
                    Ok(to) => {
                        assert!(r >= 1 && r <= self.paid() - self.refunded);
                        assert!(self.pending_refund.is_none());
                        self.payment = to;
                        self.pending_refund = Some(r);
                        self.sets
                            .push(ledger::refund_requested(ACCT, Vnd::new(r).unwrap()));
                        self.agency += r;
                        self.payable -= r;
                    }
                    Err(_) => {
                        assert!(
                            r < 1
                                || r > self.paid() - self.refunded
                                || !matches!(
                                    self.payment,
                                    PaymentState::Succeeded | PaymentState::PartiallyRefunded
                                )
                        );
                    }
                }
            }
            Step::RefundOk => {
                let (paid, refunded) = (self.paid(), self.refunded);
                let ev = |r| PaymentEvent::RefundSucceeded {
                    amount: r,
                    paid,
                    refunded,
                };
                match self.pending_refund.take() {
                    Some(r) => {
                        self.payment = payment_step(self.payment, ev(r)).unwrap();
                        self.refunded += r;
                        self.sets
                            .push(ledger::refund_completed(GW, Vnd::new(r).unwrap()));
                        self.payable += r;
                        self.clearing -= r;
                    }
                    None => assert!(payment_step(self.payment, ev(1)).is_err()),
                }
            }
            Step::RefundRefused => {
                let ev = PaymentEvent::RefundFailed {
                    refunded: self.refunded,
                };
                match self.pending_refund.take() {
                    Some(r) => {
                        self.payment = payment_step(self.payment, ev).unwrap();
                        self.sets
                            .push(ledger::refund_refused(ACCT, Vnd::new(r).unwrap()));
                        self.agency -= r;
                        self.payable += r;
                    }
                    None => assert!(payment_step(self.payment, ev).is_err()),
                }
            }
        }
    }

    fn event(&mut self, i: usize, e: AttemptEvent, a: Vnd) {
        let Ok(d) = apply_attempt_event(self.payment, &self.attempts, i, e) else {
            return;
        };
        if let AttemptStep::To(to) = d.attempt {
            self.attempts[i] = to;
        }
        if d.double_payment {
            self.double_payments += 1;
            self.sets.push(ledger::double_payment(GW, a));
            self.clearing += a.get();
            self.payable -= a.get();
        }
        if let Some(p) = d.payment {
            if p == PaymentState::Succeeded {
                self.sets.push(ledger::payment_confirmed(GW, ACCT, a));
                self.agency -= a.get();
                self.clearing += a.get();
            }
            self.payment = p;
        }
    }

    fn paid(&self) -> i64 {
        if self.payment.is_paid() {
            self.amount
        } else {
            0
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let successes = self
            .attempts
            .iter()
            .filter(|a| **a == AttemptState::Succeeded)
            .count();
        prop_assert!(successes <= 1, "two successes: {self:?}");
        prop_assert_eq!(successes == 1, self.payment.is_paid(), "{:?}", self);
        prop_assert_eq!(
            self.attempts
                .iter()
                .filter(|a| **a == AttemptState::DoublePaid)
                .count(),
            self.double_payments
        );
        prop_assert!(
            self.refunded >= 0 && self.refunded <= self.paid(),
            "{self:?}"
        );
        prop_assert_eq!(
            self.payment == PaymentState::Refunded,
            self.paid() > 0 && self.refunded == self.paid(),
            "{:?}",
            self
        );
        prop_assert_eq!(
            self.payment == PaymentState::RefundPending,
            self.pending_refund.is_some()
        );
        if self.payment.is_open() {
            prop_assert_eq!(self.payment, open_state(self.attempts.iter().copied()));
        }
        // The ledger: every set balances, nothing zero is posted, and the balances derived from the
        // lines are the running totals (the confirmation's pass through citizen_receivable nets out).
        let mut lines: Vec<Line> = Vec::new();
        for s in &self.sets {
            let l = s.lines();
            prop_assert_eq!(l.iter().map(|x| x.amount).sum::<i64>(), 0, "{:?}", s);
            prop_assert!(l.iter().all(|x| x.amount != 0));
            lines.extend(l);
        }
        let b = ledger::balances(&lines);
        let get = |a: Account| b.get(&a).copied().unwrap_or(0);
        prop_assert_eq!(b.values().sum::<i64>(), 0);
        prop_assert_eq!(get(Account::CitizenReceivable), 0);
        prop_assert_eq!(get(Account::AgencyCollection(ACCT.into())), self.agency);
        prop_assert_eq!(get(Account::GatewayClearing(GW.into())), self.clearing);
        prop_assert_eq!(get(Account::RefundsPayable), self.payable);
        // What they mean: the agency is owed what was paid minus refunds asked and not refused,
        // refunds payable are the pending refund plus the double payments to return.
        let pending = self.pending_refund.unwrap_or(0);
        prop_assert_eq!(-self.agency, self.paid() - self.refunded - pending);
        prop_assert_eq!(
            -self.payable,
            pending + self.double_payments as i64 * self.amount
        );
        // Exactly one confirmation per paid payment.
        let confirmations = self
            .sets
            .iter()
            .filter(|s| s.kind == ledger::PostingKind::PaymentConfirmed)
            .count();
        prop_assert_eq!(confirmations, usize::from(self.payment.is_paid()));
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Arbitrary lives of a payment keep every invariant after every step.
    #[test]
    fn arbitrary_lives_keep_the_invariants(
        amount in 1i64..=1_000_000_000_000,
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let mut life = Life::new(amount);
        life.check()?;
        for s in &steps {
            life.apply(s);
            life.check()?;
        }
    }

    /// Every builder balances for arbitrary amounts and fees, and so does its reversal; what
    /// cannot be posted (zero, negative, a fee not below the gross) is refused.
    #[test]
    fn every_posting_set_balances(gross in amount(), fee in amount()) {
        let Some(a) = Vnd::new(gross) else {
            prop_assert!(gross <= 0);
            return Ok(());
        };
        let mut sets = vec![
            ledger::payment_confirmed("vnpay", ACCT, a),
            ledger::double_payment("zalopay", a),
            ledger::refund_requested(ACCT, a),
            ledger::refund_completed("momo", a),
            ledger::refund_refused(ACCT, a),
        ];
        match ledger::settlement("vnpay", ACCT, a, fee) {
            Some(s) => {
                prop_assert!(fee >= 0 && fee < gross);
                let b = ledger::balances(&s.lines());
                prop_assert_eq!(b[&Account::AgencyCollection(ACCT.into())], gross - fee);
                prop_assert_eq!(b[&Account::GatewayClearing("vnpay".into())], -gross);
                prop_assert_eq!(b.get(&Account::GatewayFees("vnpay".into())).copied().unwrap_or(0), fee);
                sets.push(s);
            }
            None => prop_assert!(fee < 0 || fee >= gross),
        }
        for s in &sets {
            for set in [s.clone(), s.reversal()] {
                let lines = set.lines();
                prop_assert_eq!(lines.len(), set.legs().len() * 2);
                prop_assert_eq!(lines.iter().map(|l| l.amount).sum::<i64>(), 0);
                prop_assert!(lines.iter().all(|l| l.amount != 0));
            }
            // A set and its reversal leave every account where it was.
            let both: Vec<Line> = s.lines().into_iter().chain(s.reversal().lines()).collect();
            prop_assert!(ledger::balances(&both).values().all(|v| *v == 0));
        }
    }

    /// Balances derived from arbitrary interleavings of many payments' postings are the per-account
    /// sums, whatever the order the lines are read in.
    #[test]
    fn balances_do_not_depend_on_order(
        amounts in proptest::collection::vec((1i64..=50_000_000, 0usize..3, 0usize..2), 1..40),
        seed in any::<u64>(),
    ) {
        let gws = ["vnpay", "momo", "zalopay"];
        let accts = ["A1", "A2"];
        let mut lines: Vec<Line> = Vec::new();
        let mut clearing = [0i64; 3];
        let mut agency = [0i64; 2];
        for (amt, g, acct) in &amounts {
            let a = Vnd::new(*amt).unwrap();
            lines.extend(ledger::payment_confirmed(gws[*g], accts[*acct], a).lines());
            clearing[*g] += amt;
            agency[*acct] -= amt;
        }
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..lines.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lines.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let b = ledger::balances(&lines);
        for (i, g) in gws.iter().enumerate() {
            prop_assert_eq!(b.get(&Account::GatewayClearing((*g).into())).copied().unwrap_or(0), clearing[i]);
        }
        for (i, a) in accts.iter().enumerate() {
            prop_assert_eq!(b.get(&Account::AgencyCollection((*a).into())).copied().unwrap_or(0), agency[i]);
        }
        prop_assert_eq!(b.values().sum::<i64>(), 0);
    }
}
