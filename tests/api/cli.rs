//! The `blogd` binary itself: version, configuration commands, user commands, first start.
//! Every run has a clean environment, an explicit configuration file and a deadline
//! (`crate::spawn`).

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    SpawnedServer, blogd_command, blogd_run, blogd_run_blocking, eventually_some, run_to_end,
};

fn blogd(dir: &Path, args: &[&str]) -> std::process::Output {
    blogd_run_blocking(dir, args)
}

/// `blogd serve` on `dir` with extra settings, expected to refuse to start (with a deadline:
/// a regression that starts instead fails the test rather than hanging it).
fn serve_refused(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = blogd_command(dir);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied());
    run_to_end(command, None)
}

/// A data directory that does not exist yet, inside a fresh temporary one.
fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_names_the_package_version_and_commit() {
    let (_dir, data) = data_dir();
    let out = blogd(&data, &["--version"]);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("blogd {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[test]
fn the_printed_default_config_passes_its_own_check() {
    let (dir, data) = data_dir();
    let printed = blogd(&data, &["config", "print-default"]);
    assert!(printed.status.success());
    let file = dir.path().join("blogd.toml");
    std::fs::write(&file, &printed.stdout).unwrap();
    assert!(stdout(&printed).contains("# "), "the default is commented");
    let check = blogd(&data, &["config", "check", file.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));

    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap();
    let bad = blogd(&data, &["config", "check", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let message = stderr(&bad);
    assert_eq!(message.lines().count(), 1, "one clear line: {message}");
    assert!(message.contains("`server.lisen`"), "{message}");

    let env = serve_refused(&data, &[("BLOGD_SERVER_LISTN", "x")]);
    assert_eq!(env.status.code(), Some(2));
    assert!(stderr(&env).contains("BLOGD_SERVER_LISTN"));
    let bad_value = blogd(&data, &["serve", "--listen", "not-an-address"]);
    assert_eq!(bad_value.status.code(), Some(2));
    assert!(
        stderr(&bad_value).contains("`server.listen`") && stderr(&bad_value).contains("--listen")
    );
    assert!(!data.exists(), "a refused start leaves nothing behind");
}

#[test]
fn user_commands_manage_accounts() {
    let (_dir, data) = data_dir();
    let dir = data.as_path();
    let create = |args: &[&str], password: &[u8]| {
        let mut command = blogd_command(dir);
        command
            .args(["user", "create", "--password-stdin"])
            .args(args);
        run_to_end(command, Some(password))
    };
    let alice = create(
        &[
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
        ],
        b"a-long-enough-secret\n",
    );
    assert!(alice.status.success(), "{}", stderr(&alice));

    let weak = create(
        &["--username", "bob", "--email", "bob@example.com"],
        b"short\n",
    );
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("password refused"));

    let generated = blogd(
        dir,
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
        dir,
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
        blogd(dir, &["user", "set-role", "carol", "editor"])
            .status
            .success()
    );
    assert!(
        blogd(dir, &["user", "deactivate", "carol"])
            .status
            .success()
    );
    assert!(
        !blogd(dir, &["user", "deactivate", "nobody"])
            .status
            .success()
    );
    let list = stdout(&blogd(dir, &["user", "list"]));
    let carol = list.lines().find(|l| l.contains("carol")).unwrap();
    assert!(
        carol.contains("editor") && carol.contains(" no "),
        "{carol}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("alice") && l.contains("admin"))
    );
    assert!(
        !list.lines().any(|l| l.contains("bob")),
        "a refused password makes no account: {list}"
    );
    let reset = blogd(dir, &["user", "reset-password", "alice"]);
    assert!(reset.status.success());
    assert!(stdout(&reset).contains("password: "));
}

/// (That it prints the document the server serves: `openapi.rs`.)
#[test]
fn openapi_command_writes_what_it_prints() {
    let (dir, data) = data_dir();
    let out = blogd(&data, &["openapi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["openapi"], "3.1.0");
    let file = dir.path().join("openapi.json");
    let written = blogd(&data, &["openapi", "--output", file.to_str().unwrap()]);
    assert!(written.status.success(), "{}", stderr(&written));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, printed);
}

/// Everything under `dir` (the log files), as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.push((path, text));
        }
    }
    found
}

#[tokio::test]
async fn first_start_prints_a_one_time_admin_password_to_stdout_only() {
    let (_dir, data) = data_dir();
    let mut server = SpawnedServer::start(&data, &[], None);
    let password = server.admin_password();
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(server.stop(), "SIGTERM is a clean shutdown");

    // Where the logs really go: standard output (after the announcement) and the files.
    let (stdout, stderr) = server.output();
    let (announcement, after) = stdout
        .split_once("blogd listening on ")
        .expect("it announced its address");
    assert_eq!(
        announcement.matches(&password).count(),
        1,
        "printed once, before the server listens:\n{announcement}"
    );
    assert!(
        after.contains("/api/v1/auth/login"),
        "the log on standard output has the sign-in:\n{after}"
    );
    let logs = files_under(&data.join("logs"));
    let access = logs
        .iter()
        .find(|(p, _)| p.ends_with("access.log"))
        .expect("an access log");
    assert!(access.1.contains("/api/v1/auth/login"), "{}", access.1);
    assert!(
        !after.contains(&password),
        "the password reached the log on standard output"
    );
    assert!(
        !stderr.contains(&password),
        "the password reached standard error"
    );
    for (path, text) in &logs {
        assert!(
            !text.contains(&password),
            "the password reached {}",
            path.display()
        );
    }

    let again = SpawnedServer::start(&data, &[], None);
    assert!(
        !again.printed.iter().any(|l| l.contains("password")),
        "{:?}",
        again.printed
    );
}

#[tokio::test]
async fn rotate_jwt_reaches_the_running_server_without_signing_anyone_out() {
    let (_dir, data) = data_dir();
    let server = SpawnedServer::start(&data, &[], None);
    let password = server.admin_password();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let login = async || {
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

    let out = blogd_run(&data, &["rotate", "jwt"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("told the running server"),
        "{}",
        stdout(&out)
    );

    // The command returns once the server was told; the server may take its turn to load
    // the new key. (The wait only guards against a hang.)
    let new_kid = eventually_some("the server signing with the new key", async || {
        let kid = jsonwebtoken::decode_header(&login().await)
            .unwrap()
            .kid
            .unwrap();
        (kid != old_kid).then_some(kid)
    })
    .await;
    assert_ne!(new_kid, old_kid);
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
}

#[test]
fn weak_or_exposed_secrets_stop_the_start() {
    let (_dir, data) = data_dir();
    let weak = serve_refused(
        &data,
        &[(
            "BLOGD_AUTH_JWT_SECRET",
            "change_this_secret_change_this_secret",
        )],
    );
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
    assert!(blogd(&data, &["rotate", "jwt"]).status.success());
    let secrets = data.join("secrets.toml");
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let exposed = serve_refused(&data, &[]);
    assert!(!exposed.status.success());
    assert!(
        stderr(&exposed).contains("chmod 600"),
        "{}",
        stderr(&exposed)
    );
}
