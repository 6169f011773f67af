//! A circuit breaker per gateway: a pure state machine; the caller passes the clock.
//!
//! Closed: calls go through; `failure_threshold` consecutive failures (no answer, 5xx, an answer
//! we cannot trust), all within `window`, open it. Open: calls are refused (`Unavailable`, nothing
//! is sent) until `cool_down` has passed. Half-open: one probe call goes through; its success closes
//! the breaker, its failure opens it again for another cool-down.
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub window_secs: u64,
    pub cool_down_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            window_secs: 60,
            cool_down_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        consecutive: u32,
        first_failure: Option<Instant>,
    },
    Open {
        since: Instant,
    },
    /// A probe is in flight; other calls are refused until it reports.
    HalfOpen,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: BreakerState::Closed {
                consecutive: 0,
                first_failure: None,
            },
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a call be made now? Moves Open to HalfOpen once the cool-down is over (that call is
    /// the probe).
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { since } => {
                if now.saturating_duration_since(since)
                    >= Duration::from_secs(self.config.cool_down_secs)
                {
                    self.state = BreakerState::HalfOpen;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => false,
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed {
            consecutive: 0,
            first_failure: None,
        };
    }

    pub fn on_failure(&mut self, now: Instant) {
        let threshold = self.config.failure_threshold.max(1);
        self.state = match self.state {
            BreakerState::Closed {
                consecutive,
                first_failure,
            } => {
                let window = Duration::from_secs(self.config.window_secs);
                let (count, first) = match first_failure {
                    Some(f) if now.saturating_duration_since(f) <= window => (consecutive + 1, f),
                    _ => (1, now),
                };
                if count >= threshold {
                    BreakerState::Open { since: now }
                } else {
                    BreakerState::Closed {
                        consecutive: count,
                        first_failure: Some(first),
                    }
                }
            }
            BreakerState::HalfOpen | BreakerState::Open { .. } => BreakerState::Open { since: now },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            window_secs: 10,
            cool_down_secs: 30,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_then_half_opens_after_cool_down() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut b = CircuitBreaker::new(cfg());
        for i in 0..2 {
            assert!(b.try_acquire(s(i)));
            b.on_failure(s(i));
        }
        assert!(matches!(
            b.state(),
            BreakerState::Closed { consecutive: 2, .. }
        ));
        assert!(b.try_acquire(s(2)));
        b.on_failure(s(2));
        assert_eq!(b.state(), BreakerState::Open { since: s(2) });
        assert!(!b.try_acquire(s(31)));
        // Cool-down over: exactly one probe.
        assert!(b.try_acquire(s(32)));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.try_acquire(s(32)));
        // The probe fails: open again for a full cool-down.
        b.on_failure(s(33));
        assert!(!b.try_acquire(s(62)));
        assert!(b.try_acquire(s(63)));
        b.on_success();
        assert!(matches!(
            b.state(),
            BreakerState::Closed { consecutive: 0, .. }
        ));
        assert!(b.try_acquire(s(63)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(cfg());
        b.on_failure(t0);
        b.on_failure(t0);
        b.on_success();
        b.on_failure(t0);
        b.on_failure(t0);
        assert!(matches!(
            b.state(),
            BreakerState::Closed { consecutive: 2, .. }
        ));
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_open() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(cfg());
        for i in 0..10 {
            b.on_failure(t0 + Duration::from_secs(i * 6));
        }
        // Every window of 10 s saw at most 2 failures.
        assert!(matches!(b.state(), BreakerState::Closed { .. }));
    }
}
