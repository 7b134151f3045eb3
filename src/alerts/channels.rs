//! Where alerts go: a generic webhook (with a Slack/Discord-compatible `text`), the PagerDuty
//! Events API v2, and e-mail over SMTP. Messages reach here through the outbox (queued with
//! the decision to send them, retried by the same worker and policy as the revalidation
//! webhook); `blogd alerts test` calls [`send`] directly.

use std::time::Duration;

use serde_json::{Value, json};

use super::Severity;
use super::config::{AlertsConfig, EmailChannel, SmtpSecurity};
use super::engine::{Message, Status};

pub const WEBHOOK: &str = "alert_webhook";
pub const PAGERDUTY: &str = "alert_pagerduty";
pub const EMAIL: &str = "alert_email";
pub const ALL: [&str; 3] = [WEBHOOK, PAGERDUTY, EMAIL];

/// The short name an operator types (`blogd alerts test webhook`).
pub fn by_name(name: &str) -> Option<&'static str> {
    match name {
        "webhook" => Some(WEBHOOK),
        "pagerduty" => Some(PAGERDUTY),
        "email" => Some(EMAIL),
        _ => None,
    }
}

fn minimum(c: &AlertsConfig, channel: &str) -> Option<Severity> {
    match channel {
        WEBHOOK => c.webhook.url.0.as_ref().map(|_| c.webhook.min_severity),
        PAGERDUTY => (c.pagerduty.routing_key.expose().is_some() && c.pagerduty.url.0.is_some())
            .then_some(c.pagerduty.min_severity),
        EMAIL => (!c.email.server.trim().is_empty()).then_some(c.email.min_severity),
        _ => None,
    }
}

pub fn any_configured(c: &AlertsConfig) -> bool {
    ALL.iter().any(|ch| minimum(c, ch).is_some())
}

/// The configured channels that take messages of this severity.
pub fn for_severity(c: &AlertsConfig, severity: Severity) -> Vec<&'static str> {
    ALL.into_iter()
        .filter(|ch| minimum(c, ch).is_some_and(|min| severity >= min))
        .collect()
}

/// Whether a channel is configured at all.
pub fn configured(c: &AlertsConfig, channel: &str) -> bool {
    minimum(c, channel).is_some()
}

/// Refuses an e-mail channel that could never send (called at start and by `config check`).
pub fn validate(c: &AlertsConfig) -> anyhow::Result<()> {
    let email = &c.email;
    if email.server.trim().is_empty() {
        return Ok(());
    }
    email
        .from
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| anyhow::anyhow!("config: bad value for `alerts.email.from`: {e}"))?;
    if email.to.is_empty() {
        anyhow::bail!(
            "config: `alerts.email.to` needs at least one address when alerts.email.server is set"
        );
    }
    for to in &email.to {
        to.parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("config: bad value `{to}` in `alerts.email.to`: {e}"))?;
    }
    if let Some(ca) = email.ca_file.as_path() {
        std::fs::read(ca).map_err(|e| {
            anyhow::anyhow!(
                "config: cannot read `alerts.email.ca_file` {}: {e}",
                ca.display()
            )
        })?;
    }
    Ok(())
}

/// This machine's name, for the `source` of an alert.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "blogd".into())
}

/// One line for humans: `[CRITICAL] disk_critical on web1: 3.0% disk space free…`.
pub fn text(m: &Message, host: &str) -> String {
    let tag = match m.status {
        Status::Resolved => "RESOLVED".to_string(),
        _ => m.severity.as_str().to_ascii_uppercase(),
    };
    let again = if m.repeat { " (still firing)" } else { "" };
    format!("[{tag}] {} on {host}{again}: {}", m.rule, m.summary)
}

pub fn webhook_body(m: &Message, host: &str) -> Value {
    let text = text(m, host);
    json!({
        "rule": m.rule,
        "severity": m.severity,
        "status": m.status,
        "summary": m.summary,
        "since": crate::clock::rfc3339(m.since),
        "at": crate::clock::rfc3339(m.at),
        "repeat": m.repeat,
        "host": host,
        // Slack reads `text`, Discord `content`.
        "text": text,
        "content": text,
    })
}

/// A PagerDuty Events API v2 event: firing triggers, resolved resolves, both under one
/// `dedup_key` per host and rule so PagerDuty keeps one incident.
pub fn pagerduty_body(m: &Message, routing_key: &str, host: &str) -> Value {
    let action = match m.status {
        Status::Resolved => "resolve",
        _ => "trigger",
    };
    let dedup = match m.status {
        Status::Notice => format!("blogd/{host}/{}/{}", m.rule, m.at),
        _ => format!("blogd/{host}/{}", m.rule),
    };
    json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup,
        "payload": {
            "summary": text(m, host).chars().take(1024).collect::<String>(),
            "source": host,
            "severity": m.severity.as_str(),
            "component": "blogd",
            "class": m.rule,
            "timestamp": crate::clock::rfc3339(m.at),
            "custom_details": {"since": crate::clock::rfc3339(m.since), "repeat": m.repeat},
        },
    })
}

/// Sends one message (JSON of [`Message`]) to a channel. Errors are short and secret-free
/// (they are stored in the outbox and shown to the operator).
pub async fn send(
    c: &AlertsConfig,
    client: &reqwest::Client,
    channel: &str,
    payload: &str,
) -> Result<(), String> {
    let message: Message =
        serde_json::from_str(payload).map_err(|_| "unreadable alert message".to_string())?;
    let host = host();
    match channel {
        WEBHOOK => {
            let url = c
                .webhook
                .url
                .0
                .as_deref()
                .ok_or("alerts.webhook.url is not set")?;
            let result = client
                .post(url)
                .json(&webhook_body(&message, &host))
                .send()
                .await;
            crate::ops::webhooks::http_outcome(result)
        }
        PAGERDUTY => {
            let url = c
                .pagerduty
                .url
                .0
                .as_deref()
                .ok_or("alerts.pagerduty.url is not set")?;
            let key = c
                .pagerduty
                .routing_key
                .expose()
                .ok_or("alerts.pagerduty.routing_key is not set")?;
            let result = client
                .post(url)
                .json(&pagerduty_body(&message, key, &host))
                .send()
                .await;
            crate::ops::webhooks::http_outcome(result)
        }
        EMAIL => email(&c.email, &message, &host).await,
        other => Err(format!("unknown channel {other}")),
    }
}

/// `blogd alerts test CHANNEL`: sends a test message straight away (not through the outbox,
/// so the operator sees the outcome).
pub fn test_command(config: &crate::config::Config, name: &str) -> anyhow::Result<()> {
    let channel = by_name(name).ok_or_else(|| anyhow::anyhow!("no channel {name}"))?;
    if !configured(&config.alerts, channel) {
        anyhow::bail!(
            "the {name} channel is not configured (see [alerts.{name}] in the configuration)"
        );
    }
    let now = crate::clock::Clock::default().now();
    let message = Message {
        rule: "test".into(),
        severity: Severity::Info,
        status: Status::Notice,
        summary: "a test alert from `blogd alerts test`: this channel works".into(),
        since: now,
        at: now,
        repeat: false,
    };
    let payload = serde_json::to_string(&message)?;
    let client = reqwest::Client::builder()
        .timeout(config.webhooks.timeout.0)
        .user_agent(concat!("blogd/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(send(&config.alerts, &client, channel, &payload))
        .map_err(|e| anyhow::anyhow!("the {name} channel failed: {e}"))?;
    println!("sent a test alert to the {name} channel");
    Ok(())
}

/// The e-mail for a message.
pub fn mail(e: &EmailChannel, m: &Message, host: &str) -> Result<lettre::Message, String> {
    use lettre::message::header::ContentType;
    let from = e
        .from
        .parse()
        .map_err(|_| "bad alerts.email.from".to_string())?;
    // Date and Message-ID: relays and spam filters reject or mark mail without them.
    let mut builder = lettre::Message::builder()
        .date_now()
        .message_id(None)
        .from(from)
        .subject(text(m, host).chars().take(200).collect::<String>())
        .header(ContentType::TEXT_PLAIN);
    for to in &e.to {
        builder = builder.to(to.parse().map_err(|_| format!("bad address {to}"))?);
    }
    let body = format!(
        "{}\n\nRule:     {}\nSeverity: {}\nStatus:   {}\nSince:    {}\nHost:     {host}\n\n\
         The console (`blogd console`) shows active and recent alerts.\n",
        m.summary,
        m.rule,
        m.severity.as_str(),
        m.status.as_str(),
        crate::clock::rfc3339(m.since),
    );
    builder
        .body(body)
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

async fn email(e: &EmailChannel, m: &Message, host: &str) -> Result<(), String> {
    use lettre::AsyncTransport;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let server = e.server.trim();
    let tls = if e.security == SmtpSecurity::None {
        Tls::None
    } else {
        let mut params = TlsParameters::builder(server.to_string());
        if let Some(ca) = e.ca_file.as_path() {
            let pem =
                std::fs::read(ca).map_err(|_| "cannot read alerts.email.ca_file".to_string())?;
            let cert =
                Certificate::from_pem(&pem).map_err(|_| "bad alerts.email.ca_file".to_string())?;
            params = params.add_root_certificate(cert);
        }
        let params = params.build_rustls().map_err(|e| format!("TLS: {e}"))?;
        match e.security {
            SmtpSecurity::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        }
    };
    let mut builder =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(server)
            .port(e.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
    if let Some(password) = e.password.expose() {
        builder = builder.credentials(Credentials::new(e.username.clone(), password.to_string()));
    }
    let transport = builder.build();
    transport
        .send(mail(e, m, host)?)
        .await
        .map(|_| ())
        .map_err(|err| format!("SMTP: {err}").chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firing() -> Message {
        Message {
            rule: "disk_critical".into(),
            severity: Severity::Critical,
            status: Status::Firing,
            summary: "3.0% disk space free (below 5%)".into(),
            since: 1_768_471_200,
            at: 1_768_471_200,
            repeat: false,
        }
    }

    #[test]
    fn webhook_text_works_for_slack_and_discord() {
        let body = webhook_body(&firing(), "web1");
        let line = "[CRITICAL] disk_critical on web1: 3.0% disk space free (below 5%)";
        assert_eq!(body["text"], line);
        assert_eq!(body["content"], line);
        assert_eq!(body["status"], "firing");
        assert_eq!(body["since"], "2026-01-15T10:00:00Z");
        let resolved = Message {
            status: Status::Resolved,
            ..firing()
        };
        assert!(
            webhook_body(&resolved, "web1")["text"]
                .as_str()
                .unwrap()
                .starts_with("[RESOLVED]")
        );
    }

    #[test]
    fn pagerduty_trigger_and_resolve_share_a_dedup_key() {
        let trigger = pagerduty_body(&firing(), "R0UTING", "web1");
        let resolve = pagerduty_body(
            &Message {
                status: Status::Resolved,
                ..firing()
            },
            "R0UTING",
            "web1",
        );
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(resolve["event_action"], "resolve");
        assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);
        assert_eq!(trigger["routing_key"], "R0UTING");
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(trigger["payload"]["source"], "web1");
    }

    #[test]
    fn channels_take_what_their_minimum_allows() {
        let mut c = crate::config::Config::defaults().alerts;
        assert!(!any_configured(&c), "no channel by default (air-gapped)");
        c.webhook.url = crate::config::OptionalUrl(Some("http://127.0.0.1:9/hook".into()));
        c.email.server = "127.0.0.1".into();
        assert_eq!(for_severity(&c, Severity::Info), [EMAIL]);
        assert_eq!(for_severity(&c, Severity::Warning), [WEBHOOK, EMAIL]);
        assert_eq!(for_severity(&c, Severity::Critical), [WEBHOOK, EMAIL]);
    }
}
