//! The rules: what each one looks at in a [`Sample`] and when it holds. Pure functions of the
//! sample and the configuration, so every rule is testable from a realistic cause without a
//! server or a clock.

use serde::Serialize;

use super::Severity;
use super::config::RulesConfig;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    DatabaseDown,
    DiskCritical,
    ErrorRate,
    LatencyP95,
    BackupFailing,
    DiskLow,
    MemoryHigh,
    WebhooksDead,
    ThrottlingSustained,
    InvalidSignatures,
    FailedLogins,
    CertificateExpiring,
    SecretAge,
    ReplicationLag,
    DailySummary,
    BackupCompleted,
    KeyRotated,
}

impl Rule {
    /// The rules that are conditions (fire, repeat, resolve); the others are notices.
    pub const CONDITIONS: [Rule; 14] = [
        Rule::DatabaseDown,
        Rule::DiskCritical,
        Rule::ErrorRate,
        Rule::LatencyP95,
        Rule::BackupFailing,
        Rule::DiskLow,
        Rule::MemoryHigh,
        Rule::WebhooksDead,
        Rule::ThrottlingSustained,
        Rule::InvalidSignatures,
        Rule::FailedLogins,
        Rule::CertificateExpiring,
        Rule::SecretAge,
        Rule::ReplicationLag,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::DatabaseDown => "database_down",
            Rule::DiskCritical => "disk_critical",
            Rule::ErrorRate => "error_rate",
            Rule::LatencyP95 => "latency_p95",
            Rule::BackupFailing => "backup_failing",
            Rule::DiskLow => "disk_low",
            Rule::MemoryHigh => "memory_high",
            Rule::WebhooksDead => "webhooks_dead",
            Rule::ThrottlingSustained => "throttling_sustained",
            Rule::InvalidSignatures => "invalid_signatures",
            Rule::FailedLogins => "failed_logins",
            Rule::CertificateExpiring => "certificate_expiring",
            Rule::SecretAge => "secret_age",
            Rule::ReplicationLag => "replication_lag",
            Rule::DailySummary => "daily_summary",
            Rule::BackupCompleted => "backup_completed",
            Rule::KeyRotated => "key_rotated",
        }
    }

    /// Whether the rule is on, and its severity.
    pub fn setting(self, c: &RulesConfig) -> (bool, Severity) {
        match self {
            Rule::DatabaseDown => (c.database_down.enabled, c.database_down.severity),
            Rule::DiskCritical => (c.disk_critical.enabled, c.disk_critical.severity),
            Rule::ErrorRate => (c.error_rate.enabled, c.error_rate.severity),
            Rule::LatencyP95 => (c.latency_p95.enabled, c.latency_p95.severity),
            Rule::BackupFailing => (c.backup_failing.enabled, c.backup_failing.severity),
            Rule::DiskLow => (c.disk_low.enabled, c.disk_low.severity),
            Rule::MemoryHigh => (c.memory_high.enabled, c.memory_high.severity),
            Rule::WebhooksDead => (c.webhooks_dead.enabled, c.webhooks_dead.severity),
            Rule::ThrottlingSustained => (
                c.throttling_sustained.enabled,
                c.throttling_sustained.severity,
            ),
            Rule::InvalidSignatures => {
                (c.invalid_signatures.enabled, c.invalid_signatures.severity)
            }
            Rule::FailedLogins => (c.failed_logins.enabled, c.failed_logins.severity),
            Rule::CertificateExpiring => (
                c.certificate_expiring.enabled,
                c.certificate_expiring.severity,
            ),
            Rule::SecretAge => (c.secret_age.enabled, c.secret_age.severity),
            Rule::ReplicationLag => (c.replication_lag.enabled, c.replication_lag.severity),
            Rule::DailySummary => (c.daily_summary.enabled, c.daily_summary.severity),
            Rule::BackupCompleted => (c.backup_completed.enabled, c.backup_completed.severity),
            Rule::KeyRotated => (c.key_rotated.enabled, c.key_rotated.severity),
        }
    }
}

/// Fewer requests than this in the window say nothing about an error rate or a p95.
pub const MIN_REQUESTS: u64 = 20;

/// What the server measured at one evaluation. `None`: not measured (not applicable, or the
/// measurement itself failed), which never fires a rule other than `database_down`.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub database_ok: bool,
    /// The fuller of the data and log file systems, percent free.
    pub disk_free_percent: Option<f64>,
    /// Requests and 5xx answers over the error-rate window.
    pub error_window: (u64, u64),
    /// Requests and p95 (ms) over the latency window.
    pub latency_window: (u64, f64),
    /// Why the backups are failing, if they are.
    pub backup_problem: Option<String>,
    pub rss_bytes: Option<u64>,
    /// Deliveries given up on (revalidation and alert channels).
    pub dead_deliveries: i64,
    /// The client refused for the longest unbroken run, and its length in seconds.
    pub longest_throttled: Option<(String, i64)>,
    /// Events in their rules' windows.
    pub invalid_signatures: u32,
    pub failed_logins: u32,
    pub certificate_days_left: Option<i64>,
    /// Age in seconds of the JWT signing key (None when it comes from the configuration).
    pub jwt_key_age: Option<i64>,
    /// Age in seconds of each shared HMAC secret, by name.
    pub hmac_ages: Vec<(&'static str, i64)>,
    /// Seconds behind the primary (a replica), or of WAL Litestream has not picked up (a
    /// primary); `None` without replication or before the first measurement.
    pub replication_lag: Option<f64>,
}

/// The summary of a rule's condition when it holds.
pub fn check(rule: Rule, s: &Sample, c: &RulesConfig) -> Option<String> {
    match rule {
        Rule::DatabaseDown => (!s.database_ok).then(|| "the database is not answering".into()),
        Rule::DiskCritical => disk(s, c.disk_critical.threshold),
        Rule::DiskLow => disk(s, c.disk_low.threshold),
        Rule::ErrorRate => {
            let (requests, errors) = s.error_window;
            let percent = 100.0 * errors as f64 / requests.max(1) as f64;
            (requests >= MIN_REQUESTS && percent > c.error_rate.threshold).then(|| {
                format!(
                    "{percent:.1}% of answers were server errors over {} ({errors} of {requests})",
                    human(c.error_rate.window.as_secs())
                )
            })
        }
        Rule::LatencyP95 => {
            let (requests, p95_ms) = s.latency_window;
            let limit_ms = c.latency_p95.threshold.0.as_secs_f64() * 1000.0;
            (requests >= MIN_REQUESTS && p95_ms > limit_ms).then(|| {
                format!(
                    "p95 latency {p95_ms:.0} ms over {} (limit {limit_ms:.0} ms)",
                    human(c.latency_p95.window.as_secs())
                )
            })
        }
        Rule::BackupFailing => s.backup_problem.clone(),
        Rule::MemoryHigh => s
            .rss_bytes
            .filter(|rss| *rss > c.memory_high.threshold.0)
            .map(|rss| {
                format!(
                    "resident memory {} MB (limit {} MB)",
                    rss / (1024 * 1024),
                    c.memory_high.threshold.0 / (1024 * 1024)
                )
            }),
        Rule::WebhooksDead => (s.dead_deliveries > 0).then(|| {
            format!(
                "{} deliveries were given up on (`blogd webhooks list --status dead`)",
                s.dead_deliveries
            )
        }),
        Rule::ThrottlingSustained => s
            .longest_throttled
            .as_ref()
            .filter(|(_, secs)| *secs >= c.throttling_sustained.threshold.as_secs())
            .map(|(key, secs)| format!("{key} has been throttled for {}", human(*secs))),
        Rule::InvalidSignatures => {
            (s.invalid_signatures > c.invalid_signatures.threshold).then(|| {
                format!(
                    "{} requests with an invalid signature in {}",
                    s.invalid_signatures,
                    human(c.invalid_signatures.window.as_secs())
                )
            })
        }
        Rule::FailedLogins => (s.failed_logins > c.failed_logins.threshold).then(|| {
            format!(
                "{} failed sign-ins in {}",
                s.failed_logins,
                human(c.failed_logins.window.as_secs())
            )
        }),
        Rule::ReplicationLag => s
            .replication_lag
            .filter(|lag| *lag > c.replication_lag.threshold.0.as_secs_f64())
            .map(|lag| {
                format!(
                    "replication is {lag:.0} s behind (limit {} s)",
                    c.replication_lag.threshold.as_secs()
                )
            }),
        Rule::CertificateExpiring => s
            .certificate_days_left
            .filter(|days| *days < i64::from(c.certificate_expiring.threshold))
            .map(|days| format!("the TLS certificate expires in {days} days")),
        Rule::SecretAge => {
            let mut old = Vec::new();
            if let Some(age) = s.jwt_key_age
                && age > c.secret_age.jwt_max_age.as_secs()
            {
                old.push(format!("the JWT signing key ({} old)", human(age)));
            }
            for (name, age) in &s.hmac_ages {
                if *age > c.secret_age.hmac_max_age.as_secs() {
                    old.push(format!("the {name} secret ({} old)", human(*age)));
                }
            }
            (!old.is_empty()).then(|| format!("time to rotate {}", old.join(" and ")))
        }
        Rule::DailySummary | Rule::BackupCompleted | Rule::KeyRotated => None,
    }
}

fn disk(s: &Sample, threshold: f64) -> Option<String> {
    s.disk_free_percent
        .filter(|free| *free < threshold)
        .map(|free| format!("{free:.1}% disk space free (below {threshold}%)"))
}

fn human(secs: i64) -> String {
    crate::clock::human_duration(secs.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RulesConfig {
        crate::config::Config::defaults().alerts.rules
    }

    fn healthy() -> Sample {
        Sample {
            database_ok: true,
            disk_free_percent: Some(60.0),
            error_window: (3000, 2),
            latency_window: (3000, 12.0),
            rss_bytes: Some(40 << 20),
            certificate_days_left: Some(80),
            jwt_key_age: Some(86_400),
            hmac_ages: vec![("analytics", 86_400), ("revalidate", 86_400)],
            replication_lag: Some(3.0),
            ..Sample::default()
        }
    }

    fn holding(s: &Sample) -> Vec<Rule> {
        Rule::CONDITIONS
            .into_iter()
            .filter(|r| check(*r, s, &rules()).is_some())
            .collect()
    }

    #[test]
    fn a_healthy_server_fires_nothing() {
        assert_eq!(holding(&healthy()), []);
    }

    #[test]
    fn each_rule_fires_from_its_cause() {
        let day = 86_400;
        let causes: Vec<(Rule, Sample)> = vec![
            (
                Rule::DatabaseDown,
                Sample {
                    database_ok: false,
                    ..healthy()
                },
            ),
            (
                Rule::ErrorRate,
                Sample {
                    error_window: (1000, 80),
                    ..healthy()
                },
            ),
            (
                Rule::LatencyP95,
                Sample {
                    latency_window: (500, 2097.0),
                    ..healthy()
                },
            ),
            (
                Rule::BackupFailing,
                Sample {
                    backup_problem: Some("the last backup failed: disk full".into()),
                    ..healthy()
                },
            ),
            (
                Rule::MemoryHigh,
                Sample {
                    rss_bytes: Some(700 << 20),
                    ..healthy()
                },
            ),
            (
                Rule::WebhooksDead,
                Sample {
                    dead_deliveries: 2,
                    ..healthy()
                },
            ),
            (
                Rule::ThrottlingSustained,
                Sample {
                    longest_throttled: Some(("ip:203.0.113.9".into(), 11 * 60)),
                    ..healthy()
                },
            ),
            (
                Rule::InvalidSignatures,
                Sample {
                    invalid_signatures: 11,
                    ..healthy()
                },
            ),
            (
                Rule::FailedLogins,
                Sample {
                    failed_logins: 31,
                    ..healthy()
                },
            ),
            (
                Rule::CertificateExpiring,
                Sample {
                    certificate_days_left: Some(13),
                    ..healthy()
                },
            ),
            (
                Rule::SecretAge,
                Sample {
                    jwt_key_age: Some(366 * day),
                    ..healthy()
                },
            ),
            (
                Rule::SecretAge,
                Sample {
                    hmac_ages: vec![("analytics", 91 * day)],
                    ..healthy()
                },
            ),
            (
                Rule::ReplicationLag,
                Sample {
                    replication_lag: Some(95.0),
                    ..healthy()
                },
            ),
        ];
        for (rule, sample) in causes {
            assert_eq!(holding(&sample), [rule], "{rule:?}");
        }
    }

    #[test]
    fn disk_thresholds_nest() {
        let low = Sample {
            disk_free_percent: Some(12.0),
            ..healthy()
        };
        assert_eq!(holding(&low), [Rule::DiskLow]);
        let critical = Sample {
            disk_free_percent: Some(3.0),
            ..healthy()
        };
        assert_eq!(holding(&critical), [Rule::DiskCritical, Rule::DiskLow]);
        let summary = check(Rule::DiskCritical, &critical, &rules()).unwrap();
        assert_eq!(summary, "3.0% disk space free (below 5%)");
    }

    #[test]
    fn thresholds_are_exclusive_and_quiet_traffic_says_nothing() {
        let at_limit = Sample {
            failed_logins: 30,
            invalid_signatures: 10,
            ..healthy()
        };
        assert_eq!(holding(&at_limit), []);
        // Two 5xx out of five requests is not a 40% error rate worth waking anyone.
        let quiet = Sample {
            error_window: (5, 2),
            latency_window: (5, 5000.0),
            ..healthy()
        };
        assert_eq!(holding(&quiet), []);
        let short_throttle = Sample {
            longest_throttled: Some(("ip:x".into(), 9 * 60)),
            ..healthy()
        };
        assert_eq!(holding(&short_throttle), []);
    }

    #[test]
    fn unmeasured_values_never_fire() {
        let unknown = Sample {
            database_ok: true,
            ..Sample::default()
        };
        assert_eq!(holding(&unknown), []);
    }
}
