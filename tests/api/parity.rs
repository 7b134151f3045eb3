//! One rule, every door: the same action through the API, the admin socket (the console's
//! door), the shell while the server runs (through the socket) and the shell on the files
//! (no server) meets the same rule and leaves the same kind of audit record.

use blogd::admin::client::{AdminClient, ClientError};
use blogd::alerts::{self, Status};
use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestServer, blogd_run};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn console(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.dir.path().join("admin.sock"))
}

/// (actor, action, target, ip) of every audit record of `action`, oldest first.
async fn audit(server: &TestServer, action: &str) -> Vec<(String, String, String, String)> {
    let action = action.to_string();
    server
        .state
        .db
        .read(move |c| {
            let mut s = c.prepare(
                "SELECT actor, action, COALESCE(target, ''), COALESCE(ip, '') FROM audit_log
                  WHERE action = ?1 ORDER BY id",
            )?;
            let rows = s.query_map([action], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap()
}

async fn admin_token(server: &TestServer) -> String {
    let password = server.first_admin_password.clone().unwrap();
    let reply = server.login("admin", &password).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_string()
}

async fn role_and_active(server: &TestServer, username: &str) -> (Role, bool) {
    let name = username.to_string();
    let user = server
        .state
        .db
        .read(move |c| blogd::db::users::by_username(c, &name))
        .await
        .unwrap();
    (user.role, user.active)
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_deactivated_through_any_door() {
    let server = TestServer::start().await;
    let token = admin_token(&server).await;
    let dir = server.dir.path().to_path_buf();

    for change in [json!({"role": "editor"}), json!({"active": false})] {
        let api = server
            .patch("/api/v1/users/admin", Some(&token), change.clone())
            .await;
        assert_eq!(
            api.status,
            StatusCode::CONFLICT,
            "API {change}: {}",
            api.body
        );
        assert_eq!(api.code(), "conflict");

        let socket = console(&server)
            .call::<Value>("PATCH", "/v1/users/admin", Some(change.clone()))
            .await;
        match socket {
            Err(ClientError::Api(409, message)) => {
                assert!(message.contains("last active admin"), "{message}")
            }
            other => panic!("socket {change}: {other:?}"),
        }
    }
    for args in [
        &["user", "set-role", "admin", "editor"][..],
        &["user", "deactivate", "admin"][..],
    ] {
        let cli = blogd_run(&dir, args).await;
        assert!(!cli.status.success(), "CLI (server running) {args:?}");
        assert!(
            stderr(&cli).contains("last active admin"),
            "{}",
            stderr(&cli)
        );
    }
    assert_eq!(role_and_active(&server, "admin").await, (Role::Admin, true));
    assert!(
        audit(&server, "user.update").await.is_empty(),
        "nothing changed, nothing recorded"
    );

    // On the files, with no server running: the same rule.
    let dir = server.stop().await;
    for args in [
        &["user", "set-role", "admin", "editor"][..],
        &["user", "deactivate", "admin"][..],
    ] {
        let cli = blogd_run(dir.path(), args).await;
        assert!(!cli.status.success(), "CLI (no server) {args:?}");
        assert!(
            stderr(&cli).contains("last active admin"),
            "{}",
            stderr(&cli)
        );
    }
    let again = TestServer::start_in(dir, &[]).await;
    assert_eq!(role_and_active(&again, "admin").await, (Role::Admin, true));

    // With a second admin, demoting the first is fine (through the shell, say).
    let second = again.create_user(Role::Admin).await;
    let cli = blogd_run(again.dir.path(), &["user", "set-role", "admin", "editor"]).await;
    assert!(cli.status.success(), "{}", stderr(&cli));
    assert_eq!(role_and_active(&again, "admin").await, (Role::Editor, true));
    // …and now `second` is the last one.
    let cli = blogd_run(again.dir.path(), &["user", "deactivate", &second]).await;
    assert!(!cli.status.success());
}

#[tokio::test]
async fn each_allowed_change_ends_sessions_and_leaves_one_record_naming_its_door() {
    let server = TestServer::start().await;
    let token = admin_token(&server).await;
    let me = blogd::ops::unix::euid();
    let name = blogd::ops::unix::user_name(me).unwrap();
    let operator = format!("uid:{me} ({name})");
    let (by_api, api_token) = server.user_with_token(Role::Editor).await;
    let (by_console, console_token) = server.user_with_token(Role::Editor).await;
    let (by_cli, cli_token) = server.user_with_token(Role::Editor).await;

    let reply = server
        .patch(
            &format!("/api/v1/users/{by_api}"),
            Some(&token),
            json!({"role": "author"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    console(&server)
        .call::<Value>(
            "PATCH",
            &format!("/v1/users/{by_console}"),
            Some(json!({"role": "author"})),
        )
        .await
        .unwrap();
    let cli = blogd_run(server.dir.path(), &["user", "set-role", &by_cli, "author"]).await;
    assert!(cli.status.success(), "{}", stderr(&cli));

    for (user, old_token) in [
        (&by_api, &api_token),
        (&by_console, &console_token),
        (&by_cli, &cli_token),
    ] {
        assert_eq!(role_and_active(&server, user).await, (Role::Author, true));
        let me = server.get("/api/v1/auth/me", Some(old_token)).await;
        assert_eq!(
            me.status,
            StatusCode::UNAUTHORIZED,
            "{user}'s old session ended at once"
        );
    }
    let records = audit(&server, "user.update").await;
    assert_eq!(
        records,
        [
            (
                "admin".into(),
                "user.update".into(),
                format!("user:{by_api}"),
                "127.0.0.1".into()
            ),
            (
                "console".into(),
                "user.update".into(),
                format!("user:{by_console}"),
                operator.clone()
            ),
            (
                "cli".into(),
                "user.update".into(),
                format!("user:{by_cli}"),
                operator.clone()
            ),
        ]
    );

    // The shell on the files (no server): the same record.
    let dir = server.stop().await;
    let cli = blogd_run(dir.path(), &["user", "deactivate", &by_cli]).await;
    assert!(cli.status.success(), "{}", stderr(&cli));
    let again = TestServer::start_in(dir, &[]).await;
    assert_eq!(
        role_and_active(&again, &by_cli).await,
        (Role::Author, false)
    );
    let records = audit(&again, "user.update").await;
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[3],
        (
            "cli".into(),
            "user.update".into(),
            format!("user:{by_cli}"),
            operator
        )
    );
    let login = again.login(&by_cli, PASSWORD).await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED, "deactivated");
}

#[tokio::test]
async fn users_made_by_the_shell_meet_the_api_rules() {
    let server = TestServer::start().await;
    let dir = server.dir.path().to_path_buf();
    // The reserved names and the password policy hold for the shell as for the API.
    let reserved = blogd_run(
        &dir,
        &[
            "user",
            "create",
            "--username",
            "console",
            "--email",
            "c@example.com",
        ],
    )
    .await;
    assert!(!reserved.status.success());
    assert!(
        stderr(&reserved).contains("username refused"),
        "{}",
        stderr(&reserved)
    );
    let made = blogd_run(
        &dir,
        &[
            "user",
            "create",
            "--username",
            "shellmade",
            "--email",
            "s@example.com",
            "--role",
            "editor",
        ],
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let password = stdout(&made)
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    assert_eq!(
        server.login("shellmade", &password).await.status,
        StatusCode::OK
    );
    let records = audit(&server, "user.create").await;
    assert_eq!(records.last().unwrap().0, "cli");
    assert_eq!(records.last().unwrap().2, "user:shellmade");
}

#[tokio::test]
async fn rotating_through_the_shell_while_the_server_runs_is_what_the_console_does() {
    let server = TestServer::start().await;
    let state = &server.state;
    let analytics_before = state.shared_secrets().analytics.current.clone();

    let cli = blogd_run(server.dir.path(), &["rotate", "analytics"]).await;
    assert!(cli.status.success(), "{}", stderr(&cli));
    assert!(
        stdout(&cli).contains("told the running server"),
        "{}",
        stdout(&cli)
    );
    assert_ne!(
        state.shared_secrets().analytics.current,
        analytics_before,
        "the running server uses the new secret at once (no signal, no restart)"
    );
    console(&server)
        .post::<Value>("/v1/rotate/revalidate", None)
        .await
        .unwrap();

    let records = audit(&server, "key.rotate").await;
    let doors: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.0.as_str(), r.2.as_str()))
        .collect();
    assert_eq!(
        doors,
        [
            ("cli", "secret:analytics"),
            ("console", "secret:revalidate")
        ]
    );
    alerts::watch::tick(state).await;
    let notices: Vec<String> = state
        .alerts
        .view(&state.config.alerts)
        .recent
        .into_iter()
        .filter(|m| m.rule == "key_rotated" && m.status == Status::Notice)
        .map(|m| m.summary)
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .any(|n| n.contains("analytics") && n.contains("by cli")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("revalidate") && n.contains("by console")),
        "{notices:?}"
    );
}
