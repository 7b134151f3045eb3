//! The detailed health check (`GET /api/healthcheck`) and readiness. Each check is one small
//! function returning a typed result; adding a check is one line in [`run`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

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

    /// Replication's mode and lag in seconds (`None` inside while unmeasured); `None` when
    /// replication is off.
    pub fn replication_lag(&self) -> Option<(&str, Option<f64>)> {
        let check = self.checks.get("replication")?;
        Some((
            check["mode"].as_str().unwrap_or("?"),
            check["lag_seconds"].as_f64(),
        ))
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
    pub fn new(status: Status, details: Value) -> CheckResult {
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
    #[schema(value_type = ReplicationCheck)]
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
    fn statvfs_reads_this_file_system() {
        let free = StatVfs.free_fraction(Path::new("/")).unwrap();
        assert!((0.0..=1.0).contains(&free));
    }
}
