//! The service's clock: the system's time in UTC, which tests move forward instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Duration, NaiveDateTime, Utc};

/// Every rule that depends on the time (soaks, expiries, evidence age, change windows) reads
/// it here, so a test can put the whole service an hour later without waiting an hour.
#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system's time; zero outside tests.
    offset_ms: AtomicI64,
}

impl Clock {
    /// The current time, UTC, as the service stores times.
    pub fn now(&self) -> NaiveDateTime {
        let system = Utc::now().naive_utc();
        let offset = Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        system.checked_add_signed(offset).unwrap_or(system)
    }

    /// Moves the clock forward by `by` (tests only have a use for it; negative is ignored).
    pub fn advance(&self, by: Duration) {
        let ms = by.num_milliseconds().max(0);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| Some(now.saturating_add(ms)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_reads_that_much_later_than_the_system() {
        let clock = Clock::default();
        clock.advance(Duration::hours(2));
        let ahead = clock.now() - Utc::now().naive_utc();
        assert!(ahead > Duration::minutes(119) && ahead <= Duration::hours(2), "{ahead}");
    }

    #[test]
    fn a_clock_never_moves_back() {
        let clock = Clock::default();
        clock.advance(Duration::hours(-5));
        assert!(clock.now() >= Utc::now().naive_utc() - Duration::seconds(1));
    }
}
