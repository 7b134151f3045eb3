//! The alert loop of a running server: it samples what the rules measure, runs them every
//! `alerts.interval` (and at once for a notice), and sends what fires, repeats or resolves
//! through the outbox. Apart from the alert state itself ([`super::Alerts`]), which the
//! server's state holds.

use super::*;
use crate::app::AppState;

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
