//! A per-address token bucket for the public pages: each client address may make `burst`
//! requests at once and `per_minute` sustained. The table of addresses is bounded: when it is
//! full, buckets that have refilled completely (idle clients) are dropped; if none has, a new
//! address is refused (fail closed) until some have.
//!
//! The core ([`Bucket::take`]) is pure: the time is an argument.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One address's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The rate: `burst` tokens at most, refilled at `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    fn per_sec(self) -> f64 {
        f64::from(self.per_minute.max(1)) / 60.0
    }

    fn burst(self) -> f64 {
        f64::from(self.burst.max(1))
    }
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        Bucket {
            tokens: rate.burst(),
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_sec()).min(rate.burst());
        self.at = now;
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate.per_sec(),
            ))
        }
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= rate.burst()
    }
}

/// The limiter shared by the public routes.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate, max_clients: usize) -> Self {
        RateLimiter {
            rate,
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request from `addr` at `now`, or returns the wait (whole seconds, at least 1)
    /// to put in Retry-After.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), u64> {
        let wait = |d: Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        // A poisoned lock only means another request panicked mid-update; the map is still a map.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&addr) && buckets.len() >= self.max_clients {
            let rate = self.rate;
            buckets.retain(|_, b| !b.is_full(rate, now));
            if buckets.len() >= self.max_clients {
                tracing::warn!(target: "antin::check", clients = buckets.len(), "rate limiter table full");
                return Err(wait(Duration::from_secs_f64(1.0 / rate.per_sec())));
            }
        }
        buckets
            .entry(addr)
            .or_insert_with(|| Bucket::full(self.rate, now))
            .take(self.rate, now)
            .map_err(wait)
    }

    pub fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_minute: 60,
        burst: 3,
    };

    #[test]
    fn burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(RATE, t0);
        for _ in 0..3 {
            assert!(b.take(RATE, t0).is_ok());
        }
        let wait = b.take(RATE, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(b.take(RATE, t0 + Duration::from_secs(1)).is_ok());
        assert!(b.take(RATE, t0 + Duration::from_secs(1)).is_err());
        // Refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(RATE, later).is_ok());
        }
        assert!(b.take(RATE, later).is_err());
    }

    #[test]
    fn addresses_are_separate_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let l = RateLimiter::new(RATE, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a, t0).is_ok());
        }
        assert_eq!(l.check(a, t0), Err(1));
        assert!(l.check(b, t0).is_ok());
        // Full table, nobody idle: a new address is refused, not let in unbounded.
        assert!(l.check(c, t0).is_err());
        assert_eq!(l.tracked(), 2);
        // Once the others have refilled, they are dropped to make room.
        assert!(l.check(c, t0 + Duration::from_secs(10)).is_ok());
        assert!(l.tracked() <= 2);
    }
}
