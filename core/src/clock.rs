//! Time, injected: the system clock by default, a manual clock for tests and for hosts that
//! move time themselves. Nothing in userpool reads the OS clock except [`SystemClock`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time in unix milliseconds.
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch.
    fn now_ms(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// Starts at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        Self { now: Arc::new(AtomicI64::new(start_ms)) }
    }

    /// Moves time forward (or back, with a negative value) by `ms`, stopping at the ends of
    /// `i64` rather than wrapping round to the other end.
    pub fn advance_ms(&self, ms: i64) {
        // The closure always answers `Some`, so the update cannot fail.
        let _ = self.now.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| Some(now.saturating_add(ms)));
    }

    /// Moves time forward by whole seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.advance_ms(secs.saturating_mul(1000));
    }

    /// Sets the time.
    pub fn set_ms(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl<F: Fn() -> i64 + Send + Sync> Clock for F {
    fn now_ms(&self) -> i64 {
        self()
    }
}

/// The first instant a host's clock may read: 2000-01-01T00:00:00Z, in unix milliseconds.
const HOST_READING_MIN_MS: i64 = 946_684_800_000;
/// The last instant a host's clock may read: 3000-01-01T00:00:00Z, in unix milliseconds.
const HOST_READING_MAX_MS: i64 = 32_503_680_000_000;

/// Checks a reading from a host's clock, and refuses with the reason:
///
/// - a time at or before the epoch (0 or less), which no real clock gives (a Kotlin `Error`
///   thrown by a uniffi clock reads as 0);
/// - a time before 2000 or after 3000: a clock in another unit or from another start, seconds
///   (`time.time()`, Swift's `timeIntervalSince1970`), microseconds or nanoseconds, or time
///   since boot (`SystemClock.elapsedRealtime()`, `performance.now()`). Taken as milliseconds,
///   it would date sessions, codes and tokens in 1970 (every TOTP code and external token check
///   failing) or millennia ahead (lockouts and hourly counts that never end).
///
/// Every binding applies it, so that a broken clock fails alike in each language.
pub fn check_host_reading(ms: i64) -> Result<i64, String> {
    if ms <= 0 {
        Err(format!("returned {ms}, a time at or before 1970, which no real clock gives"))
    } else if !(HOST_READING_MIN_MS..=HOST_READING_MAX_MS).contains(&ms) {
        Err(format!(
            "returned {ms}, which is not a time between the years 2000 and 3000 in unix milliseconds \
             (seconds, microseconds, or time since boot?)"
        ))
    } else {
        Ok(ms)
    }
}

/// What a host's clock that can fail (a callback into Python, JavaScript, Kotlin or Swift)
/// falls back on, since [`Clock`] cannot fail and an operation cannot stop halfway: its last
/// good reading, moved on by the time elapsed since, so that expiries and lockouts keep
/// running in the host's own time; the system clock before it has given one.
#[derive(Debug, Default)]
pub struct LastReading(Mutex<Option<(i64, Instant)>>);

impl LastReading {
    /// Remembers a good reading, and returns it.
    pub fn record(&self, ms: i64) -> i64 {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((ms, Instant::now()));
        ms
    }

    /// The time to go on with after a failed reading.
    pub fn fallback(&self) -> i64 {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((ms, at)) => ms.saturating_add(i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX)),
            None => SystemClock.now_ms(),
        }
    }

    /// Whether the host's clock has given a reading yet.
    pub fn has_reading(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_at_or_before_the_epoch_is_refused() {
        assert_eq!(check_host_reading(1_700_000_000_000), Ok(1_700_000_000_000));
        for bad in [0, -1, i64::MIN] {
            let reason = check_host_reading(bad).unwrap_err();
            assert!(reason.contains(&bad.to_string()) && reason.contains("1970"), "{reason}");
        }
    }

    #[test]
    fn a_reading_in_another_unit_or_from_another_start_is_refused() {
        for good in [HOST_READING_MIN_MS, 1_700_000_000_000, HOST_READING_MAX_MS] {
            assert_eq!(check_host_reading(good), Ok(good));
        }
        let seconds = 1_700_000_000;
        let since_boot = 86_400_000;
        let micros = 1_700_000_000_000_000;
        for bad in [1, seconds, since_boot, HOST_READING_MIN_MS - 1, HOST_READING_MAX_MS + 1, micros, i64::MAX] {
            let reason = check_host_reading(bad).unwrap_err();
            assert!(reason.contains(&bad.to_string()) && reason.contains("unix milliseconds"), "{reason}");
        }
    }

    #[test]
    fn a_manual_clock_stops_at_the_ends_of_time() {
        let clock = ManualClock::new(1_700_000_000_000);
        clock.advance_secs(i64::MAX);
        assert_eq!(clock.now_ms(), i64::MAX);
        clock.advance_ms(-1);
        assert_eq!(clock.now_ms(), i64::MAX - 1);
        clock.set_ms(-5);
        clock.advance_ms(i64::MIN);
        assert_eq!(clock.now_ms(), i64::MIN);
    }

    #[test]
    fn a_failed_reading_goes_on_from_the_last_good_one() {
        let last = LastReading::default();
        assert!(!last.has_reading());
        let before = SystemClock.now_ms();
        assert!(last.fallback() >= before, "the system clock before any reading");
        assert_eq!(last.record(1_700_000_000_000), 1_700_000_000_000);
        assert!(last.has_reading());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let later = last.fallback();
        assert!((1_700_000_000_020..1_700_000_060_000).contains(&later), "moved on by the time elapsed: {later}");
    }
}
