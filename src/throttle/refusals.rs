//! Who keeps being refused: per key, the start of its current run of refusals (a run ends after
//! a minute without one) and the day's count, for the "sustained throttling" alert and the
//! daily summary. Bounded: past `MAX_KEYS` keys, new ones are not tracked until the map is
//! pruned.

use std::collections::HashMap;
use std::sync::Mutex;

/// A run of refusals ends after this long without one.
pub const RUN_GAP_SECS: i64 = 60;
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Run {
    first: i64,
    last: i64,
    today: u64,
}

#[derive(Default)]
pub struct Refusals {
    runs: Mutex<HashMap<String, Run>>,
}

impl Refusals {
    pub fn record(&self, key: &str, now: i64) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = runs.get_mut(key) {
            if now - run.last > RUN_GAP_SECS {
                run.first = now;
            }
            run.last = now;
            run.today += 1;
            return;
        }
        if runs.len() >= MAX_KEYS {
            runs.retain(|_, r| now - r.last <= RUN_GAP_SECS);
            if runs.len() >= MAX_KEYS {
                return;
            }
        }
        runs.insert(
            key.to_string(),
            Run {
                first: now,
                last: now,
                today: 1,
            },
        );
    }

    /// The key refused without a break for the longest, and for how many seconds.
    pub fn longest_run(&self, now: i64) -> Option<(String, i64)> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter()
            .filter(|(_, r)| now - r.last <= RUN_GAP_SECS)
            .map(|(k, r)| (k.clone(), r.last - r.first))
            .max_by_key(|(k, secs)| (*secs, std::cmp::Reverse(k.clone())))
    }

    /// The most refused keys since the last call, with their counts; starts a new day.
    pub fn take_top(&self, n: usize, now: i64) -> Vec<(String, u64)> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let mut top: Vec<(String, u64)> = runs
            .iter()
            .filter(|(_, r)| r.today > 0)
            .map(|(k, r)| (k.clone(), r.today))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(n);
        runs.retain(|_, r| now - r.last <= RUN_GAP_SECS);
        for run in runs.values_mut() {
            run.today = 0;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lasts_while_refusals_keep_coming() {
        let r = Refusals::default();
        for t in (0..=660).step_by(30) {
            r.record("ip:203.0.113.9", t);
        }
        r.record("ip:198.51.100.1", 600);
        assert_eq!(r.longest_run(660), Some(("ip:203.0.113.9".into(), 660)));
        // A pause longer than the gap starts a new run.
        r.record("ip:203.0.113.9", 800);
        assert_eq!(r.longest_run(800), Some(("ip:203.0.113.9".into(), 0)));
        assert_eq!(
            r.longest_run(1000),
            None,
            "nobody refused in the last minute"
        );
    }

    #[test]
    fn the_daily_top_counts_and_resets() {
        let r = Refusals::default();
        for _ in 0..5 {
            r.record("ip:a", 10);
        }
        r.record("ip:b", 10);
        assert_eq!(
            r.take_top(5, 20),
            vec![("ip:a".into(), 5), ("ip:b".into(), 1)]
        );
        assert!(r.take_top(5, 30).is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let r = Refusals::default();
        for i in 0..(MAX_KEYS + 500) {
            r.record(&format!("ip:{i}"), 0);
        }
        assert_eq!(r.runs.lock().unwrap().len(), MAX_KEYS);
    }
}
