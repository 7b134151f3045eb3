//! One typed configuration, layered: built-in defaults < TOML file < `BLOGD_*` environment <
//! command-line flags.
//!
//! The built-in defaults *are* the commented file `assets/blogd.toml` (what `config
//! print-default` prints), so the documented defaults and the real ones cannot drift apart, and
//! the set of known keys (for "unknown key" errors and for environment names) is read off it.
//! Layers are merged as TOML values first and deserialized into [`Config`] once, so a bad value
//! from any layer fails the same way: one line naming the key and where the value came from.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cidr::Cidr;

/// The commented default configuration, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../assets/blogd.toml");

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
    pub anonymous: crate::throttle::Rate,
    pub authenticated: crate::throttle::Rate,
    pub write: crate::throttle::Rate,
    pub comment: crate::throttle::Rate,
    pub login: crate::throttle::Rate,
    pub register: crate::throttle::Rate,
    pub ban_after: u32,
    pub ban_window: HumanDuration,
    pub ban_for: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    pub allowed_origins: Vec<Origin>,
}

/// An http(s) URL that may be left empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalUrl(pub Option<String>);

impl<'de> Deserialize<'de> for OptionalUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(OptionalUrl(None));
        }
        if crate::validate::is_http_url(text) {
            Ok(OptionalUrl(Some(text.to_string())))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{text}` is not an http:// or https:// URL"
            )))
        }
    }
}

/// A path that may be left empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalPath(pub Option<PathBuf>);

impl OptionalPath {
    pub fn as_path(&self) -> Option<&Path> {
        self.0.as_deref()
    }
}

impl<'de> Deserialize<'de> for OptionalPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(OptionalPath(
            (!text.trim().is_empty()).then(|| PathBuf::from(text.trim())),
        ))
    }
}

/// A socket address that may be left empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

impl<'de> Deserialize<'de> for OptionalAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Ok(OptionalAddr(None));
        }
        text.trim()
            .parse()
            .map(|a| OptionalAddr(Some(a)))
            .map_err(|_| {
                serde::de::Error::custom(format!("`{text}` is not an address like 0.0.0.0:80"))
            })
    }
}

/// A browser origin: `scheme://host[:port]`, nothing else. `*` is refused: credentials must
/// never be shared with every site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim().trim_end_matches('/');
        if text == "*" {
            return Err(serde::de::Error::custom(
                "\"*\" would let every site call the API with the user's credentials; list the origins",
            ));
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '*']) => {
                Ok(Origin(text.to_ascii_lowercase()))
            }
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not an origin like https://www.example.com"
            ))),
        }
    }
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

/// A size with a unit: `"10MB"`, `"512KB"`, `"1GB"` (powers of 1024), or a plain byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim().to_ascii_uppercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("`{text}` is not a size like \"10MB\""))?;
        let factor = match unit.trim() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1024,
            "M" | "MB" | "MIB" => 1024 * 1024,
            "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
            _ => return Err(format!("`{text}` has an unknown unit (use KB, MB or GB)")),
        };
        n.checked_mul(factor)
            .filter(|b| *b > 0)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` must be above zero"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ByteSize::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
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

/// `site.post_path` and the like: an absolute path containing `{slug}` once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(pub String);

impl PathPattern {
    pub fn for_slug(&self, slug: &str) -> String {
        self.0.replace("{slug}", slug)
    }

    /// The slug in a path made by this pattern, if it is one.
    pub fn slug_of<'a>(&self, path: &'a str) -> Option<&'a str> {
        let (prefix, suffix) = self.0.split_once("{slug}")?;
        let slug = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!slug.is_empty() && !slug.contains('/')).then_some(slug)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.starts_with('/') || text.matches("{slug}").count() != 1 {
            return Err(serde::de::Error::custom(format!(
                "`{text}` must start with / and contain {{slug}} once"
            )));
        }
        Ok(PathPattern(text))
    }
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

/// `replication.replica_url`: `s3://BUCKET[/PATH]` or `file:///DIR`, or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaUrl(pub Option<String>);

impl<'de> Deserialize<'de> for ReplicaUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            return Ok(ReplicaUrl(None));
        }
        let ok = match text.split_once("://") {
            Some(("s3", rest)) => {
                let bucket = rest.split('/').next().unwrap_or("");
                !bucket.is_empty() && !rest.contains(['?', '#', ' '])
            }
            Some(("file", rest)) => rest.starts_with('/') && !rest.contains(['?', '#']),
            _ => false,
        };
        if ok {
            Ok(ReplicaUrl(Some(text.to_string())))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{text}` is not s3://BUCKET/PATH or file:///DIR"
            )))
        }
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

/// A duration that may be zero (`"0s"`), in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let zero = text.trim().trim_end_matches(['s', 'm', 'h', 'd']);
        if !zero.is_empty() && zero.bytes().all(|b| b == b'0') {
            return Ok(Seconds(0));
        }
        HumanDuration::parse(&text)
            .map(|d| Seconds(d.0.as_secs()))
            .map_err(serde::de::Error::custom)
    }
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

/// An age X25519 recipient (`age1…`), or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgeRecipient(pub Option<String>);

impl<'de> Deserialize<'de> for AgeRecipient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(AgeRecipient(None));
        }
        text.parse::<age::x25519::Recipient>()
            .map(|_| AgeRecipient(Some(text.to_string())))
            .map_err(|_| {
                serde::de::Error::custom(format!("`{text}` is not an age recipient (age1…)"))
            })
    }
}

/// `backup.every`: a duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule(pub Option<HumanDuration>);

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(Schedule(None));
        }
        HumanDuration::parse(&text)
            .map(|d| Schedule(Some(d)))
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryConfig {
    /// Holds a key: redacted like a secret.
    pub dsn: Dsn,
}

/// A Sentry DSN (may be empty). Not `Secret`: a DSN's key is short and need not be 32 chars.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dsn(pub Option<String>);

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "***" } else { "\"\"" })
    }
}

impl<'de> Deserialize<'de> for Dsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(Dsn(None));
        }
        if !crate::validate::is_http_url(text) || !text.contains('@') {
            return Err(serde::de::Error::custom(
                "not a DSN like https://<key>@sentry.example.com/<project>",
            ));
        }
        Ok(Dsn(Some(text.to_string())))
    }
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

/// A duration written with a unit: `"30s"`, `"15m"`, `"12h"`, `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{text}` needs a unit (s, m, h or d), e.g. \"15m\""))?;
        let (number, unit) = text.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration like \"15m\""))?;
        let secs = match unit {
            "s" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            "d" => n.saturating_mul(86_400),
            _ => {
                return Err(format!(
                    "`{text}` has an unknown unit `{unit}` (use s, m, h or d)"
                ));
            }
        };
        if secs == 0 {
            return Err(format!("`{text}` must be longer than zero"));
        }
        Ok(HumanDuration(Duration::from_secs(secs)))
    }

    pub fn as_secs(self) -> i64 {
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HumanDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A value that must never be printed: `Debug` shows `***`. For credentials of outside
/// services (an SMTP password, a PagerDuty routing key), whose strength is theirs to judge.
/// Empty means "not set".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn expose(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Redacted(String::deserialize(d)?))
    }
}

/// A secret blogd itself signs or authenticates with (the JWT key, the HMAC secrets, the
/// metrics token): redacted like [`Redacted`], and at least 32 characters, because anyone who
/// guesses it can forge what it protects. Empty means "not set" (blogd generates its own).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Redacted);

impl Secret {
    pub fn expose(&self) -> Option<&str> {
        self.0.expose()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.is_empty() && text.chars().count() < 32 {
            return Err(serde::de::Error::custom(
                "must be at least 32 characters (generate one with `openssl rand -hex 32`), or empty to have blogd generate it",
            ));
        }
        Ok(Secret(Redacted(text)))
    }
}

/// A DNS host name (`blog.example.com`), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(pub String);

impl<'de> Deserialize<'de> for Hostname {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?.to_ascii_lowercase();
        let valid = !text.is_empty()
            && text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if valid {
            Ok(Hostname(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{text}` is not a host name"
            )))
        }
    }
}

/// `site.base_url`: empty, or an http(s) URL without a trailing slash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseUrl(pub Option<String>);

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim_end_matches('/');
        if text.is_empty() {
            return Ok(BaseUrl(None));
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => {
                Ok(BaseUrl(Some(text.to_string())))
            }
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not an http:// or https:// URL"
            ))),
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
        let unit = include_str!("../systemd/blogd.service");
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
