//! The log files of a real `blogd serve`: what an access line holds (and never holds), the
//! security log, size rotation with a bounded number of files, and rotation on demand.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{SpawnedServer, blogd_run, eventually, eventually_some, sample};

/// `blogd serve` on `data` with its logs in `logs` (files only).
fn start(data: &Path, logs: &Path, extra: &[(&str, &str)]) -> SpawnedServer {
    let logs = logs.display().to_string();
    let mut env = vec![
        ("BLOGD_LOG_DIR", logs.as_str()),
        ("BLOGD_LOG_STDOUT", "false"),
        ("BLOGD_THROTTLE_ALLOW", "127.0.0.0/8"),
    ];
    env.extend_from_slice(extra);
    SpawnedServer::start(data, &env, None)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn access_lines_have_the_fields_and_never_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut server = start(&dir.path().join("data"), &logs, &[]);
    let client = reqwest::Client::new();
    let admin_password = server.admin_password();
    let login = server.admin_login().await;
    let token = login["access_token"].as_str().unwrap().to_string();
    let refresh = login["refresh_token"].as_str().unwrap().to_string();
    let reply = client
        .get(format!(
            "{}/api/v1/posts?q=hunter2-secret-words&page=1",
            server.base
        ))
        .bearer_auth(&token)
        .header("user-agent", "log-test/1.0")
        .header("x-request-id", "log-line-1")
        .header("cookie", "session=cookie-secret-value")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": "admin", "password": "wrong-password-typed"}))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/.env", server.base))
        .send()
        .await
        .unwrap();
    assert!(server.stop());

    let access = lines(&logs.join("access.log"));
    let line = access
        .iter()
        .find(|l| l["request_id"] == "log-line-1")
        .expect("the request is logged");
    for field in [
        "timestamp",
        "method",
        "route",
        "path",
        "status",
        "duration_ms",
        "bytes",
        "ip",
        "user_id",
        "user_agent",
    ] {
        assert!(
            line.get(field).is_some(),
            "access line lacks {field}: {line}"
        );
    }
    assert_eq!(line["route"], "/api/v1/posts");
    assert_eq!(
        line["path"], "/api/v1/posts?q=&page=",
        "query names, never values"
    );
    assert_eq!(line["status"], 200);
    assert_eq!(line["ip"], "127.0.0.1");
    assert_eq!(line["user_agent"], "log-test/1.0");
    assert!(line["user_id"].is_number());

    let security = lines(&logs.join("security.log"));
    let kinds: Vec<&str> = security.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"login_failed") && kinds.contains(&"suspicious_request"),
        "{kinds:?}"
    );

    let everything: String = ["app.log", "access.log", "security.log"]
        .iter()
        .map(|f| std::fs::read_to_string(logs.join(f)).unwrap_or_default())
        .collect();
    for secret in [
        token.as_str(),
        refresh.as_str(),
        admin_password.as_str(),
        "hunter2-secret-words",
        "wrong-password-typed",
        "cookie-secret-value",
        "Bearer ",
    ] {
        assert!(
            !secret.is_empty() && !everything.contains(secret),
            "{secret:?} reached a log"
        );
    }
    assert!(
        !everything.to_lowercase().contains("authorization"),
        "no Authorization header in any log"
    );
}

/// A request whose client goes away while its handler runs still gets its access line:
/// status 499 and the time it ran (before, the dropped request left no trace at all), and
/// the metrics count it with that status instead of keeping it in flight.
#[tokio::test]
async fn a_request_abandoned_by_its_client_is_logged_as_499() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let mut server = start(&data, &logs, &[]);
    let client = reqwest::Client::new();
    let login = server.admin_login().await;
    let token = login["access_token"].as_str().unwrap();

    // Another process holds the write lock: the write below waits inside its handler.
    let blocker = rusqlite::Connection::open(data.join("blogd.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = r#"{"name":"Left behind"}"#;
    let mut tcp = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /api/v1/categories HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\
         x-request-id: abandoned-1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let metrics = format!("{}/metrics", server.base);
    let scrape = async || client.get(&metrics).send().await.ok()?.text().await.ok();
    eventually_some("the write waiting in its handler", async || {
        let in_flight = sample(&scrape().await?, "http_requests_in_flight", &[]);
        // This metrics request is one of them.
        (in_flight >= 2.0).then_some(())
    })
    .await;
    drop(tcp);

    let line = eventually_some("the abandoned request's access line", async || {
        lines(&logs.join("access.log"))
            .into_iter()
            .find(|l| l["request_id"] == "abandoned-1")
    })
    .await;
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(line["status"], 499, "{line}");
    assert_eq!(line["route"], "/api/v1/categories");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["bytes"], 0);

    // The metrics count it too, and it is no longer in flight: this scrape is the only
    // request being answered (before, each abandoned request stayed in the gauge for good).
    let text = scrape().await.unwrap();
    assert_eq!(sample(&text, "http_requests_in_flight", &[]), 1.0, "{text}");
    let abandoned = [("route", "/api/v1/categories"), ("status", "499")];
    assert_eq!(
        sample(&text, "http_requests_total", &abandoned),
        1.0,
        "{text}"
    );
    assert!(server.stop());
}

#[tokio::test]
async fn size_rotation_keeps_the_configured_number_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let data = dir.path().join("data");
    let mut server = start(
        &data,
        &logs,
        &[("BLOGD_LOG_MAX_SIZE", "2KB"), ("BLOGD_LOG_KEEP", "3")],
    );
    let client = reqwest::Client::new();
    for i in 0..120 {
        client
            .get(format!("{}/api/v1/tags?page={i}", server.base))
            .header("x-request-id", format!("rotation-{i}"))
            .send()
            .await
            .unwrap();
    }
    // The access log is written in batches: wait for the last request's line.
    let access_text = || {
        std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("access.log")
            })
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<String>()
    };
    eventually("the last request in the access log", || {
        access_text().contains("\"rotation-119\"")
    })
    .await;
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("access.log"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["access.log", "access.log.1", "access.log.2", "access.log.3"]
    );
    for name in &names {
        assert!(
            std::fs::metadata(logs.join(name)).unwrap().len() <= 2048,
            "{name} over the size"
        );
    }

    // `blogd rotate logs` reaches the running server.
    let newest_before = std::fs::read_to_string(logs.join("access.log.1")).unwrap();
    let out = blogd_run(&data, &["rotate", "logs"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the files to move on", || {
        std::fs::read_to_string(logs.join("access.log.1")).unwrap_or_default() != newest_before
    })
    .await;
    assert!(server.stop());
}

#[tokio::test]
async fn a_firing_alert_reaches_app_log_and_the_health_check_of_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // A realistic cause that needs no waiting: the server's memory is above a 1 MB ceiling.
    let mut server = start(
        &dir.path().join("data"),
        &logs,
        &[
            ("BLOGD_ALERTS_INTERVAL", "1s"),
            ("BLOGD_ALERTS_RULES_MEMORY_HIGH_THRESHOLD", "1MB"),
        ],
    );
    let client = reqwest::Client::new();
    let alert_lines = eventually_some("the alert in app.log", async || {
        let app = std::fs::read_to_string(logs.join("app.log")).unwrap_or_default();
        // (Only whole lines: the file may be being written.)
        let found: Vec<Value> = app
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["target"] == "alerts" && l["fields"]["rule"] == "memory_high")
            .collect();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(
        alert_lines.len(),
        1,
        "one line for one alert: {alert_lines:?}"
    );
    let line = &alert_lines[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["rule"], "memory_high");
    assert_eq!(line["fields"]["status"], "firing");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("resident memory "),
        "{line}"
    );
    let health: Value = client
        .get(format!("{}/api/healthcheck", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // (This machine's own disk may add a disk_low warning of its own.)
    assert!(
        health["alerts"]["warning"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert!(server.stop());
}
