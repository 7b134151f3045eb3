//! A keyed rate limiter: GCRA (the generic cell rate algorithm, as in ATM networks and
//! `governor`), one 64-bit "theoretical arrival time" per key, updated with compare-and-swap.
//!
//! Exact under concurrency (a CAS loop, no lost updates), O(1) time and memory per key, and a
//! limit of N per window admits exactly N at once, then one more each window/N. The keys live
//! in a moka cache with a capacity bound and time-to-idle of one window: a key idle for a
//! whole window is at full allowance anyway, so forgetting it changes nothing, and a flood of
//! distinct keys (spoofed addresses) cannot grow memory past the bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::sync::Cache;

use super::rate::Rate;

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// Seconds until the window frees a slot.
    pub reset_secs: u64,
    /// Seconds to wait before retrying (refusals only; 0 when allowed).
    pub retry_after_secs: u64,
}

pub struct Limiter {
    rate: Rate,
    /// Nanoseconds between admitted requests at the steady rate.
    emission: u64,
    /// How far ahead of now the arrival time may run: the whole window.
    tolerance: u64,
    cells: Cache<String, Arc<AtomicU64>>,
}

fn ceil_secs(ns: u64) -> u64 {
    ns.div_ceil(1_000_000_000)
}

impl Limiter {
    pub fn new(rate: Rate, capacity: u64) -> Limiter {
        let period = u64::try_from(rate.period.as_nanos()).unwrap_or(u64::MAX);
        let emission = (period / u64::from(rate.limit)).max(1);
        Limiter {
            rate,
            emission,
            tolerance: emission * u64::from(rate.limit),
            cells: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(rate.period)
                .build(),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Counts one request for `key` at `now` (monotonic nanoseconds).
    pub fn check(&self, key: &str, now: u64) -> Decision {
        let cell = self
            .cells
            .get_with_by_ref(key, || Arc::new(AtomicU64::new(0)));
        let limit = self.rate.limit;
        loop {
            let tat = cell.load(Ordering::Acquire);
            let new_tat = tat.max(now) + self.emission;
            if new_tat - now > self.tolerance {
                // Allowed again once the arrival time has drained to one window minus one slot.
                let wait = (tat.max(now) + self.emission - self.tolerance).saturating_sub(now);
                let secs = ceil_secs(wait).max(1);
                return Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_secs: secs,
                    retry_after_secs: secs,
                };
            }
            if cell
                .compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let used = new_tat - now;
                let remaining = u32::try_from((self.tolerance - used) / self.emission).unwrap_or(0);
                let frees_in =
                    used.saturating_sub(u64::from(limit - remaining - 1) * self.emission);
                return Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_secs: ceil_secs(frees_in),
                    retry_after_secs: 0,
                };
            }
        }
    }

    /// The state of every key that has used part of its allowance, as of `now`.
    pub fn snapshot(&self, now: u64) -> Vec<(String, Decision)> {
        self.cells
            .iter()
            .filter_map(|(key, cell)| {
                let tat = cell.load(Ordering::Acquire);
                let used = tat.saturating_sub(now);
                if used == 0 {
                    return None;
                }
                let remaining =
                    u32::try_from(self.tolerance.saturating_sub(used) / self.emission).unwrap_or(0);
                let reset = ceil_secs(used.saturating_sub(
                    u64::from(self.rate.limit.saturating_sub(remaining + 1)) * self.emission,
                ));
                let decision = Decision {
                    allowed: remaining > 0,
                    limit: self.rate.limit,
                    remaining,
                    reset_secs: reset,
                    retry_after_secs: 0,
                };
                Some(((*key).clone(), decision))
            })
            .collect()
    }

    /// Keys tracked (after pending evictions are applied).
    pub fn entry_count(&self) -> u64 {
        self.cells.run_pending_tasks();
        self.cells.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SEC: u64 = 1_000_000_000;

    fn limiter(text: &str) -> Limiter {
        Limiter::new(Rate::parse(text).unwrap(), 10_000)
    }

    #[test]
    fn exactly_n_then_refused_then_refilled() {
        let l = limiter("5/5m");
        let t0 = 1000 * SEC;
        for i in 0..5 {
            let d = l.check("ip", t0);
            assert!(d.allowed, "request {}", i + 1);
            assert_eq!(d.remaining, 4 - i);
        }
        let refused = l.check("ip", t0);
        assert!(!refused.allowed, "the 6th is refused, not the 7th");
        assert_eq!(
            refused.retry_after_secs, 60,
            "one slot frees after a fifth of the window"
        );
        assert!(!l.check("ip", t0 + 59 * SEC).allowed);
        assert!(l.check("ip", t0 + 60 * SEC).allowed);
        assert!(l.check("other", t0).allowed, "keys are independent");
        // A whole window later the full allowance is back.
        let later = t0 + 60 * SEC + 300 * SEC;
        for _ in 0..5 {
            assert!(l.check("ip", later).allowed);
        }
        assert!(!l.check("ip", later).allowed);
    }

    #[test]
    fn exact_under_concurrency() {
        let l = Arc::new(limiter("100/hour"));
        let t0 = 5 * SEC;
        let admitted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let l = l.clone();
                    s.spawn(move || (0..50).filter(|_| l.check("shared", t0).allowed).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(
            admitted, 100,
            "8 threads × 50 attempts admit exactly the limit"
        );
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_bound() {
        let l = Limiter::new(
            Rate {
                limit: 10,
                period: Duration::from_secs(60),
            },
            5_000,
        );
        for i in 0..1_000_000u32 {
            l.check(&i.to_string(), SEC);
        }
        assert!(l.entry_count() <= 5_000, "{}", l.entry_count());
    }

    #[test]
    fn headers_describe_the_window() {
        let l = limiter("30/minute");
        let d = l.check("u", 10 * SEC);
        assert_eq!((d.limit, d.remaining, d.reset_secs), (30, 29, 2));
    }
}
