//! The `[alerts]` configuration: evaluation cadence, channels and one section per rule.

use serde::Deserialize;

use crate::config::values::{ByteSize, HumanDuration, OptionalPath, OptionalUrl, Redacted};

use super::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub interval: HumanDuration,
    pub repeat: HumanDuration,
    pub webhook: WebhookChannel,
    pub pagerduty: PagerDutyChannel,
    pub email: EmailChannel,
    pub rules: RulesConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub url: OptionalUrl,
    pub min_severity: Severity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyChannel {
    /// The integration's routing key (PagerDuty's to judge; redacted, never logged).
    pub routing_key: Redacted,
    pub url: OptionalUrl,
    pub min_severity: Severity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    pub server: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    /// The relay's password, whatever its length (redacted, never logged).
    pub password: Redacted,
    pub from: String,
    pub to: Vec<String>,
    pub ca_file: OptionalPath,
    pub min_severity: Severity,
}

/// A rule that is either on or off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub enabled: bool,
    pub severity: Severity,
}

/// A rule with a threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level<T> {
    pub enabled: bool,
    pub severity: Severity,
    pub threshold: T,
}

/// A rule with a threshold over a time window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windowed<T> {
    pub enabled: bool,
    pub severity: Severity,
    pub threshold: T,
    pub window: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretAge {
    pub enabled: bool,
    pub severity: Severity,
    pub jwt_max_age: HumanDuration,
    pub hmac_max_age: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailySummary {
    pub enabled: bool,
    pub severity: Severity,
    pub hour: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    pub database_down: Switch,
    pub disk_critical: Level<f64>,
    pub error_rate: Windowed<f64>,
    pub latency_p95: Windowed<HumanDuration>,
    pub backup_failing: Switch,
    pub disk_low: Level<f64>,
    pub memory_high: Level<ByteSize>,
    pub webhooks_dead: Switch,
    pub throttling_sustained: Level<HumanDuration>,
    pub invalid_signatures: Windowed<u32>,
    pub failed_logins: Windowed<u32>,
    pub certificate_expiring: Level<u32>,
    pub secret_age: SecretAge,
    pub replication_lag: Level<HumanDuration>,
    pub daily_summary: DailySummary,
    pub backup_completed: Switch,
    pub key_rotated: Switch,
}
