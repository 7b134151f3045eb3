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

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
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

/// Runs the rules until the runtime stops: every `alerts.interval`, and at once for a notice.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut events = state.security.subscribe();
        let interval = state
            .config
            .alerts
            .interval
            .0
            .max(std::time::Duration::from_secs(1));
        for rule in Rule::CONDITIONS {
            let (enabled, severity) = rule.setting(&state.config.alerts.rules);
            if enabled {
                metrics::gauge!("alerts_firing", "rule" => rule.name(), "severity" => severity.as_str())
                    .set(0.0);
            }
        }
        let mut summary_day = first_summary_day(&state);
        let mut next = tokio::time::Instant::now();
        loop {
            let mut messages = Vec::new();
            tokio::select! {
                event = events.recv() => {
                    match event {
                        Ok(event) => state.alerts.count_event(&event),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                    continue;
                }
                () = state.alerts.wake.notified() => {}
                () = tokio::time::sleep_until(next) => {
                    next = tokio::time::Instant::now() + interval;
                    messages.extend(evaluate(&state).await);
                    if let Some(day) = summary_due(&state, summary_day) {
                        summary_day = day;
                        let text = daily_summary(&state).await;
                        state.alerts.notice(Rule::DailySummary, text);
                    }
                }
            }
            messages.extend(take_notices(&state));
            dispatch(&state, messages).await;
        }
    });
}

/// One evaluation: every condition rule and the queued notices, sent on. (The loop above does
/// this every interval; tests call it with a moved clock instead of waiting.)
pub async fn tick(state: &AppState) {
    let mut messages = evaluate(state).await;
    messages.extend(take_notices(state));
    dispatch(state, messages).await;
}

/// One evaluation of every condition rule.
pub async fn evaluate(state: &AppState) -> Vec<Message> {
    let sample = sample::gather(state).await;
    let now = state.clock.now();
    let rules = &state.config.alerts.rules;
    let repeat = state.config.alerts.repeat.as_secs();
    let mut engine = state
        .alerts
        .engine
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Rule::CONDITIONS
        .into_iter()
        .filter_map(|rule| {
            let (enabled, severity) = rule.setting(rules);
            if !enabled {
                engine.forget(rule);
                return None;
            }
            let holding = rules::check(rule, &sample, rules);
            engine.observe(rule, severity, holding, now, repeat)
        })
        .collect()
}

fn take_notices(state: &AppState) -> Vec<Message> {
    let queued = std::mem::take(
        &mut *state
            .alerts
            .notices
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    let now = state.clock.now();
    let mut engine = state
        .alerts
        .engine
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    queued
        .into_iter()
        .filter_map(|(rule, summary)| {
            let (enabled, severity) = rule.setting(&state.config.alerts.rules);
            enabled.then(|| engine.notice(rule, severity, summary, now))
        })
        .collect()
}

/// Logs each message, updates `alerts_firing`, and queues it for every channel that takes its
/// severity, all in one transaction.
async fn dispatch(state: &AppState, messages: Vec<Message>) {
    if messages.is_empty() {
        return;
    }
    let config = &state.config.alerts;
    let mut rows = Vec::new();
    for m in &messages {
        log(m);
        if m.status != Status::Notice {
            let firing = if m.status == Status::Firing { 1.0 } else { 0.0 };
            metrics::gauge!("alerts_firing", "rule" => m.rule.clone(), "severity" => m.severity.as_str())
                .set(firing);
        }
        let Ok(payload) = serde_json::to_string(m) else {
            continue;
        };
        for channel in channels::for_severity(config, m.severity) {
            rows.push((
                channel,
                format!("alert.{}", m.status.as_str()),
                m.rule.clone(),
                payload.clone(),
            ));
        }
    }
    if rows.is_empty() {
        return;
    }
    let now = state.clock.now();
    let queued = rows.clone();
    let stored = state
        .db
        .write(move |tx| {
            for (channel, event, rule, payload) in &queued {
                crate::db::outbox::enqueue_alert(tx, channel, event, rule, payload, now)?;
            }
            Ok(())
        })
        .await;
    match stored {
        Ok(()) => state.webhooks_wake.notify_one(),
        Err(err) => {
            // The outbox lives in the database, which may be what is failing (database_down,
            // a full disk): send once, directly, rather than not at all.
            tracing::error!(target: "alerts", error = %err, "cannot queue alert deliveries; sending them directly, once");
            send_directly(state, rows);
        }
    }
}

fn send_directly(state: &AppState, rows: Vec<(&'static str, String, String, String)>) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(state.config.webhooks.timeout.0)
        .build()
    else {
        return;
    };
    let config = state.config.alerts.clone();
    tokio::spawn(async move {
        for (channel, _, rule, payload) in rows {
            if let Err(err) = channels::send(&config, &client, channel, &payload).await {
                tracing::error!(target: "alerts", rule, to = channel, error = %err, "direct alert delivery failed");
            }
        }
    });
}

fn log(m: &Message) {
    let status = m.status.as_str();
    let (rule, summary) = (m.rule.as_str(), m.summary.as_str());
    match (m.status, m.severity) {
        (Status::Firing, Severity::Critical) => {
            tracing::error!(target: "alerts", rule, severity = "critical", status, repeat = m.repeat, "{summary}")
        }
        (Status::Firing, Severity::Warning) => {
            tracing::warn!(target: "alerts", rule, severity = "warning", status, repeat = m.repeat, "{summary}")
        }
        _ => {
            tracing::info!(target: "alerts", rule, severity = m.severity.as_str(), status, "{summary}")
        }
    }
}

/// The day (days since the epoch) of the last summary: today's hour already passed at start
/// counts as sent, so a restart does not send a second one.
fn first_summary_day(state: &AppState) -> i64 {
    let now = state.clock.now();
    let hour = i64::from(state.config.alerts.rules.daily_summary.hour);
    let today = now.div_euclid(86_400);
    if now.rem_euclid(86_400) / 3600 >= hour {
        today
    } else {
        today - 1
    }
}

/// The day to record when a summary is due now.
fn summary_due(state: &AppState, last_day: i64) -> Option<i64> {
    let rule = &state.config.alerts.rules.daily_summary;
    let now = state.clock.now();
    let today = now.div_euclid(86_400);
    (rule.enabled && today > last_day && now.rem_euclid(86_400) / 3600 >= i64::from(rule.hour))
        .then_some(today)
}

/// Requests and errors since the last summary, new posts and waiting comments, the most
/// throttled clients.
pub async fn daily_summary(state: &AppState) -> String {
    let now = state.clock.now();
    let (requests, errors) = state.stats.take_totals();
    let since = now - 86_400;
    let counts = state
        .db
        .read(move |c| {
            Ok((
                crate::db::posts::created_since(c, since)?,
                crate::db::comments::pending_count(c)?,
            ))
        })
        .await;
    let (posts, pending) = counts.unwrap_or((-1, -1));
    let top = state.throttle.refusals.take_top(5, now);
    let throttled = if top.is_empty() {
        "nobody".to_string()
    } else {
        top.iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{requests} requests, {errors} server errors; {posts} new posts; {pending} comments waiting for moderation; most throttled: {throttled}"
    )
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
