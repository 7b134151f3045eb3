//! Replication jobs of a running server: the primary's heartbeat under Litestream, a
//! replica's watch of its follower file (reopened when replaced; revoked tokens and public
//! answers re-read when it moves on; secrets reloaded when copied again), the lag both
//! report, and what it means for health and readiness.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::replication::{Replication, WATCH_EVERY, mtime_ms, newest_ltx_ms, now_ms};
use crate::app::AppState;
use crate::config::ReplicationMode;
use crate::db::Db;

/// Starts the replication job of this server's mode: the heartbeat on a primary under
/// Litestream, the follower watch on a replica; nothing when replication is off.
pub fn spawn(state: AppState) {
    match state.config.replication.mode {
        ReplicationMode::Off => {}
        ReplicationMode::Litestream => {
            tokio::spawn(heartbeat(
                state.db.clone(),
                state.config.replication.heartbeat.0,
                state.replication.clone(),
            ));
        }
        ReplicationMode::Replica => {
            tokio::spawn(watch_follower(state));
        }
    }
}

/// The primary: one heartbeat row every `every` (`replication.heartbeat`), and its own lag.
async fn heartbeat(db: Db, every: Duration, replication: Arc<Replication>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat: Option<i64> = None;
    loop {
        tick.tick().await;
        let at = now_ms();
        match db
            .write(move |tx| crate::db::replication::beat(tx, at))
            .await
        {
            Ok(()) => last_beat = Some(at),
            Err(err) => tracing::warn!(error = %err, "replication heartbeat not written"),
        }
        // Beats older than one interval should have been picked up by Litestream by now.
        let path = db.path().to_path_buf();
        // Unknown until Litestream has made its first LTX file.
        let lag = last_beat
            .zip(newest_ltx_ms(&path))
            .map(|(beat, picked_up)| {
                let behind = (beat - picked_up - every.as_millis() as i64).max(0);
                behind as f64 / 1000.0
            });
        replication.set_lag(lag);
    }
}

/// What a replica remembers of its follower file between two looks.
#[derive(Default)]
struct Seen {
    inode: Option<u64>,
    txid: Option<String>,
    secrets: Option<i64>,
}

/// A replica: follows its follower file (replaced → new connections; changed → revoked
/// tokens and public answers re-read), its secrets file, and its lag.
async fn watch_follower(state: AppState) {
    use std::os::unix::fs::MetadataExt;
    let path = state.db.path().to_path_buf();
    let mut txid_name = path.clone().into_os_string();
    txid_name.push("-txid");
    let txid_path = PathBuf::from(txid_name);
    let secrets = state.config.secrets_path();
    let mut seen = Seen {
        inode: std::fs::metadata(&path).ok().map(|m| m.ino()),
        txid: std::fs::read_to_string(&txid_path).ok(),
        secrets: mtime_ms(&secrets),
    };
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let inode = std::fs::metadata(&path).ok().map(|m| m.ino());
        if inode.is_some() && inode != seen.inode {
            tracing::warn!(file = %path.display(), "the follower file was replaced: reopening its connections");
            let db = state.db.clone();
            match tokio::task::spawn_blocking(move || db.reopen_readers()).await {
                Ok(Ok(())) => seen.inode = inode,
                Ok(Err(err)) => {
                    tracing::error!(error = %format!("{err:#}"), "cannot reopen the follower file")
                }
                Err(err) => tracing::error!(error = %err, "cannot reopen the follower file"),
            }
        }
        let txid = std::fs::read_to_string(&txid_path).ok();
        if txid != seen.txid {
            seen.txid = txid;
            followed(&state).await;
        }
        let secrets_changed = mtime_ms(&secrets);
        if secrets_changed != seen.secrets {
            seen.secrets = secrets_changed;
            crate::ops::signals::reload(&state);
        }
        let lag = state
            .db
            .read(crate::db::replication::last_beat)
            .await
            .ok()
            .flatten()
            .map(|beat| ((now_ms() - beat).max(0)) as f64 / 1000.0);
        state.replication.set_lag(lag);
    }
}

/// The follower file moved on: public answers and revoked tokens are read again.
async fn followed(state: &AppState) {
    let generation = state.db.generation.clone();
    let _ = state.db.read(move |c| Ok(generation.observe(c)?)).await;
    let worker = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(err) = worker.revocations.load(&worker.db, worker.clock.now()) {
            tracing::warn!(error = %err, "cannot re-read revoked tokens from the follower file");
        }
    })
    .await;
}

/// `checks.replication` of `/api/healthcheck`: `None` when replication is off. Degraded when
/// the lag is unknown or above `alerts.rules.replication_lag.threshold`; unhealthy when a
/// replica has no follower file.
pub fn health(state: &AppState) -> Option<(crate::ops::health::Status, Value)> {
    use crate::ops::health::Status;
    let mode = state.config.replication.mode;
    if mode == ReplicationMode::Off {
        return None;
    }
    let lag = state.replication.lag_seconds();
    let threshold = state.config.alerts.rules.replication_lag.threshold.0;
    let status = if mode == ReplicationMode::Replica && !state.db.path().exists() {
        Status::Unhealthy
    } else {
        match lag {
            Some(lag) if lag <= threshold.as_secs_f64() => Status::Healthy,
            _ => Status::Degraded,
        }
    };
    Some((
        status,
        json!({"mode": mode.as_str(), "lag_seconds": lag.map(|l| (l * 10.0).round() / 10.0)}),
    ))
}

/// A replica too far behind is not ready (load balancers stop sending it readers); its
/// reads still work for whoever asks.
pub fn ready(state: &AppState) -> bool {
    if state.config.replication.mode != ReplicationMode::Replica {
        return true;
    }
    let max = state.config.replication.max_lag.0.as_secs_f64();
    state
        .replication
        .lag_seconds()
        .is_some_and(|lag| lag <= max)
}
