//! The business calendar: Vietnam time, the daily cut-off and the bank holidays (weekends and the
//! configured list). Pure: dates and times come in, dates go out.

use std::collections::BTreeSet;

use time::{Date, Duration, OffsetDateTime, Time, Weekday};

use crate::timefmt::VIETNAM;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Days the banks do not settle on besides Saturdays and Sundays (Tết, 30/4, 1/5, 2/9, ...).
    pub holidays: BTreeSet<Date>,
    /// The last moment (Vietnam time) that still belongs to a day; later is the next day's business.
    pub cutoff: Time,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            holidays: BTreeSet::new(),
            cutoff: Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT),
        }
    }
}

impl Calendar {
    /// The day a moment is booked to: its Vietnam date, or the next day after the cut-off.
    pub fn business_date(&self, at: OffsetDateTime) -> Date {
        let local = at.to_offset(VIETNAM);
        let t = local.time().replace_nanosecond(0).unwrap_or(local.time());
        if t > self.cutoff {
            local.date().next_day().unwrap_or(local.date())
        } else {
            local.date()
        }
    }

    pub fn is_business_day(&self, d: Date) -> bool {
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.holidays.contains(&d)
    }

    /// `d` moved forward by `n` business days (a non-business `d` first rolls to the next one
    /// when `n > 0`).
    pub fn add_business_days(&self, d: Date, n: u32) -> Date {
        let mut d = d;
        let mut left = n;
        // At most a few weeks of holidays in a row; the bound keeps a bad list from looping.
        let mut guard = 0;
        while left > 0 && guard < 4000 {
            d = d.saturating_add(Duration::days(1));
            guard += 1;
            if self.is_business_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Whether `a` and `b` are at most `n` business days apart (in either order).
    pub fn within_business_days(&self, a: Date, b: Date, n: u32) -> bool {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        hi <= self.add_business_days(lo, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn the_cutoff_moves_late_payments_to_the_next_day() {
        let c = Calendar::default();
        assert_eq!(
            c.business_date(datetime!(2026-11-21 16:59:59 UTC)),
            date!(2026 - 11 - 21)
        );
        assert_eq!(
            c.business_date(datetime!(2026-11-21 17:00:00 UTC)),
            date!(2026 - 11 - 22)
        );
        let early = Calendar {
            cutoff: time!(22:00:00),
            ..Calendar::default()
        };
        assert_eq!(
            early.business_date(datetime!(2026-11-21 15:30:00 UTC)),
            date!(2026 - 11 - 22)
        );
    }

    #[test]
    fn weekends_and_holidays_are_skipped() {
        let mut c = Calendar::default();
        // Friday 2026-04-24 + 1 business day = Monday 27.
        assert_eq!(
            c.add_business_days(date!(2026 - 04 - 24), 1),
            date!(2026 - 04 - 27)
        );
        c.holidays.insert(date!(2026 - 04 - 30));
        c.holidays.insert(date!(2026 - 05 - 01));
        // Wednesday 29 + 1 = Monday 4 May (30/4, 1/5 and the weekend).
        assert_eq!(
            c.add_business_days(date!(2026 - 04 - 29), 1),
            date!(2026 - 05 - 04)
        );
        assert!(c.within_business_days(date!(2026 - 05 - 04), date!(2026 - 04 - 29), 1));
        assert!(!c.within_business_days(date!(2026 - 04 - 28), date!(2026 - 05 - 04), 1));
    }
}
