//! Periodic upkeep: the retention job. One pass deletes every kind of record older than its
//! configured retention (and forgets anonymous commenters' e-mail addresses), in one
//! transaction, and reports what it removed.

use crate::clock::Clock;
use crate::config::PrivacyConfig;
use crate::db::Db;
use crate::db::privacy::{self, Retention};
use crate::security::audit::Actor;

/// How often the job runs (seconds). Hourly keeps each pass small; retention is counted in
/// days.
pub const EVERY_SECS: u64 = 3600;

impl From<&PrivacyConfig> for Retention {
    fn from(c: &PrivacyConfig) -> Self {
        Retention {
            comment_email_days: c.comment_email_days.into(),
            security_events_days: c.security_events_days.into(),
            audit_days: c.audit_days.into(),
            pageviews_days: c.pageviews_days.into(),
            sessions_days: c.sessions_days.into(),
        }
    }
}

/// One pass of the job. Returns the removed counts by kind (all kinds, zeros included).
/// When anything was removed, the pass leaves an audit record (`retention.cleanup`, actor
/// `system`) saying how much, so the trail shows that history was trimmed and why.
pub async fn run_once(
    db: &Db,
    clock: &Clock,
    retention: Retention,
) -> Result<Vec<(&'static str, usize)>, crate::db::StoreError> {
    let now = clock.now();
    let removed = db
        .write(move |tx| {
            let removed = privacy::apply_retention(tx, &retention, now)?;
            let summary: Vec<String> = removed
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{kind}={n}"))
                .collect();
            if !summary.is_empty() {
                Actor::system().record(
                    tx,
                    "retention.cleanup",
                    Some(&format!("retention:{}", summary.join(","))),
                    now,
                )?;
            }
            Ok(removed)
        })
        .await?;
    Ok(removed)
}

/// Runs the job now and then every hour (of `clock`), until the runtime stops.
pub fn spawn(db: Db, clock: Clock, retention: Retention) {
    tokio::spawn(async move {
        loop {
            match run_once(&db, &clock, retention).await {
                Ok(removed) if removed.iter().any(|(_, n)| *n > 0) => {
                    let report: serde_json::Map<String, serde_json::Value> = removed
                        .iter()
                        .map(|(kind, n)| ((*kind).to_owned(), (*n).into()))
                        .collect();
                    tracing::info!(removed = %serde_json::Value::Object(report), "retention cleanup");
                }
                Ok(_) => tracing::debug!("retention cleanup: nothing to remove"),
                Err(err) => tracing::error!(error = %err, "retention cleanup failed"),
            }
            clock.sleep(EVERY_SECS).await;
        }
    });
}
