//! Rolling request statistics for the operator console and the alert rules: requests per
//! second, error rate and latency percentiles over the last minutes, in one-second buckets
//! (fixed memory, a mutex held for a few nanoseconds per request), and totals since the last
//! daily summary.

use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

/// The console's window.
const SECONDS: usize = 60;
/// Seconds kept: the longest window an alert rule may use.
pub const RING: usize = 300;
/// Latency buckets: bucket i holds durations below 2^i microseconds (up to ~1 min).
const LATENCY_BUCKETS: usize = 27;

#[derive(Clone, Copy)]
struct Bucket {
    second: i64,
    requests: u64,
    errors: u64,
    latency: [u32; LATENCY_BUCKETS],
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        second: i64::MIN,
        requests: 0,
        errors: 0,
        latency: [0; LATENCY_BUCKETS],
    };
}

struct Ring {
    buckets: [Bucket; RING],
    /// Requests and 5xx answers since the last [`RequestStats::take_totals`].
    totals: (u64, u64),
}

pub struct RequestStats {
    ring: Mutex<Ring>,
}

/// Traffic over an alert rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Window {
    pub requests: u64,
    pub errors: u64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq, serde::Deserialize)]
pub struct Summary {
    pub requests_per_sec: f64,
    /// Share of 5xx answers, 0–1.
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second, oldest first, for sparklines.
    pub per_second: Vec<u64>,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            ring: Mutex::new(Ring {
                buckets: [Bucket::EMPTY; RING],
                totals: (0, 0),
            }),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    (64 - micros.max(1).leading_zeros() as usize).min(LATENCY_BUCKETS - 1)
}

impl RequestStats {
    pub fn record(&self, second: i64, server_error: bool, micros: u64) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.totals.0 += 1;
        ring.totals.1 += u64::from(server_error);
        let slot = &mut ring.buckets[second.rem_euclid(RING as i64) as usize];
        if slot.second != second {
            *slot = Bucket {
                second,
                ..Bucket::EMPTY
            };
        }
        slot.requests += 1;
        slot.errors += u64::from(server_error);
        slot.latency[bucket_of(micros)] += 1;
    }

    /// Requests and 5xx answers since the last call (the daily summary).
    pub fn take_totals(&self) -> (u64, u64) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut ring.totals)
    }

    /// The last `secs` full seconds before `now` (at most [`RING`]).
    pub fn window(&self, now: i64, secs: usize) -> Window {
        let (requests, errors, latency, _) = self.gather(now, secs.clamp(1, RING));
        Window {
            requests,
            errors,
            p95_ms: percentile(&latency, requests, 0.95),
        }
    }

    /// Sums the `secs` full seconds before `now`.
    fn gather(&self, now: i64, secs: usize) -> (u64, u64, [u64; LATENCY_BUCKETS], Vec<u64>) {
        let mut per_second = Vec::with_capacity(secs);
        let (mut requests, mut errors) = (0u64, 0u64);
        let mut latency = [0u64; LATENCY_BUCKETS];
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        for second in now - secs as i64..now {
            let b = &ring.buckets[second.rem_euclid(RING as i64) as usize];
            if b.second == second {
                per_second.push(b.requests);
                requests += b.requests;
                errors += b.errors;
                for (total, n) in latency.iter_mut().zip(b.latency) {
                    *total += u64::from(n);
                }
            } else {
                per_second.push(0);
            }
        }
        (requests, errors, latency, per_second)
    }

    /// The last full minute before `now` (the current, partial second is left out).
    pub fn summary(&self, now: i64) -> Summary {
        let (requests, errors, latency, per_second) = self.gather(now, SECONDS);
        let percentile = |p: f64| percentile(&latency, requests, p);
        Summary {
            requests_per_sec: requests as f64 / SECONDS as f64,
            error_rate: if requests > 0 {
                errors as f64 / requests as f64
            } else {
                0.0
            },
            p50_ms: percentile(0.50),
            p99_ms: percentile(0.99),
            per_second,
        }
    }
}

/// The upper edge (ms) of the latency bucket holding the `p` quantile; 0 without requests.
fn percentile(latency: &[u64; LATENCY_BUCKETS], requests: u64, p: f64) -> f64 {
    let target = (requests as f64 * p).ceil() as u64;
    let mut seen = 0;
    for (i, n) in latency.iter().enumerate() {
        seen += n;
        if seen >= target.max(1) && requests > 0 {
            return (1u64 << i) as f64 / 1000.0;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_errors_and_percentiles_over_the_last_minute() {
        let stats = RequestStats::default();
        for s in 100..160 {
            for i in 0..10 {
                stats.record(s, i == 0, if i < 9 { 500 } else { 40_000 });
            }
        }
        let summary = stats.summary(160);
        assert_eq!(summary.requests_per_sec, 10.0);
        assert!((summary.error_rate - 0.1).abs() < 1e-9);
        assert_eq!(
            summary.p50_ms, 0.512,
            "500 µs falls in the bucket below 512 µs"
        );
        assert_eq!(summary.p99_ms, 65.536);
        assert_eq!(summary.per_second.len(), 60);
        let later = stats.summary(300);
        assert_eq!(later.requests_per_sec, 0.0, "old seconds do not count");
    }

    #[test]
    fn windows_of_five_minutes_and_daily_totals() {
        let stats = RequestStats::default();
        // Five minutes: 20 requests a second, one in ten a slow 5xx.
        for s in 1000..1300 {
            for i in 0..20 {
                let slow = i < 2;
                stats.record(s, slow, if slow { 2_000_000 } else { 300 });
            }
        }
        let w = stats.window(1300, 300);
        assert_eq!(w.requests, 6000);
        assert_eq!(w.errors, 600);
        assert_eq!(w.p95_ms, 2097.152, "p95 falls among the slow tenth");
        assert_eq!(stats.window(1300, 60).requests, 1200);
        assert_eq!(
            stats.window(1700, 300).requests,
            0,
            "a ring: old seconds are gone"
        );
        assert_eq!(stats.take_totals(), (6000, 600));
        assert_eq!(stats.take_totals(), (0, 0));
    }
}
