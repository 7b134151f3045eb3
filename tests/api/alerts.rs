//! Alerts: rules firing from real causes on a running server, delivered through the outbox to
//! real receivers (an HTTP receiver that fails then recovers, an SMTP server with STARTTLS),
//! and visible without any channel. The clock is moved instead of waiting; `alerts::tick` is
//! one evaluation, as the server's loop makes every `alerts.interval`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use blogd::alerts::{self, Status};
use blogd::ops::health::FixedDisk;
use serde_json::{Value, json};

use crate::common::{
    Reaped, SpawnedServer, TestServer, blogd_command, eventually, eventually_some, finish, sample,
};

/// The test process holds many servers at once: its memory is not one server's.
const NO_MEMORY_RULE: (&str, &str) = ("BLOGD_ALERTS_RULES_MEMORY_HIGH_ENABLED", "false");

/// Tests that drive the disk rules or start the alert loop (which sets every `alerts_firing`
/// to 0 first) take turns: the gauge is process-wide, shared by all test servers.
static DISK_RULES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An HTTP receiver that answers 503 to its first `fail_first` requests, then 200.
#[derive(Clone, Default)]
struct Receiver {
    failures_left: Arc<AtomicUsize>,
    tries: Arc<AtomicUsize>,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (String, Receiver) {
        let receiver = Receiver {
            failures_left: Arc::new(AtomicUsize::new(fail_first)),
            ..Receiver::default()
        };
        async fn hook(State(r): State<Receiver>, Json(body): Json<Value>) -> StatusCode {
            r.tries.fetch_add(1, Ordering::SeqCst);
            if r.failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            r.got.lock().unwrap().push(body);
            StatusCode::OK
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, receiver)
    }

    fn got(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

async fn health_alerts(server: &TestServer) -> Value {
    server.get("/api/healthcheck", None).await.body["alerts"].clone()
}

#[tokio::test]
async fn a_full_disk_fires_shows_everywhere_without_a_channel_and_resolves() {
    let _turn = DISK_RULES.lock().await;
    let server = TestServer::start_with(&[NO_MEMORY_RULE]).await;
    let state = &server.state;
    alerts::watch::tick(state).await;
    assert_eq!(
        health_alerts(&server).await,
        json!({"critical": 0, "warning": 0, "info": 0})
    );
    // The gauge lives in the process-wide registry every test server shares, and an earlier
    // test may have left it firing: start it from a known value (the disk rules take turns,
    // so nobody else moves it meanwhile), and check what this server's alert changes.
    metrics::gauge!("alerts_firing", "rule" => "disk_low", "severity" => "warning").set(0.0);
    let disk_low = [("rule", "disk_low"), ("severity", "warning")];
    let firing = async || sample(&server.text("/metrics").await, "alerts_firing", &disk_low);
    let before = firing().await;
    assert_eq!(before, 0.0);

    // 12 % free: below the warning's 20 %, above the critical 5 %.
    state.set_disk_probe(Arc::new(FixedDisk(0.12)));
    alerts::watch::tick(state).await;
    let health = server.get("/api/healthcheck", None).await;
    assert_eq!(
        health.body["alerts"],
        json!({"critical": 0, "warning": 1, "info": 0})
    );
    assert!(
        !health.body.to_string().contains("disk space free"),
        "the public health check has counts, not details"
    );
    assert_eq!(firing().await - before, 1.0, "the disk_low gauge went up");
    let view = state.alerts.view(&state.config.alerts);
    assert_eq!(view.active.len(), 1);
    assert_eq!(view.active[0].summary, "12.0% disk space free (below 20%)");
    assert!(view.channels.is_empty());

    // Still low an hour later: nothing new (the repeat is 4 h).
    for _ in 0..4 {
        state.clock.advance(900);
        alerts::watch::tick(state).await;
    }
    assert_eq!(state.alerts.view(&state.config.alerts).recent.len(), 1);

    // Space freed: resolved once it has stayed clear for a minute.
    state.set_disk_probe(Arc::new(FixedDisk(0.5)));
    alerts::watch::tick(state).await;
    assert_eq!(
        health_alerts(&server).await["warning"],
        1,
        "not yet: clear for 0 s"
    );
    state.clock.advance(61);
    alerts::watch::tick(state).await;
    assert_eq!(health_alerts(&server).await["warning"], 0);
    assert_eq!(firing().await, before, "and down again");
    let recent = state.alerts.view(&state.config.alerts).recent;
    assert_eq!(recent[0].status, Status::Resolved);
    assert_eq!(recent[0].rule, "disk_low");
}

#[tokio::test]
async fn a_receiver_that_fails_then_recovers_gets_each_alert_once_in_order() {
    let _turn = DISK_RULES.lock().await;
    let (url, receiver) = Receiver::start(2).await;
    let server = TestServer::start_with(&[
        NO_MEMORY_RULE,
        ("BLOGD_ALERTS_WEBHOOK_URL", url.as_str()),
        ("BLOGD_ALERTS_RULES_FAILED_LOGINS_THRESHOLD", "2"),
    ])
    .await;
    let state = &server.state;
    alerts::watch::spawn(state.clone());
    // A realistic cause: a burst of wrong passwords.
    for _ in 0..4 {
        let r = server.login("admin", "not-the-password").await;
        assert_eq!(r.status, 401);
    }
    eventually("the failed-login count to reach the rule", || {
        state
            .alerts
            .events
            .count(alerts::Counted::FailedLogin, state.clock.now(), 60)
            >= 3
    })
    .await;
    alerts::watch::tick(state).await;
    assert_eq!(state.alerts.counts().warning, 1);
    // The minute passes; the sign-ins stop; after a minute clear it resolves.
    state.clock.advance(61);
    alerts::watch::tick(state).await;
    state.clock.advance(61);
    alerts::watch::tick(state).await;
    assert_eq!(state.alerts.counts().warning, 0);

    // The receiver refuses twice; each refusal is retried after the backoff (moved clock).
    eventually("both alerts delivered", || {
        state.clock.advance(130);
        receiver.got().len() >= 2
    })
    .await;
    // Both recorded as delivered: the worker sends only what is pending, so nothing comes
    // again.
    let rows = eventually_some("the deliveries recorded", async || {
        let rows = state
            .db
            .read(|c| blogd::db::outbox::list(c, None, 10))
            .await
            .unwrap();
        (rows.len() == 2 && rows.iter().all(|d| d.status == "delivered")).then_some(rows)
    })
    .await;
    assert!(
        rows.iter().all(|d| d.channel == "alert_webhook"),
        "{rows:?}"
    );
    let got = receiver.got();
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|b| (b["rule"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("failed_logins", "firing"), ("failed_logins", "resolved")],
        "each once, in order"
    );
    assert_eq!(
        receiver.tries.load(Ordering::SeqCst),
        4,
        "2 refused + 2 delivered"
    );
    assert!(
        got[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[WARNING] failed_logins on "),
        "{}",
        got[0]["text"]
    );
    assert_eq!(got[0]["text"], got[0]["content"]);
}

#[tokio::test]
async fn a_client_throttled_for_eleven_minutes_fires_sustained_throttling() {
    let server = TestServer::start_with(&[
        NO_MEMORY_RULE,
        ("BLOGD_THROTTLE_ALLOW", ""),
        ("BLOGD_THROTTLE_ANONYMOUS", "2/hour"),
        ("BLOGD_THROTTLE_BAN_AFTER", "100000"),
    ])
    .await;
    let state = &server.state;
    let mut refused = 0;
    for _ in 0..15 {
        if server.get("/api/v1/posts", None).await.status == 429 {
            refused += 1;
        }
        state.clock.advance(50);
    }
    assert!(refused >= 12, "only {refused} refusals");
    alerts::watch::tick(state).await;
    let view = state.alerts.view(&state.config.alerts);
    assert_eq!(view.active.len(), 1, "{:?}", view.active);
    assert!(
        view.active[0]
            .summary
            .starts_with("ip:127.0.0.1 has been throttled for 1"),
        "{}",
        view.active[0].summary
    );
}

#[tokio::test]
async fn a_channel_down_for_an_hour_neither_blocks_requests_nor_piles_up() {
    let _turn = DISK_RULES.lock().await;
    // A receiver that accepts connections and never answers; it keeps every connection open
    // and counts them, so the test knows when a delivery is hanging.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", hung.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    {
        let accepted = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in hung.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
    }
    let server = TestServer::start_with(&[
        NO_MEMORY_RULE,
        ("BLOGD_ALERTS_WEBHOOK_URL", url.as_str()),
        ("BLOGD_WEBHOOKS_TIMEOUT", "300s"),
    ])
    .await;
    let state = &server.state;
    // An hour in 15-s evaluations; the disk flaps between 12 % and 50 % free every 10 minutes.
    for step in 0..240 {
        let low = (step / 40) % 2 == 0;
        state.set_disk_probe(Arc::new(FixedDisk(if low { 0.12 } else { 0.5 })));
        alerts::watch::tick(state).await;
        state.clock.advance(15);
        if step == 0 {
            // The first alert's delivery is now stuck on the receiver (for 300 s of real time, longer than the test).
            eventually("a delivery hanging on the receiver", || {
                accepted.load(Ordering::SeqCst) >= 1
            })
            .await;
        }
        if step % 20 == 0 {
            // Answered while the delivery hangs. The deadline only keeps a regression from
            // hanging the suite; it is no speed figure (those live in bench/).
            let reply =
                tokio::time::timeout(crate::common::PATIENCE, server.get("/api/v1/posts", None))
                    .await
                    .expect("a request waited for the hung channel");
            assert_eq!(reply.status, 200);
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one delivery at a time per channel: the others wait on disk"
    );
    let rows = state
        .db
        .read(|c| blogd::db::outbox::list(c, None, 1000))
        .await
        .unwrap();
    // Three low episodes and three recoveries: six messages on disk, not one per evaluation,
    // and nothing kept in memory beyond the bounded recent list.
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(state.alerts.view(&state.config.alerts).recent.len(), 6);
    assert_eq!(state.alerts.queued_notices(), 0);
}

#[tokio::test]
async fn an_alert_arrives_by_email_over_starttls() {
    if std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map_or(true, |s| !s.success())
    {
        assert!(
            std::env::var("CI_REQUIRE_SMTP").is_err(),
            "CI_REQUIRE_SMTP is set but Python's aiosmtpd is missing (pip install aiosmtpd)"
        );
        eprintln!("skipped: pip install aiosmtpd to run the SMTP test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let (chain, key) =
        blogd::http::tls::local_ca::leaf(&ca_dir, &[], blogd::clock::Clock::default().now())
            .unwrap();
    let root = blogd::http::tls::local_ca::export_root(&ca_dir).unwrap();
    for (name, text) in [
        ("chain.pem", &chain),
        ("key.pem", &key),
        ("root.pem", &root),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    // The sink binds a port of its choosing and says which.
    let mut sink = Reaped(
        std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/smtp_sink.py"
            ))
            .arg(dir.path().join("chain.pem"))
            .arg(dir.path().join("key.pem"))
            .arg(&inbox)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let port = {
        use std::io::BufRead;
        let stdout = sink.0.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .unwrap();
            line
        });
        let line = tokio::time::timeout(crate::common::PATIENCE, line)
            .await
            .expect("the SMTP sink starts")
            .unwrap();
        line.trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the SMTP sink said {line:?}"))
            .to_string()
    };
    let _turn = DISK_RULES.lock().await;
    let port_text = port;
    let root_path = dir.path().join("root.pem").display().to_string();
    let server = TestServer::start_with(&[
        NO_MEMORY_RULE,
        ("BLOGD_ALERTS_EMAIL_SERVER", "127.0.0.1"),
        ("BLOGD_ALERTS_EMAIL_PORT", port_text.as_str()),
        ("BLOGD_ALERTS_EMAIL_FROM", "blogd <alerts@blog.example>"),
        ("BLOGD_ALERTS_EMAIL_TO", "ops@example.com"),
        ("BLOGD_ALERTS_EMAIL_CA_FILE", root_path.as_str()),
    ])
    .await;
    let state = &server.state;
    state.set_disk_probe(Arc::new(FixedDisk(0.03)));
    alerts::watch::tick(state).await;
    let first = inbox.join("1.eml");
    let second = inbox.join("2.eml");
    eventually("two e-mails (critical and warning)", || second.exists()).await;
    drop(sink);
    let mail = std::fs::read_to_string(&first).unwrap();
    let (head, body) = mail.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} header in\n{head}"))
            .to_string()
    };
    assert_eq!(header("X-Sink-Tls"), "yes", "sent after STARTTLS");
    assert_eq!(header("X-Sink-Rcpt"), "ops@example.com");
    assert!(header("From").contains("alerts@blog.example"));
    assert_eq!(header("To"), "ops@example.com");
    assert!(header("Subject").starts_with("[CRITICAL] disk_critical on "));
    assert!(header("Date").len() > 20);
    assert!(header("Message-ID").contains('@'));
    assert!(header("Content-Type").starts_with("text/plain"));
    assert!(body.contains("3.0% disk space free (below 5%)"), "{body}");
    let other = std::fs::read_to_string(&second).unwrap();
    assert!(other.contains("Subject: [WARNING] disk_low on "));
}

#[tokio::test]
async fn a_scheduled_backup_that_fails_is_critical_and_a_success_is_news() {
    let server = TestServer::start_with(&[NO_MEMORY_RULE, ("BLOGD_BACKUP_EVERY", "1d")]).await;
    let state = &server.state;
    // The schedule makes the first backup at start; its notice comes first.
    eventually("the first-start backup", || {
        state.alerts.queued_notices() == 1
    })
    .await;
    assert!(state.backups.latest().is_some());
    alerts::watch::tick(state).await;
    state.alerts.backup_failed(
        state.clock.now(),
        "cannot write backups: No space left on device",
    );
    alerts::watch::tick(state).await;
    assert_eq!(state.alerts.counts().critical, 1);
    state.alerts.backup_succeeded("blogd-20261123T080000Z.db");
    alerts::watch::tick(state).await;
    state.clock.advance(61);
    alerts::watch::tick(state).await;
    let recent = state.alerts.view(&state.config.alerts).recent;
    let seen: Vec<(&str, Status)> = recent.iter().map(|m| (m.rule.as_str(), m.status)).collect();
    assert_eq!(
        seen,
        [
            ("backup_failing", Status::Resolved),
            ("backup_completed", Status::Notice),
            ("backup_failing", Status::Firing),
            ("backup_completed", Status::Notice),
        ]
    );
}

#[tokio::test]
async fn forged_page_view_signatures_and_old_keys_fire_their_warnings() {
    let _turn = DISK_RULES.lock().await;
    let server = TestServer::start_with(&[NO_MEMORY_RULE]).await;
    let state = &server.state;
    alerts::watch::spawn(state.clone());
    // Eleven page views signed with the wrong key in one minute.
    for _ in 0..11 {
        let reply = server
            .client
            .post(server.url("/api/v1/analytics/pageview"))
            .header("content-type", "application/json")
            .header("x-signature", format!("sha256={}", "0".repeat(64)))
            .body(r#"{"path":"/blog/hello"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 403);
    }
    eventually("the bad signatures to be counted", || {
        state
            .alerts
            .events
            .count(alerts::Counted::InvalidSignature, state.clock.now(), 60)
            >= 11
    })
    .await;
    alerts::watch::tick(state).await;
    let active = state.alerts.view(&state.config.alerts).active;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(
        active[0].summary,
        "11 requests with an invalid signature in 1m 0s"
    );

    // A quarter later, the HMAC secrets are due for rotation (the JWT key is not yet).
    state.clock.advance(91 * 86_400);
    alerts::watch::tick(state).await;
    let active = state.alerts.view(&state.config.alerts).active;
    let secret = active
        .iter()
        .find(|a| a.rule == alerts::Rule::SecretAge)
        .expect("secret_age fires");
    assert!(
        secret.summary.contains("the analytics secret")
            && secret.summary.contains("the revalidate secret")
            && !secret.summary.contains("JWT"),
        "{}",
        secret.summary
    );
}

#[tokio::test]
async fn blogd_alerts_test_sends_to_a_configured_channel_and_refuses_a_missing_one() {
    let (url, receiver) = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // (Off the test's runtime: the receiver answers on it.)
    let run = async |env: Vec<(&'static str, String)>| {
        let mut command = blogd_command(&data);
        command.args(["alerts", "test", "webhook"]).envs(env);
        finish(command, None).await
    };
    let missing = run(vec![]).await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("the webhook channel is not configured"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let sent = run(vec![("BLOGD_ALERTS_WEBHOOK_URL", url)]).await;
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["rule"], "test");
    assert!(
        got[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[INFO] test on ")
    );
}

/// An outside service's password is redacted but not judged: an ordinary 8-character SMTP
/// password starts the server, and neither the logs, nor the terminal, nor an error report
/// ever show it.
#[tokio::test]
async fn a_short_smtp_password_is_accepted_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let password = "hunter22";
    // A port nothing listens on: bound but not listening (so a connection is refused, and no
    // other program can take it meanwhile).
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    let email = [
        ("BLOGD_ALERTS_EMAIL_SERVER", "127.0.0.1"),
        ("BLOGD_ALERTS_EMAIL_PORT", port.as_str()),
        ("BLOGD_ALERTS_EMAIL_SECURITY", "none"),
        ("BLOGD_ALERTS_EMAIL_USERNAME", "ops"),
        ("BLOGD_ALERTS_EMAIL_PASSWORD", password),
        ("BLOGD_ALERTS_EMAIL_FROM", "blogd <alerts@blog.example>"),
        ("BLOGD_ALERTS_EMAIL_TO", "ops@example.com"),
        ("BLOGD_TLS_ENABLED", "false"),
        ("BLOGD_LOG_LEVEL", "debug"),
    ];
    let with_email = |args: &[&str]| {
        let mut command = blogd_command(&data);
        command.args(args).envs(email);
        command
    };
    // (Refusing to start is a panic here, with what it printed.)
    let mut server = SpawnedServer::start(&data, &email, None);

    // The channel fails (nothing listens there); its error names no password either.
    let test = finish(with_email(&["alerts", "test", "email"]), None).await;
    assert!(!test.status.success());
    let check_file = dir.path().join("check.toml");
    std::fs::write(&check_file, "").unwrap();
    let check = finish(
        with_email(&["config", "check", check_file.to_str().unwrap()]),
        None,
    )
    .await;
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    server.stop();
    let (stdout, stderr) = server.output();
    let mut everything = stdout + &stderr;
    everything += &String::from_utf8_lossy(&test.stdout);
    everything += &String::from_utf8_lossy(&test.stderr);
    everything += &String::from_utf8_lossy(&check.stdout);
    let logs = data.join("logs");
    let mut files = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        everything += &std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        files += 1;
    }
    assert!(files >= 1, "the log files were read: {}", logs.display());
    assert!(everything.contains("blogd listening"));
    assert!(
        !everything.contains(password),
        "the password was shown somewhere:\n{everything}"
    );
    drop(closed);
}
