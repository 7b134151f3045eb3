//! The command table: every command and flag of `blogd`, as clap reads them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::{alerts, backup, config, replication, rotate, tls, user, webhooks};

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
