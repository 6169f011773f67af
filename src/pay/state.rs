//! The state machines of payments, attempts and refunds. Pure: an event and the current state go in,
//! the next state (or `Illegal`) comes out; nothing here reads the clock, the network or the
//! database.
//!
//! Rules the machines enforce by construction:
//! - a gateway's word is the only way an attempt becomes final; a timeout makes it `Unknown`, never
//!   failed or paid (gateways.md, "unknown outcomes");
//! - at most one attempt of a payment is `Succeeded`: money arriving for a payment already paid,
//!   cancelled or expired makes that attempt `DoublePaid` (to be refunded), never a second success;
//! - final states stay final: a late or replayed report changes nothing (or, for a success after a
//!   failure report, is flagged as a conflict for an officer, never silently applied);
//! - refunds never exceed what was paid.

use serde::{Deserialize, Serialize};

/// A payment's state (the string forms are stored and shown to portals: never rename one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Created by the portal; no attempt yet.
    Created,
    /// At least one attempt is waiting for the citizen or the gateway.
    Pending,
    /// An attempt's outcome is unknown (timeout, ambiguous answer): status sync will settle it.
    Unknown,
    /// Paid through exactly one attempt.
    Succeeded,
    /// Every attempt so far failed or was cancelled; the citizen may try again until expiry.
    Failed,
    /// The payment's time ran out without a success.
    Expired,
    /// Cancelled by the portal.
    Cancelled,
    /// A refund is with the gateway.
    RefundPending,
    /// Part of the amount was refunded.
    PartiallyRefunded,
    /// The whole amount was refunded.
    Refunded,
}

impl PaymentState {
    pub const ALL: [PaymentState; 10] = [
        PaymentState::Created,
        PaymentState::Pending,
        PaymentState::Unknown,
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Expired,
        PaymentState::Cancelled,
        PaymentState::RefundPending,
        PaymentState::PartiallyRefunded,
        PaymentState::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Created => "created",
            PaymentState::Pending => "pending",
            PaymentState::Unknown => "unknown",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
            PaymentState::Expired => "expired",
            PaymentState::Cancelled => "cancelled",
            PaymentState::RefundPending => "refund_pending",
            PaymentState::PartiallyRefunded => "partially_refunded",
            PaymentState::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The citizen has paid (whatever happened to refunds since).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            PaymentState::Succeeded
                | PaymentState::RefundPending
                | PaymentState::PartiallyRefunded
                | PaymentState::Refunded
        )
    }

    /// No further payment can be accepted: cancelled or expired.
    pub fn is_closed(self) -> bool {
        matches!(self, PaymentState::Cancelled | PaymentState::Expired)
    }

    /// Still waiting for money (a new attempt may be started from Created, Pending or Failed).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentState::Created
                | PaymentState::Pending
                | PaymentState::Unknown
                | PaymentState::Failed
        )
    }
}

/// An attempt's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Stored, the gateway not yet asked.
    Created,
    /// The gateway accepted the order; the citizen is on its page.
    Pending,
    /// No trustworthy answer yet.
    Unknown,
    /// The payment's one success.
    Succeeded,
    Failed,
    Cancelled,
    Expired,
    /// Money taken for a payment already paid, cancelled or expired: to be refunded.
    DoublePaid,
}

impl AttemptState {
    pub const ALL: [AttemptState; 8] = [
        AttemptState::Created,
        AttemptState::Pending,
        AttemptState::Unknown,
        AttemptState::Succeeded,
        AttemptState::Failed,
        AttemptState::Cancelled,
        AttemptState::Expired,
        AttemptState::DoublePaid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Created => "created",
            AttemptState::Pending => "pending",
            AttemptState::Unknown => "unknown",
            AttemptState::Succeeded => "succeeded",
            AttemptState::Failed => "failed",
            AttemptState::Cancelled => "cancelled",
            AttemptState::Expired => "expired",
            AttemptState::DoublePaid => "double_paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Waiting on the gateway (status sync looks at these).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AttemptState::Created | AttemptState::Pending | AttemptState::Unknown
        )
    }

    /// Money moved through this attempt.
    pub fn took_money(self) -> bool {
        matches!(self, AttemptState::Succeeded | AttemptState::DoublePaid)
    }
}

/// A refund's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Asked of the gateway (or to be asked again: a timeout keeps it here).
    Pending,
    Succeeded,
    /// The gateway refused; the money stays with the agency.
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            RefundState::Pending,
            RefundState::Succeeded,
            RefundState::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What a gateway said about an attempt, reduced to what the machine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    /// The window closed without payment (gateway code, or "not found" after the window).
    Expired,
    /// Not final yet.
    Pending,
}

/// An event about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptEvent {
    /// The gateway accepted the order.
    Started,
    /// The gateway refused the order.
    Rejected,
    /// No trustworthy answer (timeout, 5xx, unparseable): the outcome is unknown.
    NoAnswer,
    /// The gateway reported on the attempt (verified callback or status query).
    Reported(Outcome),
}

/// What applying an attempt event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStep {
    /// The attempt moves to this state.
    To(AttemptState),
    /// Nothing changes (a replay, or a not-final report for a not-final attempt).
    Same,
    /// The gateway contradicts a final state we hold (e.g. success after a failure report): nothing
    /// changes, the payment is flagged for an officer.
    Conflict,
}

/// The event is not allowed in that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed when the {what} is {state}")]
pub struct Illegal {
    pub what: &'static str,
    pub state: &'static str,
    pub event: &'static str,
}

/// The attempt machine, ignoring the payment (see [`apply_attempt_event`] for the whole decision).
pub fn attempt_step(state: AttemptState, event: AttemptEvent) -> Result<AttemptStep, Illegal> {
    use AttemptEvent as E;
    use AttemptState as S;
    use Outcome as O;
    let illegal = |event: &'static str| Illegal {
        what: "attempt",
        state: state.as_str(),
        event,
    };
    Ok(match (state, event) {
        (S::Created, E::Started) => AttemptStep::To(S::Pending),
        (S::Created, E::Rejected) => AttemptStep::To(S::Failed),
        (S::Created, E::NoAnswer) => AttemptStep::To(S::Unknown),
        (_, E::Started) => return Err(illegal("started")),
        (_, E::Rejected) => return Err(illegal("rejected")),
        // A timeout on a query teaches nothing: an attempt already pending stays pending for the
        // sync worker, an unknown one stays unknown, a final one stays final.
        (_, E::NoAnswer) => AttemptStep::Same,
        (S::Created | S::Pending | S::Unknown, E::Reported(o)) => match o {
            O::Succeeded => AttemptStep::To(S::Succeeded),
            O::Failed => AttemptStep::To(S::Failed),
            O::Cancelled => AttemptStep::To(S::Cancelled),
            O::Expired => AttemptStep::To(S::Expired),
            O::Pending if state == S::Pending => AttemptStep::Same,
            O::Pending => AttemptStep::To(S::Pending),
        },
        (S::Succeeded | S::DoublePaid, E::Reported(O::Succeeded)) => AttemptStep::Same,
        (S::Succeeded | S::DoublePaid, E::Reported(_)) => AttemptStep::Conflict,
        (S::Failed | S::Cancelled | S::Expired, E::Reported(O::Succeeded)) => AttemptStep::Conflict,
        (S::Failed | S::Cancelled | S::Expired, E::Reported(_)) => AttemptStep::Same,
    })
}

/// The payment's state when no attempt has succeeded, from its attempts' states: unknown if any is
/// unknown, pending if any is waiting, failed if all ended, created if there are none.
pub fn open_state(attempts: impl IntoIterator<Item = AttemptState>) -> PaymentState {
    let mut any = false;
    let mut waiting = false;
    for a in attempts {
        any = true;
        match a {
            AttemptState::Unknown => return PaymentState::Unknown,
            AttemptState::Created | AttemptState::Pending => waiting = true,
            _ => {}
        }
    }
    match (any, waiting) {
        (false, _) => PaymentState::Created,
        (true, true) => PaymentState::Pending,
        (true, false) => PaymentState::Failed,
    }
}

/// The decision for one attempt event, with the payment around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub attempt: AttemptStep,
    /// The payment's new state, if it changes.
    pub payment: Option<PaymentState>,
    /// Money arrived that must go back (payment already paid, cancelled or expired).
    pub double_payment: bool,
}

impl Decision {
    pub fn changes_anything(&self) -> bool {
        matches!(self.attempt, AttemptStep::To(_)) || self.payment.is_some()
    }
}

/// Applies an event to attempt `index` of a payment. `attempts` are all the payment's attempts'
/// states (including this one), `payment` the payment's state.
pub fn apply_attempt_event(
    payment: PaymentState,
    attempts: &[AttemptState],
    index: usize,
    event: AttemptEvent,
) -> Result<Decision, Illegal> {
    let current = *attempts.get(index).ok_or(Illegal {
        what: "attempt",
        state: "missing",
        event: "any",
    })?;
    // A payment that closed while the gateway was being asked keeps the attempt (now pending)
    // watched: a payment on it is caught and refunded, never lost.
    let step = attempt_step(current, event)?;
    let mut double_payment = false;
    let mut attempt = step;
    let mut next_payment = None;
    if let AttemptStep::To(to) = step {
        if to == AttemptState::Succeeded {
            if payment.is_paid() || payment.is_closed() {
                // At most one success: this money goes back.
                attempt = AttemptStep::To(AttemptState::DoublePaid);
                double_payment = true;
            } else {
                next_payment = Some(PaymentState::Succeeded);
            }
        } else if payment.is_open() {
            let mut after: Vec<AttemptState> = attempts.to_vec();
            after[index] = to;
            let derived = open_state(after);
            if derived != payment {
                next_payment = Some(derived);
            }
        }
    }
    Ok(Decision {
        attempt,
        payment: next_payment,
        double_payment,
    })
}

/// May a new attempt be started? (Not while one is unknown: two payments could both go through.)
pub fn payment_start_allowed(payment: PaymentState) -> Result<(), Illegal> {
    match payment {
        PaymentState::Created | PaymentState::Pending | PaymentState::Failed => Ok(()),
        other => Err(Illegal {
            what: "payment",
            state: other.as_str(),
            event: "start_attempt",
        }),
    }
}

/// Events on the payment itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The portal cancels. Refused while an outcome is unknown (money may be moving).
    Cancel,
    /// The expiry passed with no attempt waiting.
    Expire,
    /// A refund of `amount` is asked; `refunded` is what was already refunded.
    RefundRequested {
        amount: i64,
        paid: i64,
        refunded: i64,
    },
    /// The gateway refunded `amount`; `refunded` is the total before it.
    RefundSucceeded {
        amount: i64,
        paid: i64,
        refunded: i64,
    },
    /// The gateway refused the refund.
    RefundFailed { refunded: i64 },
}

impl PaymentEvent {
    fn name(&self) -> &'static str {
        match self {
            PaymentEvent::Cancel => "cancel",
            PaymentEvent::Expire => "expire",
            PaymentEvent::RefundRequested { .. } => "refund_requested",
            PaymentEvent::RefundSucceeded { .. } => "refund_succeeded",
            PaymentEvent::RefundFailed { .. } => "refund_failed",
        }
    }
}

/// The payment machine for payment-level events.
pub fn payment_step(state: PaymentState, event: PaymentEvent) -> Result<PaymentState, Illegal> {
    use PaymentState as S;
    let illegal = Illegal {
        what: "payment",
        state: state.as_str(),
        event: event.name(),
    };
    match (state, event) {
        (S::Created | S::Pending | S::Failed, PaymentEvent::Cancel) => Ok(S::Cancelled),
        (S::Created | S::Failed, PaymentEvent::Expire) => Ok(S::Expired),
        (
            S::Succeeded | S::PartiallyRefunded,
            PaymentEvent::RefundRequested {
                amount,
                paid,
                refunded,
            },
        ) if amount > 0 && refunded >= 0 && amount <= paid - refunded => Ok(S::RefundPending),
        (
            S::RefundPending,
            PaymentEvent::RefundSucceeded {
                amount,
                paid,
                refunded,
            },
        ) if amount > 0 && refunded >= 0 && amount <= paid - refunded => {
            if refunded + amount == paid {
                Ok(S::Refunded)
            } else {
                Ok(S::PartiallyRefunded)
            }
        }
        (S::RefundPending, PaymentEvent::RefundFailed { refunded }) => Ok(if refunded > 0 {
            S::PartiallyRefunded
        } else {
            S::Succeeded
        }),
        _ => Err(illegal),
    }
}

/// The refund machine.
pub fn refund_step(
    state: RefundState,
    outcome: RefundState,
) -> Result<Option<RefundState>, Illegal> {
    match (state, outcome) {
        (RefundState::Pending, RefundState::Pending) => Ok(None),
        (RefundState::Pending, to) => Ok(Some(to)),
        (from, to) if from == to => Ok(None),
        (from, to) => Err(Illegal {
            what: "refund",
            state: from.as_str(),
            event: to.as_str(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTCOMES: [Outcome; 5] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Cancelled,
        Outcome::Expired,
        Outcome::Pending,
    ];

    fn events() -> Vec<AttemptEvent> {
        let mut v = vec![
            AttemptEvent::Started,
            AttemptEvent::Rejected,
            AttemptEvent::NoAnswer,
        ];
        v.extend(OUTCOMES.iter().map(|o| AttemptEvent::Reported(*o)));
        v
    }

    /// A whole payment as the store holds it, driven only through the machines.
    #[derive(Clone, Debug)]
    struct Model {
        payment: PaymentState,
        attempts: Vec<AttemptState>,
        paid: i64,
        refunded: i64,
        refund_pending: Option<i64>,
        double_payments: usize,
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        NewAttempt,
        Attempt(usize, AttemptEvent),
        Payment(PaymentEvent),
        RefundOk,
        RefundRefused,
        Refund(i64),
    }

    impl Model {
        fn new() -> Self {
            Model {
                payment: PaymentState::Created,
                attempts: Vec::new(),
                paid: 0,
                refunded: 0,
                refund_pending: None,
                double_payments: 0,
            }
        }

        fn apply(&mut self, step: Step) {
            const AMOUNT: i64 = 100_000;
            match step {
                Step::NewAttempt => {
                    if payment_start_allowed(self.payment).is_ok() {
                        self.attempts.push(AttemptState::Created);
                        let d = apply_attempt_event(
                            self.payment,
                            &self.attempts,
                            self.attempts.len() - 1,
                            AttemptEvent::Started,
                        )
                        .unwrap();
                        self.commit(self.attempts.len() - 1, d, AMOUNT);
                    }
                }
                Step::Attempt(i, e) => {
                    if i < self.attempts.len() {
                        if let Ok(d) = apply_attempt_event(self.payment, &self.attempts, i, e) {
                            self.commit(i, d, AMOUNT);
                        }
                    }
                }
                Step::Payment(e) => {
                    if let Ok(s) = payment_step(self.payment, e) {
                        // Expire is only offered when nothing is waiting (the store checks).
                        self.payment = s;
                    }
                }
                Step::Refund(amount) => {
                    let e = PaymentEvent::RefundRequested {
                        amount,
                        paid: self.paid,
                        refunded: self.refunded,
                    };
                    if let Ok(s) = payment_step(self.payment, e) {
                        self.payment = s;
                        self.refund_pending = Some(amount);
                    }
                }
                Step::RefundOk => {
                    if let Some(amount) = self.refund_pending {
                        let e = PaymentEvent::RefundSucceeded {
                            amount,
                            paid: self.paid,
                            refunded: self.refunded,
                        };
                        self.payment = payment_step(self.payment, e).unwrap();
                        self.refunded += amount;
                        self.refund_pending = None;
                    }
                }
                Step::RefundRefused => {
                    if self.refund_pending.take().is_some() {
                        self.payment = payment_step(
                            self.payment,
                            PaymentEvent::RefundFailed {
                                refunded: self.refunded,
                            },
                        )
                        .unwrap();
                    }
                }
            }
        }

        fn commit(&mut self, i: usize, d: Decision, amount: i64) {
            if let AttemptStep::To(s) = d.attempt {
                self.attempts[i] = s;
            }
            if let Some(p) = d.payment {
                if p == PaymentState::Succeeded {
                    self.paid = amount;
                }
                self.payment = p;
            }
            if d.double_payment {
                self.double_payments += 1;
            }
        }

        fn check(&self) {
            let successes = self
                .attempts
                .iter()
                .filter(|a| **a == AttemptState::Succeeded)
                .count();
            assert!(successes <= 1, "two successes: {self:?}");
            assert_eq!(successes == 1, self.payment.is_paid(), "{self:?}");
            assert!(self.refunded <= self.paid && self.refunded >= 0, "{self:?}");
            assert_eq!(
                self.attempts
                    .iter()
                    .filter(|a| **a == AttemptState::DoublePaid)
                    .count(),
                self.double_payments
            );
            if self.payment == PaymentState::Refunded {
                assert_eq!(self.refunded, self.paid);
            }
            if self.payment.is_open() {
                assert_eq!(self.payment, open_state(self.attempts.iter().copied()));
            }
        }
    }

    fn all_steps() -> Vec<Step> {
        let mut v = vec![
            Step::NewAttempt,
            Step::Payment(PaymentEvent::Cancel),
            Step::Payment(PaymentEvent::Expire),
            Step::Refund(40_000),
            Step::Refund(100_000),
            Step::Refund(100_001),
            Step::RefundOk,
            Step::RefundRefused,
        ];
        for i in 0..2 {
            for e in events() {
                v.push(Step::Attempt(i, e));
            }
        }
        v
    }

    /// Every sequence of up to 4 of the 24 steps (346,201 states visited) keeps the invariants: at most one success, paid iff one success, refunds within the amount.
    #[test]
    fn exhaustive_walk_keeps_the_invariants() {
        let steps = all_steps();
        fn walk(m: &Model, steps: &[Step], depth: usize, count: &mut u64) {
            m.check();
            *count += 1;
            if depth == 0 {
                return;
            }
            for s in steps {
                let mut next = m.clone();
                next.apply(*s);
                walk(&next, steps, depth - 1, count);
            }
        }
        let mut count = 0;
        walk(&Model::new(), &steps, 4, &mut count);
        assert_eq!(count, 346_201);
    }

    /// Long random walks (a fixed-seed xorshift: reproducible) reach deeper states.
    #[test]
    fn random_long_walks_keep_the_invariants() {
        let steps = all_steps();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let mut m = Model::new();
            for _ in 0..60 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                m.apply(steps[(x % steps.len() as u64) as usize]);
                m.check();
            }
        }
    }

    #[test]
    fn final_states_stay_final() {
        for s in AttemptState::ALL {
            if s.is_open() {
                continue;
            }
            for e in events() {
                if let Ok(AttemptStep::To(t)) = attempt_step(s, e) {
                    panic!("{s:?} --{e:?}--> {t:?}");
                }
            }
        }
    }

    #[test]
    fn timeout_is_unknown_never_a_guess() {
        assert_eq!(
            attempt_step(AttemptState::Created, AttemptEvent::NoAnswer),
            Ok(AttemptStep::To(AttemptState::Unknown))
        );
        assert_eq!(
            attempt_step(AttemptState::Pending, AttemptEvent::NoAnswer),
            Ok(AttemptStep::Same)
        );
        assert_eq!(
            attempt_step(
                AttemptState::Unknown,
                AttemptEvent::Reported(Outcome::Pending)
            ),
            Ok(AttemptStep::To(AttemptState::Pending))
        );
    }

    #[test]
    fn second_success_is_a_double_payment() {
        let attempts = [AttemptState::Succeeded, AttemptState::Pending];
        let d = apply_attempt_event(
            PaymentState::Succeeded,
            &attempts,
            1,
            AttemptEvent::Reported(Outcome::Succeeded),
        )
        .unwrap();
        assert_eq!(d.attempt, AttemptStep::To(AttemptState::DoublePaid));
        assert_eq!(d.payment, None);
        assert!(d.double_payment);
        // On a cancelled payment too.
        let d = apply_attempt_event(
            PaymentState::Cancelled,
            &[AttemptState::Pending],
            0,
            AttemptEvent::Reported(Outcome::Succeeded),
        )
        .unwrap();
        assert!(d.double_payment);
    }

    #[test]
    fn replayed_success_changes_nothing() {
        let d = apply_attempt_event(
            PaymentState::Succeeded,
            &[AttemptState::Succeeded],
            0,
            AttemptEvent::Reported(Outcome::Succeeded),
        )
        .unwrap();
        assert!(!d.changes_anything());
        assert!(!d.double_payment);
    }

    #[test]
    fn success_after_failure_report_is_a_conflict() {
        assert_eq!(
            attempt_step(
                AttemptState::Failed,
                AttemptEvent::Reported(Outcome::Succeeded)
            ),
            Ok(AttemptStep::Conflict)
        );
    }

    #[test]
    fn cancel_refused_while_unknown_and_refund_bounded() {
        assert!(payment_step(PaymentState::Unknown, PaymentEvent::Cancel).is_err());
        assert!(payment_step(PaymentState::Succeeded, PaymentEvent::Cancel).is_err());
        let over = PaymentEvent::RefundRequested {
            amount: 60,
            paid: 100,
            refunded: 50,
        };
        assert!(payment_step(PaymentState::PartiallyRefunded, over).is_err());
        let ok = PaymentEvent::RefundSucceeded {
            amount: 50,
            paid: 100,
            refunded: 50,
        };
        assert_eq!(
            payment_step(PaymentState::RefundPending, ok),
            Ok(PaymentState::Refunded)
        );
    }

    #[test]
    fn string_forms_round_trip() {
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(s));
        }
        for s in AttemptState::ALL {
            assert_eq!(AttemptState::parse(s.as_str()), Some(s));
        }
    }
}
