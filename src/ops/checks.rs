//! The health checks of a running server: database (three pings), disk, backups, deliveries,
//! certificate, log files, replication and uptime, folded into one [`HealthReport`] (worst
//! wins). The report's types and the disk probes are in [`super::health`].

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::health::{CheckResult, HealthReport, Status};
use crate::app::AppState;
use crate::clock::human_duration;
use crate::db::migrate;

/// Disk thresholds: degraded under 10 % free, unhealthy under 2 %.
const DISK_DEGRADED: f64 = 0.10;
const DISK_UNHEALTHY: f64 = 0.02;

pub(crate) async fn database(state: &AppState) -> CheckResult {
    let mut total = Duration::ZERO;
    for _ in 0..3 {
        let started = Instant::now();
        let ping = state.db.read(|c| Ok(migrate::schema_version(c)?));
        match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(version)) if version == migrate::latest_version() => total += started.elapsed(),
            Ok(Ok(_)) => {
                return CheckResult::new(Status::Unhealthy, json!({"error": "migrations"}));
            }
            _ => {
                return CheckResult::new(
                    Status::Unhealthy,
                    json!({"error": "database not answering"}),
                );
            }
        }
    }
    let latency = (total.as_secs_f64() * 1000.0 / 3.0 * 1000.0).round() / 1000.0;
    CheckResult::new(Status::Healthy, json!({"latency_ms": latency}))
}

fn disk(state: &AppState) -> CheckResult {
    let probe = state.disk_probe();
    let data = &state.config.storage.data_dir;
    let logs = state.config.log_dir();
    let mut worst = Status::Healthy;
    let mut details = serde_json::Map::new();
    for (name, path) in [("data", data.as_path()), ("logs", logs.as_path())] {
        // A log directory that does not exist (logging to stdout only) has nothing to fill.
        if name == "logs" && !path.exists() {
            details.insert(format!("{name}_free_percent"), Value::Null);
            continue;
        }
        let (status, value) = match probe.free_fraction(path) {
            Ok(free) if free < DISK_UNHEALTHY => {
                (Status::Unhealthy, json!((free * 1000.0).round() / 10.0))
            }
            Ok(free) if free < DISK_DEGRADED => {
                (Status::Degraded, json!((free * 1000.0).round() / 10.0))
            }
            Ok(free) => (Status::Healthy, json!((free * 1000.0).round() / 10.0)),
            Err(_) => (Status::Unhealthy, Value::Null),
        };
        worst = worst.max(status);
        details.insert(format!("{name}_free_percent"), value);
    }
    // Free space is not enough: the data directory must take a write. One file per check:
    // concurrent checks sharing a name removed each other's file and reported "not writable".
    static CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let marker = data.join(format!(".health-write-check-{}-{n}", std::process::id()));
    let writable = std::fs::write(&marker, b"ok")
        .and_then(|()| std::fs::remove_file(&marker))
        .is_ok();
    if !writable {
        worst = Status::Unhealthy;
    }
    details.insert("writable".into(), json!(writable));
    CheckResult::new(worst, Value::Object(details))
}

/// The newest verified backup's age: degraded once it is older than twice the schedule.
fn backups(state: &AppState) -> CheckResult {
    let Some(latest) = state.backups.latest() else {
        return CheckResult::new(
            Status::Healthy,
            json!({"status": "none", "last_success_at": null, "age_hours": null}),
        );
    };
    let age = state.clock.now() - latest.created_at;
    let stale = state
        .config
        .backup
        .every
        .0
        .is_some_and(|every| age > 2 * every.as_secs());
    CheckResult::new(
        if stale {
            Status::Degraded
        } else {
            Status::Healthy
        },
        json!({"status": if stale { "stale" } else { "ok" }, "last_success_at": crate::clock::rfc3339(latest.created_at), "age_hours": age / 3600}),
    )
}

async fn webhooks(state: &AppState) -> CheckResult {
    match state.db.read(crate::db::outbox::counts).await {
        Ok(counts) => {
            let status = if counts.dead > 0 {
                Status::Degraded
            } else {
                Status::Healthy
            };
            CheckResult::new(
                status,
                json!({"pending": counts.pending, "failed": counts.dead}),
            )
        }
        Err(_) => CheckResult::new(Status::Degraded, json!({"error": "unknown"})),
    }
}

fn tls(state: &AppState) -> CheckResult {
    let Some(tls) = &state.tls else {
        return CheckResult::new(
            Status::Healthy,
            json!({"enabled": false, "expires_in_days": null}),
        );
    };
    let days = (tls.info().not_after - state.clock.now()) / 86_400;
    let status = match days {
        d if d < 0 => Status::Unhealthy,
        d if d < 7 => Status::Degraded,
        _ => Status::Healthy,
    };
    CheckResult::new(status, json!({"enabled": true, "expires_in_days": days}))
}

fn logs(state: &AppState) -> CheckResult {
    use std::sync::atomic::Ordering::Relaxed;
    let (failed, dropped) = state.logs.get().map_or((0, 0), |l| {
        (
            l.health.failed_writes.load(Relaxed),
            l.health.dropped_lines.load(Relaxed),
        )
    });
    let status = if failed > 0 || dropped > 0 {
        Status::Degraded
    } else {
        Status::Healthy
    };
    CheckResult::new(
        status,
        json!({"failed_writes": failed, "dropped_lines": dropped}),
    )
}

/// Replication (only when `replication.mode` is not `off`): the lag and its status. For
/// readiness, a replica further behind than `replication.max_lag` is unhealthy.
fn replication(state: &AppState, critical_only: bool) -> Option<CheckResult> {
    let (status, details) = crate::ops::replication_watch::health(state)?;
    let status = match critical_only {
        true if !crate::ops::replication_watch::ready(state) => Status::Unhealthy,
        true => Status::Healthy,
        false => status,
    };
    Some(CheckResult::new(status, details))
}

fn uptime(state: &AppState) -> CheckResult {
    let secs = state.started.elapsed().as_secs();
    CheckResult::new(
        Status::Healthy,
        json!({"seconds": secs, "human": human_duration(secs)}),
    )
}

/// Runs the checks. `critical_only`: the readiness subset (database and disk).
pub async fn run(state: &AppState, critical_only: bool) -> HealthReport {
    let mut results: Vec<(&str, CheckResult)> =
        vec![("database", database(state).await), ("disk", disk(state))];
    if !critical_only {
        results.extend([
            ("backups", backups(state)),
            ("webhooks", webhooks(state).await),
            ("tls", tls(state)),
            ("logs", logs(state)),
            ("uptime", uptime(state)),
        ]);
    }
    results.extend(replication(state, critical_only).map(|r| ("replication", r)));
    let status = results
        .iter()
        .map(|(_, r)| r.status)
        .max()
        .unwrap_or(Status::Healthy);
    let checks = results
        .into_iter()
        .map(|(name, r)| {
            let mut obj = match r.details {
                Value::Object(map) => map,
                other => serde_json::Map::from_iter([("value".to_string(), other)]),
            };
            // A check may name its state itself (backups: none/ok/stale, as API.md has it).
            obj.entry("status")
                .or_insert_with(|| serde_json::to_value(r.status).unwrap_or(Value::Null));
            (name.to_string(), Value::Object(obj))
        })
        .collect();
    HealthReport {
        status,
        checks,
        timestamp: crate::clock::rfc3339(state.clock.now()),
        version: crate::VERSION.to_string(),
        alerts: state.alerts.counts(),
    }
}
