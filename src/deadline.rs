//! Deadlines that cannot overflow.
//!
//! Every wait in the library is bounded by a timeout that a program, a command line or an
//! izaber.yaml may set to anything a [`Duration`] holds: `Duration::MAX`, `1e19` seconds.
//! `Instant + Duration` panics when the sum does not fit the platform's clock, so each
//! deadline is made here instead: a wait longer than [`LONGEST_WAIT`] is that long, which
//! no program outlives, so a huge timeout reads as "no limit".

use std::time::{Duration, Instant};

/// The longest wait a deadline stands for: about 100 years. Every platform's [`Instant`]
/// can hold that much past now (Linux and macOS count seconds in 64 bits, Windows keeps a
/// `Duration`), while `Duration::MAX` fits none of them.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `wait` from now, or [`LONGEST_WAIT`] from now when `wait` is longer.
pub(crate) fn after(wait: Duration) -> Instant {
    from(Instant::now(), wait)
}

/// `wait` after `start`, or [`LONGEST_WAIT`] after it when `wait` is longer.
pub(crate) fn from(start: Instant, wait: Duration) -> Instant {
    // The second fallback is for a clock that starts near its own end, which no platform's
    // does; returning `start` (a deadline already reached) beats a panic even then.
    start.checked_add(wait.min(LONGEST_WAIT)).unwrap_or(start)
}

/// `wait` times `times`, or `Duration::MAX` when that does not fit.
pub(crate) fn times(wait: Duration, times: u32) -> Duration {
    wait.checked_mul(times).unwrap_or(Duration::MAX)
}

/// `wait` scaled by `factor` (finite, not negative), or `Duration::MAX` when that does not
/// fit: `Duration::mul_f64` panics instead, even for a factor of 1 on `Duration::MAX`, whose
/// seconds round up to 2^64 as a float.
pub(crate) fn scaled(wait: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(wait.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Seconds as a program or a user writes them (izaber.yaml, a command-line flag), as a
/// `Duration`: a value too large for one (`1e20`, `.inf`) is `Duration::MAX`, which every
/// wait reads as "no limit". `None` for a negative number or NaN, which the caller reports
/// as a mistake naming where it came from.
pub(crate) fn seconds(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_waits_are_capped_not_panics() {
        let start = Instant::now();
        assert_eq!(from(start, Duration::MAX), start + LONGEST_WAIT);
        assert_eq!(
            from(start, Duration::from_secs(u64::MAX)),
            start + LONGEST_WAIT
        );
        assert_eq!(
            from(start, Duration::from_secs(3)),
            start + Duration::from_secs(3)
        );
        assert!(after(Duration::MAX) > Instant::now() + Duration::from_secs(50 * 365 * 86_400));
    }

    #[test]
    fn products_saturate() {
        assert_eq!(times(Duration::MAX, 2), Duration::MAX);
        assert_eq!(times(Duration::from_secs(2), 3), Duration::from_secs(6));
        assert_eq!(scaled(Duration::MAX, 1.0), Duration::MAX);
        assert_eq!(scaled(Duration::MAX, 0.999), Duration::MAX.mul_f64(0.999));
        assert_eq!(scaled(Duration::from_secs(4), 0.5), Duration::from_secs(2));
    }

    #[test]
    fn seconds_take_what_a_user_writes() {
        assert_eq!(seconds(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(seconds(0.0), Some(Duration::ZERO));
        assert_eq!(seconds(1e19), Some(Duration::from_secs_f64(1e19)));
        assert_eq!(seconds(1e20), Some(Duration::MAX));
        assert_eq!(seconds(f64::INFINITY), Some(Duration::MAX));
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(f64::NAN), None);
        assert_eq!(seconds(f64::NEG_INFINITY), None);
    }
}
