//! Every command and flag, in one place, and what each one runs.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::AppState;
use crate::auth::{Role, password, policy};
use crate::config::{self, Config, ConfigError, Overrides};
use crate::db::{Db, StoreError, sessions, users};
use crate::validate::Validator;

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
    Config(ConfigCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff).
    #[command(hide = true)]
    Man,
    /// Manage accounts from the shell (works whether or not the server runs).
    #[command(subcommand)]
    User(UserCommand),
    /// Rotate a secret without a restart or signing anybody out.
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// TLS certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Secrets the front end needs a copy of.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The delivery outbox (revalidation webhook and alert channels).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Alert channels.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Backups (through the running server when there is one, else on the files).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Replace the database with a backup (verified first; the current data is backed up
    /// before it is replaced).
    Restore {
        /// A backup file name (in backup.dir) or path.
        file: String,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
        /// The age identity of an encrypted backup.
        #[arg(long, value_name = "KEYFILE")]
        identity: Option<PathBuf>,
    },
}

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

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Print a shared secret, to configure the front end with.
    Show {
        #[arg(value_parser = ["analytics", "revalidate"])]
        which: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Send a test alert to one configured channel now and report how it went.
    Test {
        #[arg(value_parser = ["webhook", "pagerduty", "email"])]
        channel: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// The latest deliveries (all, or one status: pending, delivered, dead).
    List {
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        status: Option<String>,
    },
    /// Put a pending or dead delivery back in line now.
    Retry { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum TlsCommand {
    /// Print the local CA's root certificate (PEM), for clients to trust once.
    ExportCa,
}

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

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a random password is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// admin, editor, author or reader.
        #[arg(long, default_value = "author", value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Change an account's role.
    SetRole {
        username: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Set a new password (random and printed, or from standard input); ends every session.
    ResetPassword {
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate an account: it can no longer sign in, and every session ends.
    Deactivate { username: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role (admin, editor, author, reader)"))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(config_error) = err.downcast_ref::<ConfigError>() {
                eprintln!("{config_error}");
                return ExitCode::from(2);
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
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
    config::load(file, std::env::vars(), &overrides)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen } => {
            let config = load_config(&cli, listen.clone())?;
            serve(config)
        }
        Command::Audit { url } => {
            let config = load_config(&cli, None)?;
            let now = crate::clock::Clock::default().now();
            let mut findings = crate::ops::selfcheck::run(&config, now);
            if let Some(url) = url {
                findings
                    .extend(small_runtime()?.block_on(crate::ops::selfcheck::live(url, &config)));
            }
            if crate::ops::selfcheck::print(&findings) {
                Ok(())
            } else {
                std::process::exit(1);
            }
        }
        Command::Console { socket } => {
            let config = load_config(&cli, None)?;
            let path = socket
                .clone()
                .unwrap_or_else(|| crate::admin::socket_path(&config));
            crate::console::run(&path)
        }
        Command::Openapi { output } => {
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
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "blogd", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Config(ConfigCommand::PrintDefault { packaged }) => {
            if *packaged {
                print!("{}", config::packaged_default());
            } else {
                print!("{}", config::DEFAULT_TOML);
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Check { file }) => {
            let overrides = Overrides {
                data_dir: cli.data_dir.clone(),
                listen: None,
            };
            let config = config::load(Some(file), std::env::vars(), &overrides)?;
            crate::alerts::channels::validate(&config.alerts)?;
            println!("{}: ok", file.display());
            Ok(())
        }
        Command::User(command) => {
            let config = load_config(&cli, None)?;
            user_command(&config, command)
        }
        Command::Tls(TlsCommand::ExportCa) => {
            let config = load_config(&cli, None)?;
            crate::app::ensure_data_dir(&config)?;
            print!(
                "{}",
                crate::http::tls::local_ca::export_root(&config.storage.data_dir.join("tls"))?
            );
            Ok(())
        }
        Command::Secrets(SecretsCommand::Show { which }) => {
            let config = load_config(&cli, None)?;
            crate::app::ensure_data_dir(&config)?;
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
        Command::Backup(command) => {
            let config = load_config(&cli, None)?;
            backup_command(&config, command)
        }
        Command::Restore {
            file,
            yes,
            identity,
        } => {
            let config = load_config(&cli, None)?;
            restore_command(&config, file, *yes, identity.as_deref())
        }
        Command::Alerts(AlertsCommand::Test { channel }) => {
            let config = load_config(&cli, None)?;
            crate::alerts::channels::validate(&config.alerts)?;
            crate::alerts::channels::test_command(&config, channel)
        }
        Command::Webhooks(command) => {
            let config = load_config(&cli, None)?;
            let db = Db::open(&config.database_path())?;
            match command {
                WebhooksCommand::List { status } => {
                    let rows =
                        db.read_blocking(|c| crate::db::outbox::list(c, status.as_deref(), 100))?;
                    println!(
                        "{:<6} {:<16} {:<16} {:<10} {:<6} {:<22} SLUG OR RULE / LAST ERROR",
                        "ID", "CHANNEL", "EVENT", "STATUS", "TRIES", "NEXT TRY"
                    );
                    for d in rows {
                        println!(
                            "{:<6} {:<16} {:<16} {:<10} {:<6} {:<22} {}{}",
                            d.id,
                            d.channel,
                            d.event,
                            d.status,
                            d.attempts,
                            if d.status == "pending" {
                                crate::clock::rfc3339(d.next_attempt_at)
                            } else {
                                "-".into()
                            },
                            d.slug,
                            d.last_error.map(|e| format!(" ({e})")).unwrap_or_default()
                        );
                    }
                }
                WebhooksCommand::Retry { id } => {
                    let now = crate::clock::Clock::default().now();
                    db.write_blocking(|tx| crate::db::outbox::retry(tx, *id, now))
                        .map_err(|e| match e {
                            StoreError::NotFound => {
                                anyhow::anyhow!("no pending or dead delivery {id}")
                            }
                            other => anyhow::anyhow!(other),
                        })?;
                    println!("delivery {id} is due now; a running server sends it within seconds");
                }
            }
            Ok(())
        }
        Command::Rotate(which @ (RotateCommand::Analytics | RotateCommand::Revalidate)) => {
            let config = load_config(&cli, None)?;
            crate::app::ensure_data_dir(&config)?;
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
        Command::Rotate(RotateCommand::Logs) => {
            let config = load_config(&cli, None)?;
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
        Command::Rotate(RotateCommand::Jwt) => {
            let config = load_config(&cli, None)?;
            rotate_jwt(&config)
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let logs = std::sync::Arc::new(crate::ops::logs::init(&config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listen = config.server.listen;
        let _sentry = crate::ops::sentry::init(config.sentry.dsn.0.as_deref())?;
        let (state, first_admin) =
            tokio::task::spawn_blocking(move || AppState::build(config)).await??;
        let _ = state.logs.set(logs);
        if let Some(admin) = first_admin {
            // Standard output, not the log: the one-time password must never land in a log file.
            println!(
                "\nCreated the first admin account.\n  username: {}\n  password: {}\n\
                 This password is shown only once: sign in and change it.\n",
                admin.username, admin.password
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let redirect = match state.config.server.http_listen.0 {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (server.http_listen)"))?,
            ),
            None => None,
        };
        let _pid = crate::ops::pidfile::PidFile::write(&state.config.storage.data_dir)?;
        let admin_path = crate::admin::socket_path(&state.config);
        let admin = crate::admin::bind(&admin_path)?;
        {
            let mut stop = stop_rx.clone();
            tokio::spawn(crate::admin::serve(
                state.clone(),
                admin,
                admin_path,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ));
        }
        crate::ops::backup::spawn_schedule(state.clone());
        crate::ops::signals::spawn_reload_on_sighup(state.clone())?;
        crate::ops::maintenance::spawn(state.clone());
        crate::http::tls::spawn_watcher(state.clone());
        crate::http::tls::acme::spawn(state.clone());
        crate::ops::webhooks::spawn(state.clone());
        crate::alerts::spawn(state.clone());

        if let Some(redirect) = redirect {
            let mut stop = stop_rx.clone();
            let addr = redirect.local_addr()?;
            tracing::info!(%addr, "redirecting plain HTTP to HTTPS");
            tokio::spawn(crate::http::server::serve_redirect(
                redirect,
                local.port(),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ));
        }
        crate::ops::systemd::spawn_watchdog();
        let base = crate::http::server::base_url(&state, local);
        tracing::info!(%local, version = crate::VERSION, "blogd listening");
        println!("blogd listening on {base} (API docs: {base}/api/docs/)");
        crate::ops::systemd::notify("READY=1");
        crate::http::server::serve(state.clone(), listener, async move {
            crate::http::server::shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
        crate::ops::systemd::notify("STOPPING=1");
        // Requests are done: store every accepted page view, then leave a tidy database.
        state.analytics.drain().await;
        if let Err(err) = state.db.checkpoint().await {
            tracing::warn!(error = %err, "WAL checkpoint at shutdown failed");
        }
        tracing::info!("stopped");
        drop(stop_rx);
        Ok(())
    })
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

/// A runtime for the commands that talk to the admin socket.
fn small_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
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

fn backup_command(config: &Config, command: &BackupCommand) -> anyhow::Result<()> {
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

fn restore_command(
    config: &Config,
    file: &str,
    yes: bool,
    identity: Option<&std::path::Path>,
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
        if read_password_line()?.trim() != "yes" {
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

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The password for create / reset: from stdin, or generated and printed once.
fn obtain_password(
    from_stdin: bool,
    username: &str,
    email: &str,
) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Password (input is shown; prefer piping it in):");
        }
        let password = read_password_line()?;
        policy::check_password(&password, username, email)
            .map_err(|why| anyhow::anyhow!("password refused: {why}"))?;
        Ok((password, false))
    } else {
        Ok((crate::secrets::random_hex(12), true))
    }
}

/// A store error for a named user, as the shell should read it.
fn not_found(username: &str) -> impl Fn(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound => anyhow::anyhow!("no user named {username}"),
        other => anyhow::anyhow!(other),
    }
}

fn user_command(config: &Config, command: &UserCommand) -> anyhow::Result<()> {
    crate::app::ensure_data_dir(config)?;
    let db = Db::open(&config.database_path())?;
    let now = crate::clock::Clock::default().now();
    match command {
        UserCommand::Create {
            username,
            email,
            role,
            display_name,
            password_stdin,
        } => {
            let mut v = Validator::new();
            v.username("username", username);
            v.email("email", email);
            if let Err(crate::error::ApiError::Validation(details)) = v.finish() {
                let problems: Vec<String> = details
                    .iter()
                    .map(|(k, m)| format!("{k}: {}", m.join("; ")))
                    .collect();
                anyhow::bail!("{}", problems.join(", "));
            }
            let (password, generated) = obtain_password(*password_stdin, username, email)?;
            let hash = password::hash_blocking(&password)?;
            let new = users::NewUser {
                username: username.clone(),
                email: email.clone(),
                display_name: display_name.clone().unwrap_or_else(|| username.clone()),
                password_hash: hash,
                role: *role,
            };
            db.write_blocking(|tx| users::insert(tx, &new, now))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {role} {username}");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let rows = db.read_blocking(users::list)?;
            println!(
                "{:<6} {:<24} {:<32} {:<8} {:<7} LAST LOGIN",
                "ID", "USERNAME", "EMAIL", "ROLE", "ACTIVE"
            );
            for u in rows {
                println!(
                    "{:<6} {:<24} {:<32} {:<8} {:<7} {}",
                    u.id,
                    u.username,
                    u.email,
                    u.role,
                    if u.active { "yes" } else { "no" },
                    u.last_login_at
                        .map(crate::clock::rfc3339)
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        UserCommand::SetRole { username, role } => {
            db.write_blocking(|tx| {
                users::set_role(tx, username, *role, now)?;
                let user = users::by_username(tx, username)?;
                // Tokens carry the role: end sessions so the new role applies at once.
                sessions::revoke_all_for_user(tx, user.id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("{username} is now {role}");
        }
        UserCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let user = db
                .read_blocking(|c| users::by_username(c, username))
                .map_err(not_found(username))?;
            let (password, generated) =
                obtain_password(*password_stdin, &user.username, &user.email)?;
            let hash = password::hash_blocking(&password)?;
            db.write_blocking(|tx| {
                let id = users::set_password(tx, username, &hash, now)?;
                sessions::revoke_all_for_user(tx, id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("password of {username} changed; every session ended");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Deactivate { username } => {
            db.write_blocking(|tx| {
                let id = users::set_active(tx, username, false, now)?;
                sessions::revoke_all_for_user(tx, id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("{username} deactivated; every session ended");
        }
    }
    Ok(())
}
