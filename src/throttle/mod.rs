//! In-memory throttling (API.md "Throttling"): one GCRA limiter per class, the allow-list, and
//! bans. A restart forgets all of it, by design: nothing here needs to be durable.

pub mod bans;
pub mod gcra;
pub mod rate;
pub mod refusals;

use std::net::IpAddr;

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::ThrottleConfig;
pub use bans::{Ban, Bans};
pub use gcra::{Decision, Limiter};
pub use rate::Rate;

/// Keys tracked at most per class. With moka's per-entry overhead a key costs roughly 150
/// bytes, so the six classes together stay under ~50 MB even when flooded with spoofed keys.
pub const KEYS_PER_CLASS: u64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Anonymous,
    Authenticated,
    Write,
    Comment,
    Login,
    Register,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Anonymous,
        Class::Authenticated,
        Class::Write,
        Class::Comment,
        Class::Login,
        Class::Register,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Anonymous => "anonymous",
            Class::Authenticated => "authenticated",
            Class::Write => "write",
            Class::Comment => "comment",
            Class::Login => "login",
            Class::Register => "register",
        }
    }
}

pub struct Throttle {
    limiters: [Limiter; 6],
    pub bans: Bans,
    /// Refusals by key over time (alerts, daily summary).
    pub refusals: refusals::Refusals,
}

/// A throttled key, for the operator's view.
#[derive(Debug, Clone, Serialize, ToSchema, serde::Deserialize)]
pub struct KeyState {
    pub class: Class,
    /// `ip:…` or `user:…`.
    pub key: String,
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl Throttle {
    pub fn new(config: &ThrottleConfig) -> Throttle {
        let limiter = |rate: Rate| Limiter::new(rate, KEYS_PER_CLASS);
        Throttle {
            limiters: [
                limiter(config.anonymous),
                limiter(config.authenticated),
                limiter(config.write),
                limiter(config.comment),
                limiter(config.login),
                limiter(config.register),
            ],
            bans: Bans::new(
                bans::Policy {
                    after: config.ban_after.max(1) as usize,
                    window_secs: config.ban_window.as_secs(),
                    ban_secs: config.ban_for.as_secs(),
                },
                config.allow.clone(),
            ),
            refusals: refusals::Refusals::default(),
        }
    }

    pub fn limiter(&self, class: Class) -> &Limiter {
        &self.limiters[class as usize]
    }

    /// Counts a request of `class` for `key`. Allow-listed addresses are never counted.
    pub fn check(
        &self,
        class: Class,
        key: &str,
        ip: Option<IpAddr>,
        now_ns: u64,
    ) -> Option<Decision> {
        if ip.is_some_and(|ip| self.bans.allowed(ip)) {
            return None;
        }
        Some(self.limiter(class).check(key, now_ns))
    }

    /// Every key that has used part of its allowance.
    pub fn snapshot(&self, now_ns: u64) -> Vec<KeyState> {
        Class::ALL
            .iter()
            .flat_map(|class| {
                self.limiter(*class)
                    .snapshot(now_ns)
                    .into_iter()
                    .map(move |(key, d)| KeyState {
                        class: *class,
                        key,
                        limit: d.limit,
                        remaining: d.remaining,
                        reset_secs: d.reset_secs,
                    })
            })
            .collect()
    }
}

/// The key of a client: its user id when signed in, else its address.
pub fn key_for(user: Option<i64>, ip: Option<IpAddr>) -> String {
    match (user, ip) {
        (Some(id), _) => format!("user:{id}"),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "ip:unknown".into(),
    }
}
