//! Sign-in lockout: how many wrong passwords (or second-factor codes) a name takes from one
//! address before that address must wait.
//!
//! Counted per (account, address): an attacker's failures lock the attacker's address out of
//! that account, never the owner signing in from elsewhere, so the lock is no weapon against
//! somebody else. Names that match no account are counted and locked the same way, so the
//! answers (401, then 423) reveal nothing about which names exist. Kept in memory like the
//! throttle (bounded; a restart forgets it), where the per-address rate limits also live.

use std::net::IpAddr;
use std::sync::Mutex;

use moka::sync::Cache;

/// Failures that lock…
pub const MAX_FAILURES: u32 = 5;
/// …when they happen within this window (seconds)…
pub const WINDOW_SECS: i64 = 15 * 60;
/// …for this long (seconds).
pub const LOCK_SECS: i64 = 15 * 60;
/// (name, address) pairs remembered at most: bounded under any flood of made-up names.
const CAPACITY: u64 = 200_000;

/// Who a sign-in attempt is for: an account by id, or a name that matches none (as typed,
/// lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Account(i64),
    Unknown(String),
}

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    first_failure: i64,
    failures: u32,
    locked_until: i64,
}

pub struct Lockouts {
    records: Cache<(Target, Option<IpAddr>), std::sync::Arc<Mutex<Record>>>,
}

impl Default for Lockouts {
    fn default() -> Lockouts {
        Lockouts {
            records: Cache::builder()
                .max_capacity(CAPACITY)
                // Real time, generous: the clock that decides is the injectable one below.
                .time_to_idle(std::time::Duration::from_secs(
                    (WINDOW_SECS + LOCK_SECS) as u64 * 2,
                ))
                .build(),
        }
    }
}

impl Lockouts {
    fn record(&self, target: &Target, ip: Option<IpAddr>) -> std::sync::Arc<Mutex<Record>> {
        self.records.get_with((target.clone(), ip), || {
            std::sync::Arc::new(Mutex::new(Record::default()))
        })
    }

    /// Whether `ip` must wait before trying `target` again.
    pub fn is_locked(&self, target: &Target, ip: Option<IpAddr>, now: i64) -> bool {
        self.records
            .get(&(target.clone(), ip))
            .is_some_and(|r| r.lock().unwrap_or_else(|p| p.into_inner()).locked_until > now)
    }

    /// Counts a failure; true when this one locks.
    pub fn failed(&self, target: &Target, ip: Option<IpAddr>, now: i64) -> bool {
        let record = self.record(target, ip);
        let mut r = record.lock().unwrap_or_else(|p| p.into_inner());
        if now - r.first_failure > WINDOW_SECS || r.locked_until != 0 && r.locked_until <= now {
            *r = Record {
                first_failure: now,
                ..Record::default()
            };
        }
        r.failures += 1;
        if r.failures >= MAX_FAILURES && r.locked_until <= now {
            r.locked_until = now + LOCK_SECS;
            return true;
        }
        false
    }

    /// A successful sign-in forgets the failures of that pair.
    pub fn succeeded(&self, target: &Target, ip: Option<IpAddr>) {
        self.records.invalidate(&(target.clone(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn five_failures_lock_that_address_only_for_fifteen_minutes() {
        let l = Lockouts::default();
        let victim = Target::Account(1);
        for n in 1..MAX_FAILURES {
            assert!(!l.failed(&victim, ip("6.6.6.6"), 100), "failure {n}");
        }
        assert!(l.failed(&victim, ip("6.6.6.6"), 100), "the fifth locks");
        assert!(l.is_locked(&victim, ip("6.6.6.6"), 101));
        assert!(
            !l.is_locked(&victim, ip("192.0.2.1"), 101),
            "the owner elsewhere is not"
        );
        assert!(l.is_locked(&victim, ip("6.6.6.6"), 100 + LOCK_SECS - 1));
        assert!(!l.is_locked(&victim, ip("6.6.6.6"), 100 + LOCK_SECS));
    }

    #[test]
    fn unknown_names_lock_alike_and_windows_reset() {
        let l = Lockouts::default();
        let ghost = Target::Unknown("nobody".into());
        for _ in 0..MAX_FAILURES {
            l.failed(&ghost, None, 0);
        }
        assert!(l.is_locked(&ghost, None, 1));
        let slow = Target::Account(2);
        for t in 0..10 {
            assert!(
                !l.failed(&slow, None, t * (WINDOW_SECS / 4 + 1) * 2),
                "spread out"
            );
        }
        l.succeeded(&ghost, None);
        assert!(!l.is_locked(&ghost, None, 1));
    }
}
