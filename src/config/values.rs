//! The value types of the configuration: each parses and checks one kind of setting (a
//! duration with a unit, a size, an optional URL or path, a secret) so that a bad value is
//! refused where it is read, with the key named. The sections in `mod.rs` and in the
//! subsystems (`alerts::config`) are made of these.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
