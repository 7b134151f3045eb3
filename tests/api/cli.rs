//! The `blogd` binary itself: version, configuration commands, user commands, first start.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_blogd");

fn blogd(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("BLOGD_STORAGE_DATA_DIR", dir)
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_names_the_package_version_and_commit() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("blogd {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[test]
fn the_printed_default_config_passes_its_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let printed = blogd(dir.path(), &["config", "print-default"]);
    assert!(printed.status.success());
    let file = dir.path().join("blogd.toml");
    std::fs::write(&file, &printed.stdout).unwrap();
    assert!(stdout(&printed).contains("# "), "the default is commented");
    let check = blogd(dir.path(), &["config", "check", file.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));

    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap();
    let bad = blogd(dir.path(), &["config", "check", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let message = stderr(&bad);
    assert_eq!(message.lines().count(), 1, "one clear line: {message}");
    assert!(message.contains("`server.lisen`"), "{message}");

    let env = Command::new(BIN)
        .args(["serve"])
        .env("BLOGD_SERVER_LISTN", "x")
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(2));
    assert!(stderr(&env).contains("BLOGD_SERVER_LISTN"));
    let bad_value = Command::new(BIN)
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(bad_value.status.code(), Some(2));
    assert!(
        stderr(&bad_value).contains("`server.listen`") && stderr(&bad_value).contains("--listen")
    );
}

#[test]
fn user_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let mut create = Command::new(BIN)
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-long-enough-secret\n")
        .unwrap();
    assert!(create.wait().unwrap().success());

    let weak = Command::new(BIN)
        .args([
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut weak = weak;
    weak.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let weak = weak.wait_with_output().unwrap();
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("password refused"));

    let generated = blogd(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
        ],
    );
    assert!(generated.status.success());
    assert!(stdout(&generated).contains("password: "));
    let dup = blogd(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "ALICE",
            "--email",
            "x@example.com",
        ],
    );
    assert!(
        !dup.status.success(),
        "usernames are unique regardless of case"
    );

    assert!(
        blogd(dir.path(), &["user", "set-role", "carol", "editor"])
            .status
            .success()
    );
    assert!(
        blogd(dir.path(), &["user", "deactivate", "carol"])
            .status
            .success()
    );
    assert!(
        !blogd(dir.path(), &["user", "deactivate", "nobody"])
            .status
            .success()
    );
    let list = stdout(&blogd(dir.path(), &["user", "list"]));
    let carol = list.lines().find(|l| l.contains("carol")).unwrap();
    assert!(
        carol.contains("editor") && carol.contains(" no "),
        "{carol}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("alice") && l.contains("admin"))
    );
    let reset = blogd(dir.path(), &["user", "reset-password", "alice"]);
    assert!(reset.status.success());
    assert!(stdout(&reset).contains("password: "));
}

#[tokio::test]
async fn openapi_command_prints_the_served_document() {
    let server = TestServer::start().await;
    let served = server.openapi().await;
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, served);
    let file = server.dir.path().join("openapi.json");
    assert!(
        Command::new(BIN)
            .args(["openapi", "--output"])
            .arg(&file)
            .status()
            .unwrap()
            .success()
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, served);
}

/// Starts `blogd serve` and returns the child, its base URL and what it printed before listening.
fn spawn_server(dir: &std::path::Path) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("BLOGD_TLS_ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let base = loop {
        let line = lines
            .next()
            .expect("blogd exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("blogd listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        printed.push(line);
    };
    (child, base, printed)
}

#[tokio::test]
async fn first_start_prints_a_one_time_admin_password_to_stdout_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, printed) = spawn_server(dir.path());
    let password = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("the first start prints the admin password")
        .to_string();
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        !log.contains(&password),
        "the password never reaches the log"
    );

    let (mut again, _, printed) = spawn_server(dir.path());
    assert!(
        !printed.iter().any(|l| l.contains("password")),
        "{printed:?}"
    );
    again.kill().unwrap();
    let _ = again.wait();
}

#[tokio::test]
async fn rotate_jwt_reaches_the_running_server_without_signing_anyone_out() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, printed) = spawn_server(dir.path());
    let password = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let login = || async {
        let reply: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"].as_str().unwrap().to_string()
    };
    let old = login().await;
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();

    let out = blogd(dir.path(), &["rotate", "jwt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("told the running server"),
        "{}",
        stdout(&out)
    );

    let mut new_kid = old_kid.clone();
    for _ in 0..50 {
        new_kid = jsonwebtoken::decode_header(&login().await)
            .unwrap()
            .kid
            .unwrap();
        if new_kid != old_kid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_ne!(
        new_kid, old_kid,
        "the server signs with the new key without a restart"
    );
    let me = client
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(&old)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "tokens signed before the rotation still work"
    );
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn weak_or_exposed_secrets_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let weak = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env(
            "BLOGD_AUTH_JWT_SECRET",
            "change_this_secret_change_this_secret",
        )
        .output()
        .unwrap();
    assert!(!weak.status.success());
    let message = stderr(&weak);
    assert!(
        message.contains("auth.jwt_secret") && message.contains("openssl rand"),
        "{message}"
    );
    assert!(
        !message.contains("change_this_secret_change"),
        "the secret is never echoed"
    );

    // A secrets file others can read is refused.
    assert!(blogd(dir.path(), &["rotate", "jwt"]).status.success());
    let secrets = dir.path().join("secrets.toml");
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let exposed = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!exposed.status.success());
    assert!(
        stderr(&exposed).contains("chmod 600"),
        "{}",
        stderr(&exposed)
    );
}
