//! Gathers a [`Sample`] from the running server: the same probes as the health check (the
//! disk probe is injectable), the request statistics, the outbox, the throttle and the secrets
//! file. Nothing here blocks an async worker: SQLite and file reads go through the pool or are
//! small.

use crate::app::AppState;
use crate::ops::health::Status;
use crate::secrets::SecretsFile;

use super::rules::Sample;

pub async fn gather(state: &AppState) -> Sample {
    let now = state.clock.now();
    let rules = &state.config.alerts.rules;
    let errors = state
        .stats
        .window(now, rules.error_rate.window.as_secs() as usize);
    let latency = state
        .stats
        .window(now, rules.latency_p95.window.as_secs() as usize);
    let database_ok = crate::ops::checks::database(state).await.status != Status::Unhealthy;
    let dead_deliveries = state
        .db
        .read(crate::db::outbox::counts)
        .await
        .map_or(0, |c| c.dead);
    let secrets = crate::secrets::read(&state.config.secrets_path()).ok();
    Sample {
        database_ok,
        disk_free_percent: disk_free_percent(state),
        error_window: (errors.requests, errors.errors),
        latency_window: (latency.requests, latency.p95_ms),
        backup_problem: backup_problem(state, now),
        rss_bytes: rss_bytes(),
        dead_deliveries,
        longest_throttled: state.throttle.refusals.longest_run(now),
        invalid_signatures: state.alerts.events.count(
            super::Counted::InvalidSignature,
            now,
            rules.invalid_signatures.window.as_secs(),
        ),
        failed_logins: state.alerts.events.count(
            super::Counted::FailedLogin,
            now,
            rules.failed_logins.window.as_secs(),
        ),
        certificate_days_left: state
            .tls
            .as_ref()
            .map(|tls| (tls.info().not_after - now) / 86_400),
        jwt_key_age: secrets.as_ref().and_then(|f| jwt_key_age(state, f, now)),
        hmac_ages: secrets.map_or_else(Vec::new, |f| hmac_ages(state, &f, now)),
        replication_lag: state.replication.lag_seconds(),
    }
}

/// The fuller of the data and log file systems.
fn disk_free_percent(state: &AppState) -> Option<f64> {
    let probe = state.disk_probe();
    let logs = state.config.log_dir();
    [state.config.storage.data_dir.as_path(), logs.as_path()]
        .into_iter()
        .filter(|p| p.exists())
        .filter_map(|p| probe.free_fraction(p).ok())
        .map(|f| f * 100.0)
        .reduce(f64::min)
}

fn backup_problem(state: &AppState, now: i64) -> Option<String> {
    let every = state.config.backup.every.0?;
    if let Some((at, error)) = state.alerts.backup_failure() {
        return Some(format!(
            "the scheduled backup failed at {}: {error}",
            crate::clock::rfc3339(at)
        ));
    }
    let latest = state.backups.latest()?;
    let age = now - latest.created_at;
    (age > 2 * every.as_secs()).then(|| {
        format!(
            "the newest backup is {} old (backup.every is {})",
            crate::clock::human_duration(age as u64),
            crate::clock::human_duration(every.as_secs().max(0) as u64)
        )
    })
}

/// Resident memory of this process (Linux).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

fn jwt_key_age(state: &AppState, file: &SecretsFile, now: i64) -> Option<i64> {
    if state.config.auth.jwt_secret.expose().is_some() {
        return None;
    }
    file.jwt_keys.last().map(|k| now - k.created_at)
}

fn hmac_ages(state: &AppState, file: &SecretsFile, now: i64) -> Vec<(&'static str, i64)> {
    let configured = [
        (
            "analytics",
            state.config.analytics.secret.expose().is_some(),
            &file.analytics,
        ),
        (
            "revalidate",
            state.config.webhooks.revalidate_secret.expose().is_some(),
            &file.revalidate,
        ),
    ];
    configured
        .into_iter()
        .filter(|(_, from_config, s)| !from_config && s.rotated_at > 0)
        .map(|(name, _, s)| (name, now - s.rotated_at))
        .collect()
}
