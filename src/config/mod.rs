//! One typed configuration, layered: built-in defaults < TOML file < `BLOGD_*` environment <
//! command-line flags.
//!
//! The built-in defaults *are* the commented file `assets/blogd.toml` (what `config
//! print-default` prints), so the documented defaults and the real ones cannot drift apart, and
//! the set of known keys (for "unknown key" errors and for environment names) is read off it.
//! Layers are merged as TOML values first and deserialized into [`Config`] once, so a bad value
//! from any layer fails the same way: one line naming the key and where the value came from.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cidr::Cidr;

pub mod values;
pub use values::{
    AgeRecipient, BaseUrl, ByteSize, Dsn, Hostname, HumanDuration, OptionalAddr, OptionalPath,
    OptionalUrl, Origin, PathPattern, Redacted, ReplicaUrl, Schedule, Seconds, Secret,
};

/// The commented default configuration, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../../assets/blogd.toml");

/// The keys the Debian package sets to its directories, with their values. These are also
/// the directories of `systemd/blogd.service` (State-, Logs- and RuntimeDirectory=blogd).
pub const PACKAGED_VALUES: &[(&str, &str, &str)] = &[
    ("storage", "data_dir", "\"/var/lib/blogd\""),
    ("log", "dir", "\"/var/log/blogd\""),
    ("log", "stdout", "false"),
    ("admin", "socket", "\"/run/blogd/admin.sock\""),
];

/// The default configuration with the package's directories: generated from the embedded
/// default, so the two cannot drift apart.
pub fn packaged_default() -> String {
    let mut section = String::new();
    let mut out = String::with_capacity(DEFAULT_TOML.len() + 200);
    out.push_str(
        "# Installed by the blogd Debian package. Paths follow the systemd unit's directories.\n",
    );
    for line in DEFAULT_TOML.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(['[', ']']).to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        match PACKAGED_VALUES
            .iter()
            .find(|(s, k, _)| *s == section && *k == key && !trimmed.starts_with('#'))
        {
            Some((_, k, v)) => out.push_str(&format!("{k} = {v}")),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Environment variables with the `BLOGD_` prefix that are not configuration keys.
const NON_KEY_ENV: &[&str] = &["BLOGD_CONFIG", "BLOGD_LOG"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub tls: TlsConfig,
    pub throttle: ThrottleConfig,
    pub cors: CorsConfig,
    pub metrics: MetricsConfig,
    pub analytics: AnalyticsConfig,
    pub webhooks: WebhooksConfig,
    pub sentry: SentryConfig,
    pub backup: BackupConfig,
    pub admin: AdminConfig,
    pub privacy: PrivacyConfig,
    pub site: SiteConfig,
    pub alerts: crate::alerts::config::AlertsConfig,
    pub replication: ReplicationConfig,
    pub cache: CacheConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub http_listen: OptionalAddr,
    pub hostnames: Vec<Hostname>,
    pub trusted_proxies: Vec<Cidr>,
    pub max_connections: u32,
    /// Open connections one client address may hold (trusted proxies are exempt).
    pub max_connections_per_ip: u32,
    pub header_timeout: HumanDuration,
    pub request_timeout: HumanDuration,
    pub response_cache: ByteSize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub enabled: bool,
    pub cert: OptionalPath,
    pub key: OptionalPath,
    pub acme: AcmeConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    pub domains: Vec<Hostname>,
    pub email: String,
    pub directory: String,
    pub directory_ca: OptionalPath,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    pub allow: Vec<Cidr>,
    pub anonymous: crate::throttle::rate::Rate,
    pub authenticated: crate::throttle::rate::Rate,
    pub write: crate::throttle::rate::Rate,
    pub comment: crate::throttle::rate::Rate,
    pub login: crate::throttle::rate::Rate,
    pub register: crate::throttle::rate::Rate,
    pub ban_after: u32,
    pub ban_window: HumanDuration,
    pub ban_for: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    pub allowed_origins: Vec<Origin>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub dir: OptionalPath,
    pub level: LogLevel,
    pub stdout: bool,
    pub max_size: ByteSize,
    pub daily: bool,
    pub keep: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub access_ttl: HumanDuration,
    pub refresh_ttl: HumanDuration,
    pub jwt_secret: Secret,
    pub open_registration: bool,
    pub admin_allow: Vec<Cidr>,
    pub require_totp_for: Vec<crate::auth::Role>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub base_url: BaseUrl,
    pub title: String,
    pub post_path: PathPattern,
    pub category_path: PathPattern,
    pub author_path: PathPattern,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    pub comment_email_days: u32,
    pub erase_posts: crate::db::privacy::ErasePosts,
    pub security_events_days: u32,
    pub audit_days: u32,
    pub pageviews_days: u32,
    pub sessions_days: u32,
}

/// `replication.mode`: what this host is in a Litestream topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    /// Alone: no Litestream.
    Off,
    /// The primary, its WAL streamed by Litestream.
    Litestream,
    /// A read-only copy on a follower file.
    Replica,
}

impl ReplicationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationMode::Off => "off",
            ReplicationMode::Litestream => "litestream",
            ReplicationMode::Replica => "replica",
        }
    }
}

/// `[replication]` (see `assets/blogd.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    pub mode: ReplicationMode,
    pub primary_url: OptionalUrl,
    pub replica_url: ReplicaUrl,
    pub endpoint: OptionalUrl,
    pub region: String,
    pub force_path_style: bool,
    pub sync_interval: HumanDuration,
    pub retention: HumanDuration,
    pub snapshot_interval: HumanDuration,
    pub heartbeat: HumanDuration,
    pub max_lag: HumanDuration,
    pub litestream: PathBuf,
}

impl ReplicationConfig {
    /// The keys one mode needs together, checked after every layer is merged.
    fn check(&self, origins: &HashMap<String, String>) -> Result<(), ConfigError> {
        let missing = |key: &str, why: &str| ConfigError::Invalid {
            key: key.into(),
            origin: origins
                .get("replication.mode")
                .cloned()
                .unwrap_or_else(|| "defaults".into()),
            message: why.into(),
        };
        if self.mode != ReplicationMode::Off && self.replica_url.0.is_none() {
            return Err(missing(
                "replication.replica_url",
                "replication.mode needs the replica's location (s3://BUCKET/PATH or file:///DIR)",
            ));
        }
        if self.mode == ReplicationMode::Replica && self.primary_url.0.is_none() {
            return Err(missing(
                "replication.primary_url",
                "a replica names the primary's URL in every refusal: set it (https://...)",
            ));
        }
        Ok(())
    }
}

/// `[cache]`: the `Cache-Control` of anonymous public answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub max_age: Seconds,
    pub s_maxage: Seconds,
    pub stale_while_revalidate: Seconds,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub socket: OptionalPath,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub dir: OptionalPath,
    pub keep: u32,
    pub every: Schedule,
    pub encrypt_to: AgeRecipient,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryConfig {
    /// Holds a key: redacted like a secret.
    pub dsn: Dsn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub allow: Vec<Cidr>,
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    pub secret: Secret,
    pub queue_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    pub revalidate_url: OptionalUrl,
    pub revalidate_secret: Secret,
    pub max_attempts: u32,
    pub timeout: HumanDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

/// Why a configuration was refused. `Display` is the one line the operator sees.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config: {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config: unknown key `{key}` in {origin}")]
    UnknownKey { key: String, origin: String },
    #[error("config: unknown environment variable {name} (no such configuration key)")]
    UnknownEnv { name: String },
    #[error("config: bad value for `{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
}

impl Config {
    /// The built-in defaults alone.
    pub fn defaults() -> Config {
        load(None, std::iter::empty(), &Overrides::default())
            .expect("the embedded default configuration is valid")
    }

    /// Where the SQLite database lives.
    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("blogd.db")
    }

    /// Where generated secrets live.
    pub fn secrets_path(&self) -> PathBuf {
        self.storage.data_dir.join("secrets.toml")
    }

    /// Where the log files live: `log.dir`, else `logs/` in the data directory.
    pub fn log_dir(&self) -> PathBuf {
        self.log
            .dir
            .as_path()
            .map_or_else(|| self.storage.data_dir.join("logs"), |d| d.to_path_buf())
    }
}

/// Loads the configuration from its layers. `env` is the process environment (passed in so
/// tests can give their own).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let defaults: toml::Table = DEFAULT_TOML
        .parse()
        .expect("the embedded default configuration is valid TOML");
    let mut merged = defaults.clone();
    let mut origins: HashMap<String, String> = HashMap::new();

    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: e.message().to_string(),
                })?;
        let origin = path.display().to_string();
        merge_file(&defaults, &mut merged, table, "", &origin, &mut origins)?;
    }

    let keys = leaf_keys(&defaults, "");
    let all_env: Vec<(String, String)> = env.into_iter().collect();
    systemd_defaults(&all_env, &mut merged, &origins);
    let mut env: Vec<(String, String)> = all_env
        .into_iter()
        .filter(|(name, _)| name.starts_with("BLOGD_") && !NON_KEY_ENV.contains(&name.as_str()))
        .collect();
    // By name only, stably: of two values for one name, the later one wins.
    env.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, raw) in env {
        let (key, default) = keys
            .iter()
            .find(|(key, _)| env_name(key) == name)
            .ok_or_else(|| ConfigError::UnknownEnv { name: name.clone() })?;
        let value = value_like(default, &raw);
        set_path(&mut merged, key, value);
        origins.insert(key.clone(), name);
    }

    if let Some(dir) = &overrides.data_dir {
        let value = toml::Value::String(dir.display().to_string());
        set_path(&mut merged, "storage.data_dir", value);
        origins.insert("storage.data_dir".into(), "--data-dir".into());
    }
    if let Some(listen) = &overrides.listen {
        set_path(
            &mut merged,
            "server.listen",
            toml::Value::String(listen.clone()),
        );
        origins.insert("server.listen".into(), "--listen".into());
    }

    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|err| {
            let key = err.path().to_string();
            let origin = origins
                .iter()
                .find(|(k, _)| key == **k || key.starts_with(&format!("{k}[")))
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| "defaults".into());
            ConfigError::Invalid {
                key,
                origin,
                message: err.into_inner().message().to_string(),
            }
        })?;
    config.replication.check(&origins)?;
    Ok(config)
}

/// Under systemd, the directories the unit gives the service become the defaults of the keys
/// nobody set (a config file, environment variable or flag always wins): `$STATE_DIRECTORY`
/// → `storage.data_dir`, `$LOGS_DIRECTORY` → `log.dir`, and with the journal as standard
/// output (`$JOURNAL_STREAM`) `log.stdout` defaults to false, so lines are not logged twice.
/// (`admin.socket` follows `$RUNTIME_DIRECTORY` the same way, in `admin::socket_path`.)
fn systemd_defaults(
    env: &[(String, String)],
    merged: &mut toml::Table,
    origins: &HashMap<String, String>,
) {
    let var = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // systemd passes a colon-separated list when several directories are configured.
    let first = |v: &str| v.split(':').next().unwrap_or(v).to_string();
    if let Some(state) =
        var("STATE_DIRECTORY").filter(|_| !origins.contains_key("storage.data_dir"))
    {
        set_path(
            merged,
            "storage.data_dir",
            toml::Value::String(first(state)),
        );
    }
    if let Some(logs) = var("LOGS_DIRECTORY").filter(|_| !origins.contains_key("log.dir")) {
        set_path(merged, "log.dir", toml::Value::String(first(logs)));
    }
    if var("JOURNAL_STREAM").is_some() && !origins.contains_key("log.stdout") {
        set_path(merged, "log.stdout", toml::Value::Boolean(false));
    }
}

/// The environment variable name of a dotted key: `tls.acme.email` → `BLOGD_TLS_ACME_EMAIL`.
pub fn env_name(key: &str) -> String {
    format!("BLOGD_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Every leaf key of a table, dotted, with its default value.
fn leaf_keys(table: &toml::Table, prefix: &str) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in table {
        let key = join(prefix, k);
        match v {
            toml::Value::Table(t) => out.extend(leaf_keys(t, &key)),
            other => out.push((key, other.clone())),
        }
    }
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Copies a file's values over the defaults, refusing keys the defaults do not have.
fn merge_file(
    defaults: &toml::Table,
    merged: &mut toml::Table,
    file: toml::Table,
    prefix: &str,
    origin: &str,
    origins: &mut HashMap<String, String>,
) -> Result<(), ConfigError> {
    for (k, v) in file {
        let key = join(prefix, &k);
        match (defaults.get(&k), v) {
            (None, _) => {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: origin.to_string(),
                });
            }
            (Some(toml::Value::Table(d)), toml::Value::Table(t)) => {
                let Some(toml::Value::Table(m)) = merged.get_mut(&k) else {
                    unreachable!("merged starts as a copy of the defaults");
                };
                merge_file(d, m, t, &key, origin, origins)?;
            }
            (Some(toml::Value::Table(_)), _) => {
                return Err(ConfigError::Invalid {
                    key,
                    origin: origin.to_string(),
                    message: "expected a [section]".into(),
                });
            }
            (Some(_), value) => {
                merged.insert(k, value);
                origins.insert(key, origin.to_string());
            }
        }
    }
    Ok(())
}

/// Reads an environment string as the same TOML type as the key's default, so that the
/// typed deserialization reports a bad value the same way whichever layer it came from.
fn value_like(default: &toml::Value, raw: &str) -> toml::Value {
    match default {
        toml::Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.to_string()),
        },
        toml::Value::Integer(_) => raw
            .trim()
            .parse()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_string())),
        toml::Value::Float(_) => raw
            .trim()
            .parse()
            .map(toml::Value::Float)
            .unwrap_or_else(|_| toml::Value::String(raw.to_string())),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("a key has at least one part");
    let mut current = table;
    for part in parts {
        current = match current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(t) => t,
            _ => unreachable!("known keys only pass through sections"),
        };
    }
    current.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::defaults();
        assert_eq!(c.server.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(c.storage.data_dir, PathBuf::from("./blogd-data"));
        assert_eq!(c.auth.access_ttl.as_secs(), 15 * 60);
        assert_eq!(c.auth.refresh_ttl.as_secs(), 7 * 86_400);
        assert_eq!(c.auth.jwt_secret.expose(), None);
        assert_eq!(c.log.level, LogLevel::Info);
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:1000\"\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let c = load(
            Some(&file),
            env(&[("BLOGD_SERVER_LISTEN", "127.0.0.1:2000")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.server.listen.port(), 2000, "env beats file");
        assert_eq!(c.log.level, LogLevel::Debug, "file beats defaults");
        let flags = Overrides {
            listen: Some("127.0.0.1:3000".into()),
            data_dir: Some("/x".into()),
        };
        let c = load(
            Some(&file),
            env(&[("BLOGD_SERVER_LISTEN", "127.0.0.1:2000")]),
            &flags,
        )
        .unwrap();
        assert_eq!(c.server.listen.port(), 3000, "flags beat env");
        assert_eq!(c.storage.data_dir, PathBuf::from("/x"));
    }

    #[test]
    fn unknown_keys_and_env_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nlisen = \"x\"\n").unwrap();
        let err = load(Some(&file), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`server.lisen`"), "{err}");
        std::fs::write(&file, "[nosuch]\n").unwrap();
        let err = load(Some(&file), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`nosuch`"), "{err}");
        let err = load(
            None,
            env(&[("BLOGD_SERVER_LISTN", "x")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("BLOGD_SERVER_LISTN"), "{err}");
    }

    #[test]
    fn bad_values_name_key_and_origin() {
        let err = load(
            None,
            env(&[("BLOGD_SERVER_LISTEN", "nope")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`server.listen`") && err.contains("BLOGD_SERVER_LISTEN"),
            "{err}"
        );
        let err = load(
            None,
            env(&[("BLOGD_AUTH_ACCESS_TTL", "15")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`auth.access_ttl`") && err.contains("unit"),
            "{err}"
        );
        let err = load(
            None,
            env(&[("BLOGD_AUTH_JWT_SECRET", "short")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`auth.jwt_secret`") && !err.contains("short"),
            "secret value never echoed: {err}"
        );
        let err = load(
            None,
            env(&[("BLOGD_LOG_LEVEL", "loud")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`log.level`"), "{err}");
        let err = load(
            None,
            env(&[("BLOGD_SERVER_HOSTNAMES", "ok.example, bad host")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("server.hostnames"), "{err}");
    }

    #[test]
    fn every_kind_of_bad_value_names_its_key() {
        let cases = [
            (
                "BLOGD_CORS_ALLOWED_ORIGINS",
                "*",
                "`cors.allowed_origins[0]`",
            ),
            (
                "BLOGD_CORS_ALLOWED_ORIGINS",
                "front.example",
                "`cors.allowed_origins[0]`",
            ),
            (
                "BLOGD_SERVER_TRUSTED_PROXIES",
                "10.0.0.0/99",
                "`server.trusted_proxies[0]`",
            ),
            ("BLOGD_TLS_ENABLED", "maybe", "`tls.enabled`"),
            (
                "BLOGD_SERVER_HTTP_LISTEN",
                "port eighty",
                "`server.http_listen`",
            ),
            (
                "BLOGD_SERVER_MAX_CONNECTIONS",
                "many",
                "`server.max_connections`",
            ),
            (
                "BLOGD_THROTTLE_LOGIN",
                "five per minute",
                "`throttle.login`",
            ),
            ("BLOGD_THROTTLE_BAN_FOR", "forever", "`throttle.ban_for`"),
            (
                "BLOGD_TLS_ACME_DOMAINS",
                "not a host",
                "`tls.acme.domains[0]`",
            ),
        ];
        for (name, value, key) in cases {
            let err = load(None, env(&[(name, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key) && err.contains(name),
                "{name}={value}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
    }

    #[test]
    fn systemd_directories_fill_only_what_nobody_set() {
        let under_systemd = env(&[
            ("STATE_DIRECTORY", "/var/lib/blogd"),
            ("LOGS_DIRECTORY", "/var/log/blogd"),
            ("JOURNAL_STREAM", "8:1234"),
        ]);
        let c = load(None, under_systemd.clone(), &Overrides::default()).unwrap();
        assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/blogd"));
        assert_eq!(c.log.dir.as_path(), Some(Path::new("/var/log/blogd")));
        assert!(!c.log.stdout);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[storage]\ndata_dir = \"/srv/blog\"\n[log]\nstdout = true\n",
        )
        .unwrap();
        let c = load(Some(&file), under_systemd, &Overrides::default()).unwrap();
        assert_eq!(
            c.storage.data_dir,
            PathBuf::from("/srv/blog"),
            "the file wins"
        );
        assert!(c.log.stdout);
    }

    #[test]
    fn the_packaged_default_differs_only_in_its_directories() {
        let packaged = packaged_default();
        let changed: Vec<(&str, &str)> = DEFAULT_TOML
            .lines()
            .zip(packaged.lines().skip(1))
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), PACKAGED_VALUES.len(), "{changed:?}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blogd.toml");
        std::fs::write(&file, &packaged).unwrap();
        let c = load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/blogd"));
        assert_eq!(c.log.dir.as_path(), Some(Path::new("/var/log/blogd")));
        assert_eq!(
            c.admin.socket.as_path(),
            Some(Path::new("/run/blogd/admin.sock"))
        );
        assert!(!c.log.stdout);
        // The unit gives the service exactly these directories.
        let unit = include_str!("../../systemd/blogd.service");
        for line in [
            "StateDirectory=blogd",
            "LogsDirectory=blogd",
            "RuntimeDirectory=blogd",
            "ReadWritePaths=/var/lib/blogd /var/log/blogd /run/blogd",
        ] {
            assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
        }
    }

    #[test]
    fn lists_come_comma_separated_from_env() {
        let c = load(
            None,
            env(&[("BLOGD_SERVER_HOSTNAMES", "a.example,B.example")]),
            &Overrides::default(),
        )
        .unwrap();
        let names: Vec<_> = c.server.hostnames.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(names, ["a.example", "b.example"]);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let secret = "s".repeat(40);
        let c = load(
            None,
            env(&[("BLOGD_AUTH_JWT_SECRET", &secret)]),
            &Overrides::default(),
        )
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains(&secret));
        assert!(printed.contains("***"));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(HumanDuration::parse("30s").unwrap().as_secs(), 30);
        assert_eq!(HumanDuration::parse("12h").unwrap().as_secs(), 43_200);
        assert_eq!(HumanDuration::parse("7d").unwrap().as_secs(), 604_800);
        assert!(HumanDuration::parse("0m").is_err());
        assert!(HumanDuration::parse("5w").is_err());
        assert!(HumanDuration::parse("m").is_err());
    }
}
