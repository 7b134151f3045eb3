//! Rolling request statistics for the operator console: requests per second, error rate and
//! latency percentiles over the last minute, in 60 one-second buckets (fixed memory, a
//! mutex held for a few nanoseconds per request).

use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

const SECONDS: usize = 60;
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

pub struct RequestStats {
    buckets: Mutex<[Bucket; SECONDS]>,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq)]
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
            buckets: Mutex::new([Bucket::EMPTY; SECONDS]),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    (64 - micros.max(1).leading_zeros() as usize).min(LATENCY_BUCKETS - 1)
}

impl RequestStats {
    pub fn record(&self, second: i64, server_error: bool, micros: u64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut buckets[second.rem_euclid(SECONDS as i64) as usize];
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

    /// The last full minute before `now` (the current, partial second is left out).
    pub fn summary(&self, now: i64) -> Summary {
        let buckets = *self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut per_second = Vec::with_capacity(SECONDS);
        let (mut requests, mut errors) = (0u64, 0u64);
        let mut latency = [0u64; LATENCY_BUCKETS];
        for second in now - SECONDS as i64..now {
            let b = &buckets[second.rem_euclid(SECONDS as i64) as usize];
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
        let percentile = |p: f64| -> f64 {
            let target = (requests as f64 * p).ceil() as u64;
            let mut seen = 0;
            for (i, n) in latency.iter().enumerate() {
                seen += n;
                if seen >= target.max(1) && requests > 0 {
                    // Upper edge of the bucket, in milliseconds.
                    return (1u64 << i) as f64 / 1000.0;
                }
            }
            0.0
        };
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
}
