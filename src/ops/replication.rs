//! Replication through Litestream (`[replication]`): the primary's heartbeat, a replica's
//! watch over its follower file, the lag both report (health, metrics, console, alert), the
//! `litestream.yml` generated from blogd's own configuration, and restores from the replica.
//!
//! blogd never talks to the object storage itself: Litestream streams the primary's WAL there
//! (`litestream replicate -exec "blogd serve"`) and keeps each replica's follower file
//! current (`litestream restore -f`). What blogd adds:
//! - the primary writes a heartbeat row every `replication.heartbeat`; a replica reads it back
//!   from its follower file, and `now - heartbeat` is its lag (it includes the upload, the
//!   follow poll and up to one heartbeat interval);
//! - the primary's own lag is how far Litestream's newest local LTX file is behind the newest
//!   heartbeat: it grows when Litestream has stopped picking up the WAL;
//! - a replica notices a replaced follower file (it reopens its connections), re-reads revoked
//!   tokens when the file changed, and re-reads the secrets file when it was copied anew.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, ReplicationMode};
use crate::db::{Db, Mode};

/// How often a replica looks at its follower file.
pub(super) const WATCH_EVERY: Duration = Duration::from_millis(500);

/// What the running server knows about its replication, for health, metrics and the console.
#[derive(Default)]
pub struct Replication {
    lag: Mutex<Option<f64>>,
}

impl Replication {
    /// The last measured lag in seconds; `None` before the first measurement or without a
    /// heartbeat to measure by.
    pub fn lag_seconds(&self) -> Option<f64> {
        *self.lag.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn set_lag(&self, lag: Option<f64>) {
        *self.lag.lock().unwrap_or_else(|p| p.into_inner()) = lag;
        if let Some(seconds) = lag {
            metrics::gauge!("blogd_replication_lag_seconds").set(seconds);
        }
    }
}

/// The database mode a configuration asks for.
pub fn db_mode(config: &Config) -> Mode {
    match config.replication.mode {
        ReplicationMode::Off => Mode::Standalone,
        ReplicationMode::Litestream => Mode::Litestream,
        ReplicationMode::Replica => Mode::Replica {
            primary: config.replication.primary_url.0.clone().unwrap_or_default(),
        },
    }
}

/// Opens the database of a configuration in its mode. A replica waits (up to `wait`) for
/// its follower file, which `litestream restore -f` creates on its first start.
pub fn open_db(config: &Config, wait: Duration) -> anyhow::Result<Db> {
    let path = config.database_path();
    let mode = db_mode(config);
    if matches!(mode, Mode::Replica { .. }) {
        let deadline = std::time::Instant::now() + wait;
        let mut told = false;
        while !path.exists() && std::time::Instant::now() < deadline {
            if !told {
                tracing::info!(file = %path.display(), "waiting for the follower file (litestream restore -f)");
                told = true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if !config.secrets_path().exists() {
            anyhow::bail!(
                "a replica verifies tokens with the primary's keys: copy the primary's {} to {} (mode 0600)",
                "secrets.toml",
                config.secrets_path().display()
            );
        }
    }
    Db::open_as(&path, mode)
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(super) fn mtime_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// Litestream's directory of local LTX files for a database: `.<name>-litestream/ltx/0`.
fn local_ltx_dir(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    db.with_file_name(format!(".{name}-litestream"))
        .join("ltx")
        .join("0")
}

/// The newest local LTX file's time (ms), if Litestream has made any.
pub(super) fn newest_ltx_ms(db: &Path) -> Option<i64> {
    std::fs::read_dir(local_ltx_dir(db))
        .ok()?
        .flatten()
        .filter_map(|e| mtime_ms(&e.path()))
        .max()
}

/// The `litestream.yml` for this configuration, commented: the database path and replica
/// settings come from blogd's own, so the two never drift. Credentials are not in it:
/// Litestream reads them from its environment (the unit's 0600 environment file).
pub fn litestream_yml(config: &Config) -> String {
    let r = &config.replication;
    let db = absolute(&config.database_path());
    let url = r.replica_url.0.as_deref().unwrap_or("s3://BUCKET/blogd");
    let secs = |d: crate::config::HumanDuration| format!("{}s", d.0.as_secs());
    let mut out = String::new();
    out.push_str(&format!(
        "# litestream.yml for blogd, generated by `blogd replication config` from blogd's own\n\
         # configuration ([replication] and storage.data_dir). Regenerate it after changing\n\
         # those instead of editing it, so that the paths never drift apart.\n\
         #\n\
         # Credentials are not in this file. Litestream reads LITESTREAM_ACCESS_KEY_ID and\n\
         # LITESTREAM_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) from its\n\
         # environment: the blogd-litestream unit loads them from /etc/blogd/litestream.env\n\
         # (mode 0600).\n\
         #\n\
         # Primary:  litestream replicate -config THIS -restore-if-db-not-exists -exec \"blogd serve\"\n\
         # Replica:  litestream restore -config THIS -f {db}\n\
         # Restore:  blogd restore --from-replica [--at 2026-01-15T10:00:00Z]\n\
         \n\
         # A full snapshot every replication.snapshot_interval; history (point-in-time\n\
         # restores, and erased personal data) is kept for replication.retention.\n\
         snapshot:\n  interval: {}\n  retention: {}\n\n",
        secs(r.snapshot_interval),
        secs(r.retention),
    ));
    out.push_str(&format!(
        "dbs:\n  - path: {db}\n\
         \x20   # blogd leaves WAL checkpoints to Litestream and waits up to 5 s for its locks.\n\
         \x20   busy-timeout: 5s\n\
         \x20   replica:\n\
         \x20     url: {url}\n\
         \x20     # How often new writes are uploaded: the most a lost primary takes with it.\n\
         \x20     sync-interval: {}\n",
        secs(r.sync_interval),
    ));
    if url.starts_with("s3://") {
        out.push_str(&format!("      region: {}\n", r.region));
        if let Some(endpoint) = &r.endpoint.0 {
            out.push_str(&format!("      endpoint: {endpoint}\n"));
        }
        if r.force_path_style {
            out.push_str("      force-path-style: true\n");
        }
    }
    out
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Restores the replica's copy (its newest state, or the state at `at`) into a new file
/// beside the database, with `litestream restore`, and checks SQLite's integrity of it.
/// Returns the file; the caller replaces the live data with it like with a backup.
pub fn fetch_from_replica(config: &Config, at: Option<&str>) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    if config.replication.replica_url.0.is_none() {
        anyhow::bail!("replication.replica_url is not set: there is no replica to restore from");
    }
    let dir = config.storage.data_dir.clone();
    let yml = dir.join(format!(".litestream-restore-{}.yml", std::process::id()));
    let out = dir.join(format!(".from-replica-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&out);
    std::fs::write(&yml, litestream_yml(config))?;
    let mut command = std::process::Command::new(&config.replication.litestream);
    command
        .arg("restore")
        .arg("-config")
        .arg(&yml)
        .arg("-o")
        .arg(&out);
    if let Some(at) = at {
        command.arg("-timestamp").arg(at);
    }
    command.arg(absolute(&config.database_path()));
    let output = command.output().with_context(|| {
        format!(
            "cannot run {} (replication.litestream)",
            config.replication.litestream.display()
        )
    });
    let _ = std::fs::remove_file(&yml);
    let output = output?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&out);
        let said = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "litestream restore failed: {}",
            said.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("(no message)")
        );
    }
    Ok(out)
}
