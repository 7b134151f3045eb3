//! The command line: every command and flag (clap), and the dispatch to one thin module per
//! command group. A command parses, calls the function that owns the rule, and prints; the
//! rules themselves live in `accounts`, `content` and `ops`.

mod alerts;
mod audit;
mod backup;
mod commands;
mod config;
mod healthcheck;
mod replication;
mod rotate;
mod serve;
mod target;
mod tls;
mod user;
mod webhooks;

use std::process::ExitCode;

use clap::Parser;

use crate::config::{Config, ConfigError, Overrides};
pub use commands::{Cli, Command};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Before anything is created: what blogd writes is never world-readable.
    crate::ops::files::tighten_umask();
    let cli = Cli::parse();
    if let Command::Healthcheck {
        url,
        allow_degraded,
    } = &cli.command
    {
        return match load_config(&cli, None) {
            Ok(config) => healthcheck::run(&config, url.as_deref(), *allow_degraded)
                .unwrap_or_else(|err| {
                    println!("unreachable: {err:#}");
                    ExitCode::from(healthcheck::UNREACHABLE)
                }),
            Err(err) => {
                println!("unreachable: {err}");
                ExitCode::from(healthcheck::UNREACHABLE)
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(config_error) = err.downcast_ref::<ConfigError>() {
                eprintln!("{config_error}");
                return ExitCode::from(2);
            }
            eprintln!("error: {}", explain(&err));
            ExitCode::FAILURE
        }
    }
}

/// A failure in the shell's words: the rule's own message, whether the rule ran here or in
/// the running server (whose socket answers carry the same message).
fn explain(err: &anyhow::Error) -> String {
    use crate::admin::client::ClientError;
    match err.downcast_ref::<ClientError>() {
        Some(ClientError::Api(_, message)) => message.clone(),
        _ => format!("{err:#}"),
    }
}

/// The configuration file packages install; used when no other is named.
pub const SYSTEM_CONFIG: &str = "/etc/blogd/blogd.toml";

fn load_config(cli: &Cli, listen: Option<String>) -> Result<Config, ConfigError> {
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen,
    };
    // An installed blogd finds its configuration without being told, so `sudo -u blogd
    // blogd console` works as typed.
    let system = std::path::Path::new(SYSTEM_CONFIG);
    let file = cli
        .config
        .as_deref()
        .or_else(|| system.exists().then_some(system));
    crate::config::load(file, std::env::vars(), &overrides)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen } => serve::run(load_config(&cli, listen.clone())?),
        Command::Healthcheck { .. } => unreachable_command(),
        Command::Audit { url } => audit::run(&load_config(&cli, None)?, url.as_deref()),
        Command::Console { socket } => {
            let config = load_config(&cli, None)?;
            let path = socket
                .clone()
                .unwrap_or_else(|| crate::admin::socket_path(&config));
            crate::console::run(&path)
        }
        Command::Openapi { output } => config::openapi(output.as_deref()),
        Command::Completions { shell } => config::completions(*shell),
        Command::Man => config::man(),
        Command::Config(command) => config::run(&cli, command),
        Command::User(command) => user::run(&load_config(&cli, None)?, command),
        Command::Tls(command) => tls::run(&load_config(&cli, None)?, command),
        Command::Secrets(command) => rotate::show(&load_config(&cli, None)?, command),
        Command::Backup(command) => backup::run(&load_config(&cli, None)?, command),
        Command::Restore {
            file: Some(file),
            yes,
            identity,
            ..
        } => backup::restore(&load_config(&cli, None)?, file, *yes, identity.as_deref()),
        Command::Restore {
            file: None,
            yes,
            at,
            ..
        } => replication::restore(&load_config(&cli, None)?, at.as_deref(), *yes),
        Command::Replication(command) => replication::run(&load_config(&cli, None)?, command),
        Command::Alerts(command) => alerts::run(&load_config(&cli, None)?, command),
        Command::Webhooks(command) => webhooks::run(&load_config(&cli, None)?, command),
        Command::Rotate(command) => rotate::run(&load_config(&cli, None)?, command),
    }
}

/// Commands answered before [`run`] (they choose their own exit code).
fn unreachable_command() -> anyhow::Result<()> {
    anyhow::bail!("this command is run by main")
}

/// A runtime for the commands that talk to the admin socket.
fn small_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// One line from standard input, without its line ending.
fn read_line() -> anyhow::Result<String> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
