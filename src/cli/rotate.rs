//! `blogd rotate` and `blogd secrets show`: the secrets shared with the front end, the JWT
//! signing keys and the log files. A running server rotates them itself (it reloads at once
//! and raises its `key_rotated` notice); without one, the secrets file is changed here.

use clap::Subcommand;

use super::target::Target;
use crate::config::Config;
use crate::ops::operations::{Rotatable, Rotated};

#[derive(Subcommand, Debug)]
pub enum RotateCommand {
    /// Add a new JWT signing key; the old one verifies until its tokens expire.
    Jwt,
    /// Rotate the running server's log files now.
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
    let what = match command {
        RotateCommand::Jwt => Rotatable::Jwt,
        RotateCommand::Logs => Rotatable::Logs,
        RotateCommand::Analytics => Rotatable::Analytics,
        RotateCommand::Revalidate => Rotatable::Revalidate,
    };
    super::small_runtime()?.block_on(async {
        let target = Target::of(config).await?;
        let (rotated, by_server) = (target.rotate(what).await?, target.is_server());
        print(&rotated);
        if by_server {
            println!("told the running server; it uses the new one already");
        } else if what != Rotatable::Logs {
            println!("no running server found; it will use the new one when it starts");
        }
        Ok(())
    })
}

fn print(rotated: &Rotated) {
    let grace = rotated.previous_valid_secs.unwrap_or(0);
    match (rotated.rotated, &rotated.kid, &rotated.secret) {
        (Rotatable::Jwt, Some(kid), _) => println!(
            "new JWT signing key {kid}; the previous key verifies for {grace} more seconds"
        ),
        (Rotatable::Logs, _, _) => println!("rotated the log files"),
        (which, _, Some(secret)) => println!(
            "new {} secret (the previous one is accepted for {} hours):\n{secret}",
            which.as_str(),
            grace / 3600
        ),
        (which, _, None) => println!("rotated {}", which.as_str()),
    }
}

pub fn show(config: &Config, command: &SecretsCommand) -> anyhow::Result<()> {
    let SecretsCommand::Show { which } = command;
    crate::ops::files::ensure_data_dir(config)?;
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
