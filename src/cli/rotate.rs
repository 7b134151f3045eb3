//! `blogd rotate` and `blogd secrets show`: the secrets shared with the front end and the
//! JWT signing keys.

use clap::Subcommand;

use crate::config::Config;
use crate::db::Db;

#[derive(Subcommand, Debug)]
pub enum RotateCommand {
    /// Add a new JWT signing key; the old one verifies until its tokens expire. A running
    /// server picks it up at once (SIGHUP).
    Jwt,
    /// Rotate the running server's log files now (SIGUSR1).
    Logs,
    /// New analytics secret; the old one is accepted for 24 hours more.
    Analytics,
    /// New revalidation-webhook secret (the old one is kept 24 hours for reference).
    Revalidate,
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Print a shared secret, to configure the front end with.
    Show {
        #[arg(value_parser = ["analytics", "revalidate"])]
        which: String,
    },
}

pub fn run(config: &Config, command: &RotateCommand) -> anyhow::Result<()> {
    match command {
        which @ (RotateCommand::Analytics | RotateCommand::Revalidate) => {
            crate::app::ensure_data_dir(config)?;
            let (shared, name) = match which {
                RotateCommand::Analytics => (crate::secrets::Shared::Analytics, "analytics"),
                _ => (crate::secrets::Shared::Revalidate, "revalidate"),
            };
            let now = crate::clock::Clock::default().now();
            let secret =
                crate::secrets::rotate_shared(&config.secrets_path(), shared, now, 86_400)?;
            let db = Db::open(&config.database_path())?;
            db.write_blocking(|tx| {
                crate::security::audit::record(
                    tx,
                    &crate::security::audit::Actor::Named("cli".into()),
                    "key.rotate",
                    Some(&format!("secret:{name}")),
                    &Default::default(),
                    now,
                )
            })?;
            println!("new {name} secret (the previous one is accepted for 24 hours):\n{secret}");
            if let Some(pid) = crate::ops::pidfile::running(&config.storage.data_dir) {
                crate::ops::pidfile::send_reload(pid)?;
                println!("told the running server (pid {pid}) to reload its secrets");
            }
            Ok(())
        }
        RotateCommand::Logs => {
            let pid = crate::ops::pidfile::running(&config.storage.data_dir).ok_or_else(|| {
                anyhow::anyhow!(
                    "no running blogd found for {}",
                    config.storage.data_dir.display()
                )
            })?;
            crate::ops::pidfile::send_signal(pid, libc::SIGUSR1)?;
            println!("told the running server (pid {pid}) to rotate its logs");
            Ok(())
        }
        RotateCommand::Jwt => rotate_jwt(config),
    }
}

pub fn show(config: &Config, command: &SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::Show { which } => {
            crate::app::ensure_data_dir(config)?;
            let now = crate::clock::Clock::default().now();
            let file = crate::secrets::load_or_create(
                &config.secrets_path(),
                now,
                config.auth.jwt_secret.expose().is_none(),
            )?;
            let (configured, stored) = match which.as_str() {
                "analytics" => (config.analytics.secret.expose(), &file.analytics.current),
                _ => (
                    config.webhooks.revalidate_secret.expose(),
                    &file.revalidate.current,
                ),
            };
            println!("{}", configured.unwrap_or(stored));
            Ok(())
        }
    }
}

fn rotate_jwt(config: &Config) -> anyhow::Result<()> {
    if config.auth.jwt_secret.expose().is_some() {
        anyhow::bail!(
            "the JWT key comes from auth.jwt_secret: change it there (every session ends)"
        );
    }
    crate::app::ensure_data_dir(config)?;
    let now = crate::clock::Clock::default().now();
    let lifetime = config.auth.access_ttl.as_secs() + crate::auth::tokens::LEEWAY_SECS;
    let kid = crate::secrets::rotate_jwt(&config.secrets_path(), now, lifetime)?;
    let db = Db::open(&config.database_path())?;
    db.write_blocking(|tx| {
        let actor = crate::security::audit::Actor::Named("cli".into());
        crate::security::audit::record(
            tx,
            &actor,
            "key.rotate",
            Some(&format!("key:{kid}")),
            &Default::default(),
            now,
        )
    })?;
    println!("new JWT signing key {kid}; the previous key verifies for {lifetime} more seconds");
    match crate::ops::pidfile::running(&config.storage.data_dir) {
        Some(pid) => {
            crate::ops::pidfile::send_reload(pid)?;
            println!("told the running server (pid {pid}) to reload its keys");
        }
        None => println!("no running server found; it will use the new key when it starts"),
    }
    Ok(())
}
