//! Periodic upkeep: forget revocations and sessions that can no longer matter.

use std::time::Duration;

use crate::app::AppState;
use crate::db::sessions;

/// How often upkeep runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Ended sessions are kept this long (for the sessions list and investigations).
const KEEP_ENDED_SESSIONS_SECS: i64 = 30 * 86_400;

/// Runs upkeep now and then every hour, until the runtime stops.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            let now = state.clock.now();
            match state
                .db
                .write(move |tx| sessions::purge(tx, now, KEEP_ENDED_SESSIONS_SECS))
                .await
            {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged expired sessions and revocations"),
                Err(err) => tracing::error!(error = %err, "upkeep failed"),
            }
        }
    });
}
