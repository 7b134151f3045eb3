//! The log files of a real `blogd serve`: what an access line holds (and never holds), the
//! security log, size rotation with a bounded number of files, and rotation on demand.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_blogd");

struct Running {
    child: Child,
    base: String,
    password: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, logs: &Path, extra: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("BLOGD_TLS_ENABLED", "false")
        .env("BLOGD_LOG_DIR", logs)
        .env("BLOGD_LOG_STDOUT", "false")
        .env("BLOGD_THROTTLE_ALLOW", "127.0.0.0/8")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = String::new();
    let base = loop {
        let line = lines.next().expect("blogd exited").unwrap();
        if let Some(p) = line.trim().strip_prefix("password: ") {
            password = p.to_string();
        }
        if let Some(rest) = line.strip_prefix("blogd listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    Running {
        child,
        base,
        password,
    }
}

fn stop(mut running: Running) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(running.child.id().to_string())
        .status();
    let _ = running.child.wait();
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
    let server = start(&dir.path().join("data"), &logs, &[]);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": "admin", "password": server.password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let admin_password = server.password.clone();
    stop(server);

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

#[tokio::test]
async fn size_rotation_keeps_the_configured_number_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let server = start(
        &dir.path().join("data"),
        &logs,
        &[("BLOGD_LOG_MAX_SIZE", "2KB"), ("BLOGD_LOG_KEEP", "3")],
    );
    let client = reqwest::Client::new();
    for i in 0..120 {
        client
            .get(format!("{}/api/v1/tags?page={i}", server.base))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    let out = Command::new(BIN)
        .args(["rotate", "logs", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rotated = false;
    for _ in 0..50 {
        if std::fs::read_to_string(logs.join("access.log.1")).unwrap_or_default() != newest_before {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the files moved on at once");
    stop(server);
}

#[tokio::test]
async fn a_firing_alert_reaches_app_log_and_the_health_check_of_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // A realistic cause that needs no waiting: the server's memory is above a 1 MB ceiling.
    let server = start(
        &dir.path().join("data"),
        &logs,
        &[
            ("BLOGD_ALERTS_INTERVAL", "1s"),
            ("BLOGD_ALERTS_RULES_MEMORY_HIGH_THRESHOLD", "1MB"),
        ],
    );
    let client = reqwest::Client::new();
    let mut alert_lines = Vec::new();
    for _ in 0..100 {
        alert_lines = lines(&logs.join("app.log"))
            .into_iter()
            .filter(|l| l["target"] == "alerts" && l["fields"]["rule"] == "memory_high")
            .collect();
        if !alert_lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    stop(server);
}
