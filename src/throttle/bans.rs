//! Bans: an address that collects `ban_after` strikes (throttle refusals, failed logins,
//! invalid signatures, suspicious requests…) within `ban_window` is refused everything but
//! `/healthz` for `ban_for`, doubled for each repeat within a day, up to 24 hours.
//! Memory is bounded: every table is a moka cache with a capacity and a lifetime.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use serde::Serialize;
use utoipa::ToSchema;

use crate::cidr::{self, Cidr};

/// Longest ban, however often an address offends.
pub const MAX_BAN_SECS: i64 = 24 * 3600;
/// Addresses tracked at most in each table.
const CAPACITY: u64 = 100_000;

#[derive(Debug, Clone, Serialize, ToSchema, serde::Deserialize)]
pub struct Ban {
    #[schema(value_type = String)]
    pub ip: IpAddr,
    /// Unix seconds.
    pub since: i64,
    pub until: i64,
    pub reason: String,
    /// 0 for a first ban; each repeat doubles the length.
    pub level: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub after: usize,
    pub window_secs: i64,
    pub ban_secs: i64,
}

pub struct Bans {
    policy: Policy,
    allow: Vec<Cidr>,
    strikes: Cache<IpAddr, Arc<Mutex<VecDeque<i64>>>>,
    active: Cache<IpAddr, Ban>,
    /// How many times an address was banned lately (for escalation).
    history: Cache<IpAddr, u32>,
    /// Whether any ban was ever made: until then [`Bans::active`], asked on every request,
    /// need not look anything up.
    any: AtomicBool,
}

impl Bans {
    pub fn new(policy: Policy, allow: Vec<Cidr>) -> Bans {
        Bans {
            policy,
            allow,
            strikes: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(Duration::from_secs(policy.window_secs.max(1) as u64))
                .build(),
            active: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(MAX_BAN_SECS as u64))
                .build(),
            history: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(2 * MAX_BAN_SECS as u64))
                .build(),
            any: AtomicBool::new(false),
        }
    }

    /// Whether an address is allow-listed (never throttled, never banned).
    pub fn allowed(&self, ip: IpAddr) -> bool {
        cidr::any_contains(&self.allow, ip)
    }

    /// The ban in force on `ip` at `now`, if any.
    pub fn active(&self, ip: IpAddr, now: i64) -> Option<Ban> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.active.get(&ip).filter(|b| b.until > now)
    }

    /// Counts one strike; returns the ban it started, if it started one.
    pub fn strike(&self, ip: IpAddr, now: i64, reason: &str) -> Option<Ban> {
        if self.allowed(ip) || self.active(ip, now).is_some() {
            return None;
        }
        let times = self
            .strikes
            .get_with(ip, || Arc::new(Mutex::new(VecDeque::new())));
        let count = {
            let mut times = times.lock().unwrap_or_else(|p| p.into_inner());
            times.push_back(now);
            while times
                .front()
                .is_some_and(|t| *t <= now - self.policy.window_secs)
            {
                times.pop_front();
            }
            while times.len() > self.policy.after {
                times.pop_front();
            }
            times.len()
        };
        if count < self.policy.after {
            return None;
        }
        self.strikes.invalidate(&ip);
        let level = self.history.get(&ip).map_or(0, |l| l + 1);
        let secs = self
            .policy
            .ban_secs
            .saturating_mul(1i64 << level.min(20))
            .min(MAX_BAN_SECS);
        Some(self.ban(
            ip,
            now,
            secs,
            &format!(
                "{count} strikes in {}s, last: {reason}",
                self.policy.window_secs
            ),
            level,
        ))
    }

    /// Bans an address now (also the operator's manual ban).
    pub fn ban(&self, ip: IpAddr, now: i64, secs: i64, reason: &str, level: u32) -> Ban {
        let ban = Ban {
            ip,
            since: now,
            until: now + secs.clamp(1, MAX_BAN_SECS),
            reason: reason.to_string(),
            level,
        };
        self.history.insert(ip, level);
        self.active.insert(ip, ban.clone());
        self.any.store(true, Ordering::Release);
        ban
    }

    /// Lifts a ban; returns whether there was one.
    pub fn lift(&self, ip: IpAddr, now: i64) -> bool {
        let had = self.active(ip, now).is_some();
        self.active.invalidate(&ip);
        self.strikes.invalidate(&ip);
        had
    }

    /// Bans in force, longest-lasting first.
    pub fn list(&self, now: i64) -> Vec<Ban> {
        let mut bans: Vec<Ban> = self
            .active
            .iter()
            .map(|(_, b)| b)
            .filter(|b| b.until > now)
            .collect();
        bans.sort_by_key(|b| std::cmp::Reverse(b.until));
        bans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bans() -> Bans {
        Bans::new(
            Policy {
                after: 3,
                window_secs: 600,
                ban_secs: 900,
            },
            vec![Cidr::parse("10.0.0.0/8").unwrap()],
        )
    }

    #[test]
    fn strikes_in_a_window_ban_and_repeats_double() {
        let b = bans();
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        assert!(b.strike(ip, 1000, "x").is_none());
        assert!(b.strike(ip, 1001, "x").is_none());
        let ban = b.strike(ip, 1002, "x").expect("third strike bans");
        assert_eq!(ban.until, 1002 + 900);
        assert!(b.active(ip, 1500).is_some());
        assert!(b.active(ip, 1002 + 900).is_none(), "lifted after expiry");
        for t in 0..2 {
            assert!(b.strike(ip, 3000 + t, "x").is_none());
        }
        let again = b.strike(ip, 3002, "x").unwrap();
        assert_eq!(
            again.until - again.since,
            1800,
            "a repeat offender waits twice as long"
        );
    }

    #[test]
    fn strikes_outside_the_window_do_not_count_and_allowlist_is_exempt() {
        let b = bans();
        let ip: IpAddr = "203.0.113.6".parse().unwrap();
        b.strike(ip, 0, "x");
        b.strike(ip, 1, "x");
        assert!(
            b.strike(ip, 700, "x").is_none(),
            "the first two have left the window"
        );
        let inside: IpAddr = "10.1.2.3".parse().unwrap();
        for t in 0..10 {
            assert!(b.strike(inside, t, "x").is_none());
        }
    }

    #[test]
    fn manual_ban_and_lift() {
        let b = bans();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        b.ban(ip, 100, 60, "by hand", 0);
        assert_eq!(b.list(120).len(), 1);
        assert!(b.lift(ip, 130));
        assert!(b.active(ip, 131).is_none());
        assert!(!b.lift(ip, 132));
    }

    #[test]
    fn bans_never_exceed_a_day() {
        let b = Bans::new(
            Policy {
                after: 1,
                window_secs: 60,
                ban_secs: 3600,
            },
            vec![],
        );
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let mut now = 0;
        for _ in 0..10 {
            let ban = b.strike(ip, now, "x").unwrap();
            assert!(ban.until - ban.since <= MAX_BAN_SECS);
            now = ban.until + 1;
        }
    }
}
