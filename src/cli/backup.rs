//! `blogd backup` and `blogd restore`: through the running server's admin socket when there is
//! one (it owns the database), else on the files. Long work shows its progress.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::target::Target;
use crate::config::Config;
use crate::ops::backup::{BackupInfo, Backups};

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Make a backup now; prints its path last.
    Now,
    /// List backups, newest first.
    List,
    /// Check a backup against its manifest and SQLite's integrity check.
    Verify {
        file: String,
        /// The age identity of an encrypted backup (to check its contents too).
        #[arg(long, value_name = "KEYFILE")]
        identity: Option<PathBuf>,
    },
    /// Delete all but the newest `backup.keep` backups.
    Prune,
}

fn print_backup(b: &BackupInfo) {
    println!(
        "{:<28} {:>10} {:<22} {} media, schema {}",
        b.file,
        format!("{} KB", b.size / 1024),
        crate::clock::rfc3339(b.created_at),
        b.media_files,
        b.schema_version
    );
}

pub fn run(config: &Config, command: &BackupCommand) -> anyhow::Result<()> {
    let backups = Backups::new(config);
    match command {
        BackupCommand::List => {
            let list = backups.list();
            if list.is_empty() {
                println!("no backups in {}", backups.dir().display());
            }
            list.iter().for_each(print_backup);
        }
        BackupCommand::Verify { file, identity } => {
            let info = backups
                .verify(&backups.locate(file), identity.as_deref())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("ok: ");
            print_backup(&info);
        }
        BackupCommand::Now => {
            let info = super::small_runtime()?
                .block_on(async { Target::of(config).await?.backup_now().await })?;
            println!("{}", backups.dir().join(&info.file).display());
        }
        BackupCommand::Prune => {
            let removed = super::small_runtime()?
                .block_on(async { Target::of(config).await?.prune().await })?;
            println!("removed {}", removed.len());
        }
    }
    Ok(())
}

pub fn restore(
    config: &Config,
    file: &str,
    yes: bool,
    identity: Option<&Path>,
) -> anyhow::Result<()> {
    let backups = Backups::new(config);
    let path = backups.locate(file);
    let info = backups
        .verify(&path, identity)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
    confirm(
        yes,
        &format!(
            "Restore {} (made {}) over the current data?",
            info.file,
            crate::clock::rfc3339(info.created_at)
        ),
    )?;
    apply(config, &path, identity, &info.file)
}

/// Asks on a terminal before data is replaced (`--yes` for scripts).
pub(super) fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("restoring replaces all current data: confirm with --yes");
    }
    eprintln!("{question} A backup of the current data is taken first.\nType yes to go on:");
    if super::read_line()?.trim() != "yes" {
        anyhow::bail!("not confirmed; nothing was changed");
    }
    Ok(())
}

/// Restores the verified backup at `path` (shown as `shown`): through the running server
/// when there is one, else on the files.
pub(super) fn apply(
    config: &Config,
    path: &Path,
    identity: Option<&Path>,
    shown: &str,
) -> anyhow::Result<()> {
    super::small_runtime()?.block_on(async {
        let target = Target::of(config).await?;
        let before = target.restore(path, identity).await?;
        match target.is_server() {
            true => println!(
                "restored {shown} into the running server; the data before is in {}",
                before.file
            ),
            false => println!("restored {shown}; the data before is in {}", before.file),
        }
        anyhow::Ok(())
    })
}
