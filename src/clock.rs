//! The server's clock, in Unix seconds, and its date formats (RFC 3339, HTTP dates).
//!
//! Every time-dependent rule (token expiry, scheduled posts, lockout windows) reads
//! [`Clock::now`], never the system clock directly, so tests can move time forward instead
//! of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

#[derive(Clone)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
    epoch: std::time::Instant,
    /// Wakes [`Clock::sleep`]ers when the clock is moved.
    moved: Arc<tokio::sync::Notify>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            offset_secs: Arc::default(),
            epoch: std::time::Instant::now(),
            moved: Arc::default(),
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

    /// Moves this clock forward (tests), waking every job sleeping on it.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
        self.moved.notify_waiters();
    }

    /// Sleeps `secs` seconds of this clock: returns after that much real time, or as soon as
    /// the clock is moved (a test moving time forward wakes the periodic jobs, which then
    /// look at the clock again). Callers re-check what they wait for.
    pub async fn sleep(&self, secs: u64) {
        let moved = self.moved.notified();
        tokio::pin!(moved);
        // Registered before sleeping: a move that comes first is not missed.
        moved.as_mut().enable();
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(secs)) => {}
            () = moved => {}
        }
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

/// `Mon, 23 Nov 2026 07:00:00 GMT`: the date format of HTTP headers and of RSS 2.0.
pub fn http_date(unix: i64) -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Parses an HTTP date (`If-Modified-Since`), in the preferred format only.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `1d 4h`, `3h 12m`, `42s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m {}s", secs % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            parse_http_date(&http_date(1_795_000_000)),
            Some(1_795_000_000)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(125), "2m 5s");
        assert_eq!(human_duration(3 * 3600 + 12 * 60), "3h 12m");
        assert_eq!(human_duration(86_400 + 4 * 3600 + 5), "1d 4h");
    }

    #[test]
    fn formats_utc_and_parses_offsets() {
        assert_eq!(rfc3339(1_768_471_200), "2026-01-15T10:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-01-15T11:00:00+01:00"),
            Some(1_768_471_200)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[tokio::test]
    async fn moving_the_clock_wakes_its_sleepers() {
        let c = Clock::default();
        let sleeper = tokio::spawn({
            let c = c.clone();
            async move { c.sleep(3600).await }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c.advance(3600);
        tokio::time::timeout(std::time::Duration::from_secs(10), sleeper)
            .await
            .expect("woken by the move, not after an hour")
            .unwrap();
    }

    #[test]
    fn advances() {
        let c = Clock::default();
        let before = c.now();
        c.advance(3600);
        assert!(c.now() >= before + 3600);
    }
}
