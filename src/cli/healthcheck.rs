//! `blogd healthcheck [--url URL]`: is the running server healthy? For Docker's
//! `HEALTHCHECK`, monitors and scripts: one line saying what is wrong, and an exit code.
//!
//! Without `--url` the local server is found from the configuration: its admin socket first
//! (no TLS to get right, and it answers even when the HTTP listener is saturated), else its
//! HTTP(S) listener (trusting the local CA when blogd made the certificate).

use std::process::ExitCode;
use std::time::Duration;

use crate::admin::client::AdminClient;
use crate::admin::views::StatusView;
use crate::config::Config;
use crate::ops::health::{HealthReport, Status};

/// Exit codes: what scripts can tell apart.
pub const HEALTHY: u8 = 0;
pub const DEGRADED: u8 = 1;
pub const UNHEALTHY: u8 = 2;
pub const UNREACHABLE: u8 = 3;

const DEADLINE: Duration = Duration::from_secs(10);

pub fn run(config: &Config, url: Option<&str>, allow_degraded: bool) -> anyhow::Result<ExitCode> {
    let report = super::small_runtime()?.block_on(async {
        match url {
            Some(url) => over_http(config, url).await,
            None => local(config).await,
        }
    });
    let (code, line) = match report {
        Ok(report) => verdict(&report, allow_degraded),
        Err(why) => (UNREACHABLE, format!("unreachable: {why}")),
    };
    println!("{line}");
    Ok(ExitCode::from(code))
}

/// The exit code and the one line for a report.
fn verdict(report: &HealthReport, allow_degraded: bool) -> (u8, String) {
    let failing: Vec<String> = report
        .check_statuses()
        .into_iter()
        .filter(|(_, status)| !matches!(*status, "healthy" | "ok" | "none"))
        .map(|(name, status)| format!("{name} {status}"))
        .collect();
    match report.status {
        Status::Healthy => (HEALTHY, format!("healthy (blogd {})", report.version)),
        Status::Degraded => (
            if allow_degraded { HEALTHY } else { DEGRADED },
            format!("degraded: {}", failing.join(", ")),
        ),
        Status::Unhealthy => (UNHEALTHY, format!("unhealthy: {}", failing.join(", "))),
    }
}

async fn local(config: &Config) -> anyhow::Result<HealthReport> {
    let socket = crate::admin::socket_path(config);
    match AdminClient::new(&socket)
        .get::<StatusView>("/v1/status")
        .await
    {
        Ok(status) => Ok(status.health),
        Err(socket_error) => {
            let listen = config.server.listen;
            let host = match listen.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
                ip if ip.is_unspecified() => "[::1]".to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            let scheme = if config.tls.enabled { "https" } else { "http" };
            let url = format!("{scheme}://{host}:{}", listen.port());
            over_http(config, &url).await.map_err(|e| {
                anyhow::anyhow!("{e}; the admin socket {}: {socket_error}", socket.display())
            })
        }
    }
}

async fn over_http(config: &Config, url: &str) -> anyhow::Result<HealthReport> {
    let mut client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .user_agent(concat!("blogd-healthcheck/", env!("CARGO_PKG_VERSION")));
    // The local CA's root, when blogd made its own certificate (the default).
    let root = config.storage.data_dir.join("tls").join("root.pem");
    if let Ok(pem) = std::fs::read(&root)
        && let Ok(cert) = reqwest::Certificate::from_pem(&pem)
    {
        client = client.add_root_certificate(cert);
    }
    let endpoint = format!("{}/api/healthcheck", url.trim_end_matches('/'));
    let response = client
        .build()?
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no answer from {endpoint}: {}", root_cause(&e)))?;
    // 503 carries the report too (unhealthy).
    response
        .json::<HealthReport>()
        .await
        .map_err(|e| anyhow::anyhow!("{endpoint} did not answer with a health report: {e}"))
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
