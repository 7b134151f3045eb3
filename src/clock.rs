//! The server's clock, in Unix seconds, and RFC 3339 formatting.
//!
//! Every time-dependent rule (token expiry, scheduled posts, lockout windows) reads
//! [`Clock::now`], never the system clock directly, so tests can move time forward instead
//! of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Clone)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
    epoch: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            offset_secs: Arc::default(),
            epoch: std::time::Instant::now(),
        }
    }
}

impl Clock {
    /// Seconds since the Unix epoch, plus any test offset.
    pub fn now(&self) -> i64 {
        OffsetDateTime::now_utc().unix_timestamp() + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Monotonic nanoseconds since this clock was made, plus any test offset: for rate
    /// limiting, which must not jump when the wall clock is set.
    pub fn monotonic_ns(&self) -> u64 {
        let offset = u64::try_from(self.offset_secs.load(Ordering::Relaxed)).unwrap_or(0);
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX) + offset * 1_000_000_000
    }

    /// Moves this clock forward (tests).
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

/// `2026-01-15T10:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp with any offset into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_and_parses_offsets() {
        assert_eq!(rfc3339(1_768_471_200), "2026-01-15T10:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-01-15T11:00:00+01:00"),
            Some(1_768_471_200)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn advances() {
        let c = Clock::default();
        let before = c.now();
        c.advance(3600);
        assert!(c.now() >= before + 3600);
    }
}
