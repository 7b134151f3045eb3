//! `blogd backup` and `blogd restore`: through the running server's admin socket when there is
//! one (it owns the database), else on the files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::small_runtime;
use crate::config::Config;
use crate::db::Db;

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

fn print_backup(b: &crate::ops::backup::BackupInfo) {
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
    use crate::admin::client::AdminClient;
    use crate::ops::backup::{BackupInfo, Backups};
    let runtime = small_runtime()?;
    let client = AdminClient::new(&crate::admin::socket_path(config));
    let live = runtime.block_on(client.is_up());
    let backups = Backups::new(config);
    let now = crate::clock::Clock::default().now();
    match (command, live) {
        (BackupCommand::Now, true) => {
            let info: BackupInfo = runtime.block_on(async {
                let patient = client.patient();
                let job =
                    tokio::spawn(
                        async move { patient.post::<BackupInfo>("/v1/backups", None).await },
                    );
                while !job.is_finished() {
                    if let Ok(view) = client.get::<serde_json::Value>("/v1/backups").await
                        && let Some(p) = view["running"].as_object()
                    {
                        let (done, total) = (
                            p["pages_done"].as_u64().unwrap_or(0),
                            p["pages_total"].as_u64().unwrap_or(1).max(1),
                        );
                        eprint!("\rbacking up: {:>3}%", done * 100 / total);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                eprintln!();
                job.await?.map_err(anyhow::Error::from)
            })?;
            println!("{}", backups.dir().join(&info.file).display());
        }
        (BackupCommand::Now, false) => {
            crate::app::ensure_data_dir(config)?;
            Db::open(&config.database_path())?;
            let info = backups.create(now, |p| {
                eprint!(
                    "\rbacking up: {:>3}%",
                    p.pages_done * 100 / p.pages_total.max(1)
                )
            })?;
            eprintln!();
            println!("{}", backups.dir().join(&info.file).display());
        }
        (BackupCommand::List, _) => {
            let list = backups.list();
            if list.is_empty() {
                println!("no backups in {}", backups.dir().display());
            }
            for b in &list {
                print_backup(b);
            }
        }
        (BackupCommand::Verify { file, identity }, _) => {
            let info = backups
                .verify(&backups.locate(file), identity.as_deref())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("ok: ");
            print_backup(&info);
        }
        (BackupCommand::Prune, true) => {
            let v: serde_json::Value = runtime.block_on(client.post("/v1/backups/prune", None))?;
            println!("removed {}", v["removed"].as_array().map_or(0, Vec::len));
        }
        (BackupCommand::Prune, false) => {
            println!("removed {}", backups.prune()?.len());
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
    use crate::admin::client::AdminClient;
    let backups = crate::ops::backup::Backups::new(config);
    let path = backups.locate(file);
    let info = backups
        .verify(&path, identity)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("restoring replaces all current data: confirm with --yes");
        }
        eprintln!(
            "Restore {} (made {}) over the current data? A backup of the current data is taken first.\nType yes to go on:",
            info.file,
            crate::clock::rfc3339(info.created_at)
        );
        if super::read_line()?.trim() != "yes" {
            anyhow::bail!("not confirmed; nothing was changed");
        }
    }
    let runtime = small_runtime()?;
    let client = AdminClient::new(&crate::admin::socket_path(config));
    if runtime.block_on(client.is_up()) {
        let v: serde_json::Value = runtime.block_on(client.patient().post(
            "/v1/backups/restore",
            Some(serde_json::json!({"file": path.display().to_string(), "identity": identity.map(|i| i.display().to_string())})),
        ))?;
        println!(
            "restored {} into the running server; the data before is in {}",
            info.file,
            v["pre_restore_backup"]["file"].as_str().unwrap_or("?")
        );
    } else {
        let db = Db::open(&config.database_path())?;
        let now = crate::clock::Clock::default().now();
        let before = backups.restore(&db, &path, identity, now, |_| {})?;
        println!(
            "restored {}; the data before is in {}",
            info.file, before.file
        );
    }
    Ok(())
}
