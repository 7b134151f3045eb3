//! The command line: every command and flag (clap), and the dispatch to one thin module per
//! command group. A command parses, calls the function that owns the rule, and prints; the
//! rules themselves live in `accounts`, `content` and `ops`.

mod alerts;
mod audit;
mod backup;
mod config;
mod healthcheck;
mod local;
mod replication;
mod rotate;
mod serve;
mod tls;
mod user;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, Overrides};

#[derive(Parser, Debug)]
#[command(name = "blogd", version = crate::VERSION, about = "A self-contained blog API server on SQLite")]
pub struct Cli {
    /// Configuration file (TOML); see `blogd config print-default`.
    #[arg(long, global = true, env = "BLOGD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, secrets); overrides `storage.data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Deployment self-check: TLS, secrets, file modes, accounts, backups (and with --url the
    /// live headers, limits, health and docs). Exits non-zero when a check fails.
    Audit {
        /// A running server's URL to check live, e.g. https://blog.example.com
        #[arg(long)]
        url: Option<String>,
    },
    /// Is the running server healthy? One line, and the exit code: 0 healthy, 1 degraded,
    /// 2 unhealthy, 3 unreachable. Without --url the local server is found from the
    /// configuration (admin socket, else its listener).
    Healthcheck {
        /// A server's base URL, e.g. https://blog.example.com
        #[arg(long)]
        url: Option<String>,
        /// Exit 0 when degraded too (e.g. for Docker, where degraded is still serving).
        #[arg(long)]
        allow_degraded: bool,
    },
    /// The operator console (a terminal UI) of the running server, over its admin socket.
    Console {
        /// Another instance's admin socket.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8443; overrides `server.listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Print (or write) the OpenAPI 3.1 document the server serves at /api/schema.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check or print configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff).
    #[command(hide = true)]
    Man,
    /// Manage accounts from the shell (through the running server when there is one, else
    /// on the files).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Rotate a secret without a restart or signing anybody out.
    #[command(subcommand)]
    Rotate(rotate::RotateCommand),
    /// TLS certificates.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Secrets the front end needs a copy of.
    #[command(subcommand)]
    Secrets(rotate::SecretsCommand),
    /// The delivery outbox (revalidation webhook and alert channels).
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Alert channels.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Backups (through the running server when there is one, else on the files).
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Litestream replication: its configuration, generated from blogd's.
    #[command(subcommand)]
    Replication(replication::ReplicationCommand),
    /// Replace the database with a backup, or with the replica's copy (verified first; the
    /// current data is backed up before it is replaced).
    Restore {
        /// A backup file name (in backup.dir) or path.
        #[arg(
            required_unless_present = "from_replica",
            conflicts_with = "from_replica"
        )]
        file: Option<String>,
        /// Restore the replica's copy instead (replication.replica_url, with `litestream
        /// restore`).
        #[arg(long)]
        from_replica: bool,
        /// With --from-replica: the state at this time (RFC 3339), not the newest.
        #[arg(long, value_name = "TIME", requires = "from_replica")]
        at: Option<String>,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
        /// The age identity of an encrypted backup.
        #[arg(long, value_name = "KEYFILE")]
        identity: Option<PathBuf>,
    },
}

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
