//! `blogd replication …` and `blogd restore --from-replica`: the Litestream side of
//! replication, generated from blogd's own configuration.

use clap::Subcommand;

use crate::config::Config;
use crate::ops::backup::Backups;

#[derive(Subcommand, Debug)]
pub enum ReplicationCommand {
    /// Print the litestream.yml for this configuration (paths and replica settings from
    /// blogd's own; credentials stay in Litestream's environment).
    Config,
}

pub fn run(config: &Config, command: &ReplicationCommand) -> anyhow::Result<()> {
    match command {
        ReplicationCommand::Config => print!("{}", crate::ops::replication::litestream_yml(config)),
    }
    Ok(())
}

/// `blogd restore --from-replica [--at TIME]`: Litestream restores the replica's newest state
/// (or its state at TIME) into a new file; that file becomes a verified backup (integrity
/// check, schema version, hash) and is restored exactly like one: the current data is backed
/// up first, and a server under Litestream streams the restore to the replica.
pub fn restore(config: &Config, at: Option<&str>, yes: bool) -> anyhow::Result<()> {
    if let Some(at) = at
        && crate::clock::parse_rfc3339(at).is_none()
    {
        anyhow::bail!("--at {at}: give an RFC 3339 time, e.g. 2026-01-15T10:00:00Z");
    }
    let state = at.map_or_else(
        || "its newest state".to_string(),
        |t| format!("its state at {t}"),
    );
    super::backup::confirm(
        yes,
        &format!("Restore the replica's copy ({state}) over the current data?"),
    )?;
    let fetched = crate::ops::replication::fetch_from_replica(config, at)?;
    let backups = Backups::new(config);
    let now = crate::clock::Clock::default().now();
    let info = match backups.adopt(&fetched, now) {
        Ok(info) => info,
        Err(err) => {
            let _ = std::fs::remove_file(&fetched);
            return Err(err.context("the replica's copy was refused; nothing was changed"));
        }
    };
    let path = backups.dir().join(&info.file);
    let result = super::backup::apply(
        config,
        &path,
        None,
        &format!("the replica's copy ({state})"),
    );
    // The copy was only the way in; the data before the restore is the backup to keep.
    backups.remove(&info.file);
    result
}
