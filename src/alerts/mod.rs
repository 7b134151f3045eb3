//! Alerts: rules evaluated inside the server every `alerts.interval`, each firing once when its
//! condition starts, repeated at most every `alerts.repeat`, and resolved when it clears;
//! one-off notices (daily summary, backup completed, key rotated). Active and recent alerts
//! are always visible (console, `/api/healthcheck` counts, `/metrics`, `app.log`); configured
//! channels get them through the durable outbox.

pub mod channels;
pub mod config;
pub mod engine;
pub mod rules;
pub mod sample;
pub mod watch;

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::security::events::{EventKind, SecurityEvent};

pub use engine::{Active, Message, Status};
pub use rules::Rule;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Security events counted for the rate rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    FailedLogin,
    InvalidSignature,
}

/// The longest window an event-rate rule may use; older counts are dropped.
const EVENT_HORIZON_SECS: i64 = 3600;

/// Per-second counts of the events the rate rules watch (at most one entry per second per
/// kind for the last hour: bounded whatever the attack).
#[derive(Default)]
pub struct EventCounts {
    seconds: Mutex<[VecDeque<(i64, u32)>; 2]>,
}

impl EventCounts {
    pub fn record(&self, kind: Counted, at: i64) {
        let mut all = self.seconds.lock().unwrap_or_else(|p| p.into_inner());
        let q = &mut all[kind as usize];
        match q.back_mut() {
            Some((second, n)) if *second == at => *n = n.saturating_add(1),
            _ => q.push_back((at, 1)),
        }
        while q
            .front()
            .is_some_and(|(s, _)| *s <= at - EVENT_HORIZON_SECS)
        {
            q.pop_front();
        }
    }

    /// Events in the `window` seconds up to `now`.
    pub fn count(&self, kind: Counted, now: i64, window: i64) -> u32 {
        let all = self.seconds.lock().unwrap_or_else(|p| p.into_inner());
        all[kind as usize]
            .iter()
            .filter(|(s, _)| *s > now - window && *s <= now)
            .map(|(_, n)| *n)
            .sum()
    }
}

/// Firing alerts by severity (what `/api/healthcheck` shows: no details).
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, PartialEq, Eq, serde::Deserialize)]
pub struct AlertCounts {
    pub critical: u32,
    pub warning: u32,
    pub info: u32,
}

/// What the console shows.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AlertsView {
    pub active: Vec<Active>,
    /// Newest first.
    pub recent: Vec<Message>,
    /// The configured channels.
    pub channels: Vec<String>,
}

/// The alert state of the running server.
#[derive(Default)]
pub struct Alerts {
    engine: Mutex<engine::Engine>,
    notices: Mutex<Vec<(Rule, String)>>,
    wake: tokio::sync::Notify,
    pub events: EventCounts,
    backup_failure: Mutex<Option<(i64, String)>>,
}

impl Alerts {
    /// Queues a one-off notice (sent at once, if its rule is on).
    pub fn notice(&self, rule: Rule, summary: String) {
        let mut notices = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded even when no alert loop runs to take them.
        if notices.len() < engine::RECENT {
            notices.push((rule, summary));
        }
        drop(notices);
        self.wake.notify_one();
    }

    /// Notices waiting for the alert loop (bounded).
    pub fn queued_notices(&self) -> usize {
        self.notices.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn backup_failed(&self, at: i64, error: &str) {
        *self
            .backup_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((at, error.chars().take(200).collect()));
    }

    pub fn backup_succeeded(&self, file: &str) {
        *self
            .backup_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        self.notice(
            Rule::BackupCompleted,
            format!("backup {file} written and verified"),
        );
    }

    pub fn backup_failure(&self) -> Option<(i64, String)> {
        self.backup_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn count_event(&self, event: &SecurityEvent) {
        match event.kind {
            EventKind::LoginFailed => self.events.record(Counted::FailedLogin, event.time),
            EventKind::InvalidSignature => {
                self.events.record(Counted::InvalidSignature, event.time)
            }
            _ => {}
        }
    }

    pub fn counts(&self) -> AlertCounts {
        let engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts = AlertCounts::default();
        for a in engine.active() {
            match a.severity {
                Severity::Critical => counts.critical += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Info => counts.info += 1,
            }
        }
        counts
    }

    pub fn view(&self, config: &config::AlertsConfig) -> AlertsView {
        let engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        AlertsView {
            active: engine.active(),
            recent: engine.recent(),
            channels: channels::ALL
                .into_iter()
                .filter(|c| channels::configured(config, c))
                .map(str::to_string)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_counts_slide_and_stay_bounded() {
        let counts = EventCounts::default();
        for t in 0..7200 {
            counts.record(Counted::FailedLogin, t);
            counts.record(Counted::FailedLogin, t);
        }
        assert_eq!(counts.count(Counted::FailedLogin, 7199, 60), 120);
        assert_eq!(counts.count(Counted::InvalidSignature, 7199, 60), 0);
        assert!(counts.seconds.lock().unwrap()[0].len() <= EVENT_HORIZON_SECS as usize);
    }
}
