//! The time the rules are judged at. Every use case reads it from one
//! `Clock`, so a test can stop time, or move it on, instead of sleeping until
//! a code, a session or a window expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Where "now" comes from: the system, or (tests) a clock that is moved by
/// hand. An enum rather than a trait object: reading it is a branch, on paths
/// (bearer validation, the exchange) that read it once per request.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<ManualClock>),
}

/// A clock moved by [`Clock::advance`]. It either stands still between
/// advances ([`Clock::fixed`]) or runs with the system clock, ahead of it
/// by what was advanced ([`Clock::shifted`]).
#[derive(Debug)]
pub struct ManualClock {
    start_ms: i64,
    start: Instant,
    runs: bool,
    advanced_ms: AtomicI64,
}

impl Clock {
    /// Time that stands still (at the moment of the call) until advanced.
    pub fn fixed() -> Clock {
        Clock::manual(false)
    }

    /// The system's time, plus whatever was advanced: for a whole server in
    /// a test, where timeouts and background tasks still need time to pass.
    pub fn shifted() -> Clock {
        Clock::manual(true)
    }

    fn manual(runs: bool) -> Clock {
        Clock::Manual(Arc::new(ManualClock {
            start_ms: system_ms(),
            start: Instant::now(),
            runs,
            advanced_ms: AtomicI64::new(0),
        }))
    }

    /// Moves a manual clock on. The system clock cannot be moved: a call on
    /// it is a bug in a test.
    pub fn advance(&self, by: Duration) {
        match self {
            Clock::System => panic!("the system clock cannot be advanced"),
            Clock::Manual(m) => {
                m.advanced_ms.fetch_add(by.as_millis() as i64, Ordering::AcqRel);
            }
        }
    }

    /// Milliseconds since the Unix epoch: the one time unit stored and sent.
    #[inline]
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => system_ms(),
            Clock::Manual(m) => {
                let ran = if m.runs { m.start.elapsed().as_millis() as i64 } else { 0 };
                m.start_ms + ran + m.advanced_ms.load(Ordering::Acquire)
            }
        }
    }

    /// The same moment as a monotonic instant, for in-memory windows and
    /// ages (the limiters, the credential cache).
    #[inline]
    pub fn instant(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(m) => {
                let base = if m.runs { Instant::now() } else { m.start };
                base + Duration::from_millis(m.advanced_ms.load(Ordering::Acquire).max(0) as u64)
            }
        }
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_advanced() {
        let clock = Clock::fixed();
        let (ms, at) = (clock.now_ms(), clock.instant());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!((clock.now_ms(), clock.instant()), (ms, at));
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now_ms(), ms + 90_000);
        assert_eq!(clock.instant(), at + Duration::from_secs(90));
    }

    #[test]
    fn a_shifted_clock_runs_ahead_of_the_system_by_what_was_advanced() {
        let clock = Clock::shifted();
        clock.advance(Duration::from_secs(3600));
        let ahead = clock.now_ms() - Clock::System.now_ms();
        assert!((3_599_000..=3_600_000).contains(&ahead), "{ahead}");
        assert!(clock.instant() >= Instant::now() + Duration::from_secs(3599));
    }

    #[test]
    #[should_panic(expected = "cannot be advanced")]
    fn the_system_clock_cannot_be_advanced() {
        Clock::System.advance(Duration::from_secs(1));
    }
}

/// A UTC date and time of day, from unix milliseconds: what the pages and
/// the webhook bodies print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub millis: i64,
}

impl CivilTime {
    pub fn from_unix_ms(ms: i64) -> CivilTime {
        let secs = ms.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        CivilTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            millis: ms.rem_euclid(1000),
        }
    }
}
