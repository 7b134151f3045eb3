//! `blogd config`, `blogd openapi`, completions and the manual page: commands that print
//! what the binary knows about itself.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use super::Cli;
use crate::config::{self, Overrides};

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the commented default configuration.
    PrintDefault {
        /// The variant the Debian package installs as /etc/blogd/blogd.toml (its paths are
        /// the systemd unit's directories).
        #[arg(long)]
        packaged: bool,
    },
    /// Validate a configuration file (with the environment applied, as `serve` would).
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

pub fn run(cli: &Cli, command: &ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::PrintDefault { packaged: true } => print!("{}", config::packaged_default()),
        ConfigCommand::PrintDefault { packaged: false } => print!("{}", config::DEFAULT_TOML),
        ConfigCommand::Check { file } => {
            let overrides = Overrides {
                data_dir: cli.data_dir.clone(),
                listen: None,
            };
            let config = config::load(Some(file), std::env::vars(), &overrides)?;
            crate::alerts::channels::validate(&config.alerts)?;
            println!("{}: ok", file.display());
        }
    }
    Ok(())
}

pub fn openapi(output: Option<&Path>) -> anyhow::Result<()> {
    let doc = serde_json::to_string_pretty(&crate::api::openapi())?;
    match output {
        Some(path) => std::fs::write(path, doc + "\n")
            .with_context(|| format!("cannot write {}", path.display())),
        None => {
            println!("{doc}");
            Ok(())
        }
    }
}

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "blogd", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> anyhow::Result<()> {
    let command = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
    Ok(())
}
