//! The detailed health check (`GET /api/healthcheck`) and readiness. Each check is one small
//! function returning a typed result; adding a check is one line in [`run`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::migrate;

/// Worst wins: the report's status is the worst of its checks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

impl HealthReport {
    /// Each check's name and status word (the console's Health box).
    pub fn check_statuses(&self) -> Vec<(&str, &str)> {
        self.checks
            .iter()
            .map(|(name, check)| (name.as_str(), check["status"].as_str().unwrap_or("?")))
            .collect()
    }

    /// Days until the served certificate expires (None without TLS).
    pub fn tls_expires_in_days(&self) -> Option<i64> {
        self.checks.get("tls")?["expires_in_days"].as_i64()
    }

    /// `1d 2h`: how long the server has run.
    pub fn uptime_human(&self) -> Option<&str> {
        self.checks.get("uptime")?["human"].as_str()
    }
}

/// One check's outcome: its status and what it measured (never secrets, paths or errors).
pub struct CheckResult {
    pub status: Status,
    pub details: Value,
}

impl CheckResult {
    fn new(status: Status, details: Value) -> CheckResult {
        CheckResult { status, details }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema, serde::Deserialize)]
pub struct HealthReport {
    pub status: Status,
    /// Check name → `{"status": …, …measurements}`.
    #[schema(value_type = HealthChecks)]
    pub checks: BTreeMap<String, Value>,
    pub timestamp: String,
    pub version: String,
    /// Alerts firing now, by severity (details are in the console).
    pub alerts: crate::alerts::AlertCounts,
}

// The shapes of the checks, for the OpenAPI document. The checks build their details as JSON
// (each one small and different); these types only describe what [`run`] puts together, and the
// client check in `clients/` validates real answers against them.

/// The checks of `/api/healthcheck`, each with its own `status`.
#[derive(Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: DatabaseCheck,
    pub disk: DiskCheck,
    pub backups: BackupsCheck,
    pub webhooks: WebhooksCheck,
    pub tls: TlsCheck,
    pub logs: LogsCheck,
    pub uptime: UptimeCheck,
    /// Only with `replication.mode` `litestream` or `replica`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationCheck>,
}

/// How far behind replication is: on a replica, the age of the newest primary heartbeat in
/// its follower file; on a primary, how long Litestream has not picked up the WAL. Degraded
/// above `alerts.rules.replication_lag.threshold` or while unknown.
#[derive(Serialize, ToSchema)]
pub struct ReplicationCheck {
    pub status: Status,
    /// `litestream` (a primary) or `replica`.
    pub mode: String,
    /// Seconds; `null` until measured (no heartbeat yet).
    pub lag_seconds: Option<f64>,
}

/// Three pings of the database; `error` instead of `latency_ms` when it fails.
#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    pub status: Status,
    /// Mean of 3 pings, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = f64)]
    pub latency_ms: Option<f64>,
    /// `migrations` (pending) or `database not answering`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub error: Option<String>,
}

/// Free space (percent) of the data and log file systems, and whether data can be written.
#[derive(Serialize, ToSchema)]
pub struct DiskCheck {
    pub status: Status,
    /// `null` when it cannot be measured.
    pub data_free_percent: Option<f64>,
    /// `null` when logs go to standard output only, or it cannot be measured.
    pub logs_free_percent: Option<f64>,
    pub writable: bool,
}

/// The newest verified backup.
#[derive(Serialize, ToSchema)]
pub struct BackupsCheck {
    pub status: BackupState,
    /// RFC 3339; `null` before the first backup.
    pub last_success_at: Option<String>,
    /// `null` before the first backup.
    pub age_hours: Option<i64>,
}

/// `none` (no backup yet), `ok`, or `stale` (older than twice `backup.every`: degraded).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupState {
    None,
    Ok,
    Stale,
}

/// The revalidation webhook outbox; `error` instead of the counts when it cannot be read.
#[derive(Serialize, ToSchema)]
pub struct WebhooksCheck {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64)]
    pub pending: Option<i64>,
    /// Deliveries that gave up (degraded while any).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64)]
    pub failed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub error: Option<String>,
}

/// The served certificate (degraded under 7 days, unhealthy once expired).
#[derive(Serialize, ToSchema)]
pub struct TlsCheck {
    pub status: Status,
    pub enabled: bool,
    /// `null` without TLS.
    pub expires_in_days: Option<i64>,
}

/// The log writer (degraded after any failed write or dropped line).
#[derive(Serialize, ToSchema)]
pub struct LogsCheck {
    pub status: Status,
    pub failed_writes: u64,
    pub dropped_lines: u64,
}

/// Time since the process started.
#[derive(Serialize, ToSchema)]
pub struct UptimeCheck {
    pub status: Status,
    pub seconds: u64,
    /// `1d 4h`, `3h 12m`, `42s`.
    pub human: String,
}

/// Free space of the file system holding a path, as a fraction (0–1). Injectable so tests can
/// feed a nearly full disk.
pub trait DiskProbe: Send + Sync {
    fn free_fraction(&self, path: &Path) -> std::io::Result<f64>;
}

/// The real probe: statvfs(3).
pub struct StatVfs;

impl DiskProbe for StatVfs {
    fn free_fraction(&self, path: &Path) -> std::io::Result<f64> {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: statvfs writes into the zeroed struct we own; c_path is a valid C string.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let total = stat.f_blocks as f64;
        Ok(if total > 0.0 {
            stat.f_bavail as f64 / total
        } else {
            0.0
        })
    }
}

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
    let logs = crate::ops::logs::dir(&state.config);
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
    let (status, details) = crate::ops::replication::health(state)?;
    let status = match critical_only {
        true if !crate::ops::replication::ready(state) => Status::Unhealthy,
        true => Status::Healthy,
        false => status,
    };
    Some(CheckResult::new(status, details))
}

/// `1d 4h`, `3h 12m`, `42s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m {}s", secs % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
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

/// A probe that reports a fixed free fraction (tests, and a stand-in when statvfs fails).
pub struct FixedDisk(pub f64);

impl DiskProbe for FixedDisk {
    fn free_fraction(&self, _path: &Path) -> std::io::Result<f64> {
        Ok(self.0)
    }
}

pub fn default_probe() -> Arc<dyn DiskProbe> {
    Arc::new(StatVfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(125), "2m 5s");
        assert_eq!(human_duration(3 * 3600 + 12 * 60), "3h 12m");
        assert_eq!(human_duration(86_400 + 4 * 3600 + 5), "1d 4h");
    }

    #[test]
    fn statvfs_reads_this_file_system() {
        let free = StatVfs.free_fraction(Path::new("/")).unwrap();
        assert!((0.0..=1.0).contains(&free));
    }
}
