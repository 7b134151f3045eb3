//! `blogd audit`: the deployment self-check (the seeds' `check --deploy`, `security_audit`
//! and `security-checks.sh`), on the files and configuration, and with `--url` on the live
//! server. Prints a checklist; any failure makes the exit status non-zero.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::config::Config;
use crate::db::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Worth a look, not a failure.
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub verdict: Verdict,
    pub what: String,
}

struct Checklist(Vec<Finding>);

impl Checklist {
    fn add(&mut self, verdict: Verdict, what: impl Into<String>) {
        self.0.push(Finding {
            verdict,
            what: what.into(),
        });
    }

    fn check(&mut self, ok: bool, pass: impl Into<String>, fail: impl Into<String>) {
        if ok {
            self.add(Verdict::Pass, pass)
        } else {
            self.add(Verdict::Fail, fail)
        }
    }
}

/// The file-and-configuration checks.
pub fn run(config: &Config, now: i64) -> Vec<Finding> {
    let mut list = Checklist(Vec::new());

    // TLS.
    if !config.tls.enabled {
        list.add(
            Verdict::Warn,
            "TLS is off: make sure a TLS-terminating proxy is in front (server.trusted_proxies)",
        );
    } else {
        let cert = match (
            config.tls.cert.as_path(),
            config.tls.acme.domains.is_empty(),
        ) {
            (Some(cert), _) => Some(cert.to_path_buf()),
            (None, false) => Some(
                crate::http::tls::acme::cert_paths(&crate::http::tls::acme::dir(
                    &config.storage.data_dir,
                ))
                .0,
            ),
            (None, true) => Some(config.storage.data_dir.join("tls/leaf.pem")),
        };
        let expiry = cert.and_then(|p| std::fs::read(p).ok()).and_then(|pem| {
            use rustls::pki_types::pem::PemObject;
            let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).ok()?;
            crate::http::tls::not_after(&der).ok()
        });
        match expiry {
            Some(t) => {
                let days = (t - now) / 86_400;
                list.check(
                    days > 14,
                    format!("TLS on; the certificate is valid for {days} more days"),
                    format!("the TLS certificate expires in {days} days"),
                );
            }
            None => list.add(
                Verdict::Warn,
                "TLS on; no certificate yet (made at the first start)",
            ),
        }
    }

    // Secrets.
    let secrets = config.secrets_path();
    match std::fs::metadata(&secrets) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            list.check(
                mode == 0o600,
                "the secrets file is mode 0600",
                format!(
                    "the secrets file is mode {mode:o}: run chmod 600 {}",
                    secrets.display()
                ),
            );
            list.check(
                meta.uid() == me,
                "the secrets file belongs to this user",
                "the secrets file belongs to another user",
            );
        }
        Err(_) => list.add(
            Verdict::Warn,
            "no secrets file yet (made at the first start)",
        ),
    }
    for (key, value) in [
        ("auth.jwt_secret", config.auth.jwt_secret.expose()),
        ("analytics.secret", config.analytics.secret.expose()),
        (
            "webhooks.revalidate_secret",
            config.webhooks.revalidate_secret.expose(),
        ),
    ] {
        if let Some(secret) = value {
            list.check(
                crate::secrets::check_configured(key, secret).is_ok(),
                format!("{key} is strong"),
                format!("{key} is weak"),
            );
        }
    }

    // Files: the database (and its WAL), media, backups, logs and the data directory hold
    // personal data and hashes; nobody but the service (and its group) may read them.
    if !config.storage.data_dir.exists() {
        list.add(Verdict::Warn, "no data directory yet");
    }
    let exposed = crate::ops::files::exposed(&crate::ops::files::private_paths(config));
    if exposed.is_empty() {
        list.add(
            Verdict::Pass,
            "the data directory, database, media, backups and logs are not world-readable",
        );
    }
    for found in exposed {
        list.add(
            Verdict::Fail,
            format!(
                "{} is world-accessible (mode {:o}): run {}",
                found.path.display(),
                found.mode,
                found.remedy()
            ),
        );
    }
    let logs = config.log_dir();
    let probe = logs.join(".audit-write-check");
    let writable = std::fs::create_dir_all(&logs).is_ok()
        && std::fs::write(&probe, b"x").is_ok()
        && std::fs::remove_file(&probe).is_ok();
    list.check(
        writable,
        "the log directory is writable",
        format!("cannot write to the log directory {}", logs.display()),
    );

    // Web settings.
    let insecure: Vec<&str> = config
        .cors
        .allowed_origins
        .iter()
        .map(|o| o.0.as_str())
        .filter(|o| {
            o.starts_with("http://") && !o.contains("localhost") && !o.contains("127.0.0.1")
        })
        .collect();
    list.check(
        insecure.is_empty(),
        "CORS: no wildcard, no plain-http origins",
        format!("CORS allows plain-http origins: {}", insecure.join(", ")),
    );
    if config.auth.open_registration {
        list.add(
            Verdict::Warn,
            "registration is open: anyone can make an account",
        );
    } else {
        list.add(Verdict::Pass, "registration is closed");
    }

    // Accounts, sessions and backups, from the database.
    if config.database_path().exists() {
        match crate::ops::replication::open_db(config, std::time::Duration::ZERO) {
            Ok(db) => database_checks(&db, config, now, &mut list),
            Err(err) => list.add(Verdict::Fail, format!("cannot open the database: {err}")),
        }
    } else {
        list.add(Verdict::Warn, "no database yet (made at the first start)");
    }
    list.0
}

fn database_checks(db: &Db, config: &Config, now: i64, list: &mut Checklist) {
    let Ok(users) = db.read_blocking(crate::db::users::list) else {
        list.add(Verdict::Fail, "cannot read the accounts");
        return;
    };
    let admins: Vec<_> = users
        .iter()
        .filter(|u| u.active && u.role == crate::auth::Role::Admin)
        .collect();
    list.check(
        !admins.is_empty(),
        format!("{} active admin account(s)", admins.len()),
        "no active admin: create one with blogd user create",
    );
    if admins.len() > 3 {
        list.add(
            Verdict::Warn,
            format!("{} admins: fewer is safer", admins.len()),
        );
    }
    let never: Vec<&str> = admins
        .iter()
        .filter(|u| u.last_login_at.is_none())
        .map(|u| u.username.as_str())
        .collect();
    if !never.is_empty() {
        list.add(
            Verdict::Warn,
            format!("admins who never signed in: {}", never.join(", ")),
        );
    }
    let idle: Vec<&str> = admins
        .iter()
        .filter(|u| u.last_login_at.is_some_and(|t| now - t > 90 * 86_400))
        .map(|u| u.username.as_str())
        .collect();
    if idle.is_empty() {
        list.add(Verdict::Pass, "no admin idle for 90 days");
    } else {
        list.add(
            Verdict::Warn,
            format!(
                "admins without a sign-in for 90 days (deactivate?): {}",
                idle.join(", ")
            ),
        );
    }
    let stale: i64 = db
        .read_blocking(|c| crate::db::sessions::unused_since(c, now, now - 30 * 86_400))
        .unwrap_or(0);
    if stale > 0 {
        list.add(
            Verdict::Warn,
            format!("{stale} session(s) unused for 30 days"),
        );
    } else {
        list.add(Verdict::Pass, "no stale sessions");
    }
    let backups = crate::ops::backup::Backups::new(config);
    match (backups.latest(), config.backup.every.0) {
        (Some(latest), Some(every)) => {
            let age = now - latest.created_at;
            list.check(
                age <= 2 * every.as_secs(),
                format!("last backup {} h ago", age / 3600),
                format!(
                    "the last backup is {} h old (schedule: every {} h)",
                    age / 3600,
                    every.as_secs() / 3600
                ),
            );
        }
        (Some(latest), None) => list.add(
            Verdict::Warn,
            format!(
                "backups are not scheduled; the last one is {} h old",
                (now - latest.created_at) / 3600
            ),
        ),
        (None, _) => list.add(Verdict::Fail, "no backup yet: run blogd backup now"),
    }
}

/// The live checks against a running server's URL.
pub async fn live(url: &str, config: &Config) -> Vec<Finding> {
    let mut list = Checklist(Vec::new());
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    if let Ok(root) = std::fs::read(crate::http::tls::local_ca::root_cert_path(
        &config.storage.data_dir.join("tls"),
    )) && let Ok(cert) = reqwest::Certificate::from_pem(&root)
    {
        builder = builder.add_root_certificate(cert);
    }
    let Ok(client) = builder.build() else {
        list.add(Verdict::Fail, "cannot build an HTTP client");
        return list.0;
    };
    let base = url.trim_end_matches('/');
    match client.get(format!("{base}/api/v1/posts")).send().await {
        Ok(r) => {
            let h = r.headers();
            for (name, want) in [
                ("content-security-policy", Some("default-src 'none'")),
                ("x-frame-options", Some("DENY")),
                ("x-content-type-options", Some("nosniff")),
                ("referrer-policy", None),
                ("permissions-policy", None),
            ] {
                let value = h.get(name).and_then(|v| v.to_str().ok());
                let ok = value.is_some_and(|v| want.is_none_or(|w| v.contains(w)));
                list.check(
                    ok,
                    format!("header {name}"),
                    format!("header {name} missing or weak: {value:?}"),
                );
            }
            if base.starts_with("https://") {
                list.check(
                    h.contains_key("strict-transport-security"),
                    "header strict-transport-security",
                    "no HSTS over HTTPS",
                );
            }
            list.check(
                !h.contains_key("server"),
                "no Server banner",
                "a Server header is sent",
            );
            if h.contains_key("ratelimit-limit") {
                list.add(Verdict::Pass, "rate limiting answers (RateLimit-* headers)");
            } else {
                list.add(
                    Verdict::Warn,
                    "no RateLimit-* headers: this address may be in throttle.allow",
                );
            }
        }
        Err(err) => list.add(Verdict::Fail, format!("{base} does not answer: {err}")),
    }
    match client.get(format!("{base}/api/healthcheck")).send().await {
        Ok(r) => {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let status = body["status"].as_str().unwrap_or("unknown").to_string();
            list.check(
                status != "unhealthy" && status != "unknown",
                format!("health: {status}"),
                format!("health: {status}"),
            );
        }
        Err(err) => list.add(Verdict::Fail, format!("no health check: {err}")),
    }
    let docs = client
        .get(format!("{base}/api/docs/"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    list.check(
        docs,
        "the API docs are served",
        "the API docs do not answer",
    );
    list.0
}

/// Prints the checklist; returns whether everything passed (warnings allowed).
pub fn print(findings: &[Finding]) -> bool {
    for f in findings {
        let mark = match f.verdict {
            Verdict::Pass => "✓",
            Verdict::Warn => "!",
            Verdict::Fail => "✗",
        };
        println!("{mark} {}", f.what);
    }
    let failed = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    let warned = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Warn)
        .count();
    println!(
        "\n{} checks: {failed} failed, {warned} to look at",
        findings.len()
    );
    failed == 0
}
