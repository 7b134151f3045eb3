//! Backups, restores and the admin socket.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blogd::admin::client::AdminClient;
use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    PATIENCE, TestServer, blogd_command, blogd_run_blocking, eventually, finish, run_to_end,
};

async fn backup(server: &TestServer) -> blogd::ops::backup::BackupInfo {
    let state = server.state.clone();
    tokio::task::spawn_blocking(move || state.backups.create(state.clock.now(), |_| {}))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_concurrent_writes_is_consistent_and_complete() {
    let server = Arc::new(TestServer::start().await);
    let token = server.token(Role::Author).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (server, token, acknowledged, stop) = (
                server.clone(),
                token.clone(),
                acknowledged.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = server
                        .post(
                            "/api/v1/posts",
                            Some(&token),
                            json!({"title": format!("w{w} n{n}"), "content": "x".repeat(2000)}),
                        )
                        .await;
                    assert_eq!(r.status, StatusCode::CREATED);
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(r.body["slug"].as_str().unwrap().to_string());
                    n += 1;
                }
            })
        })
        .collect();
    let written = || acknowledged.lock().unwrap().len();
    eventually("the writers busy", || written() > 10).await;
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let info = backup(&server).await;
    // Writes go on after the backup too.
    let after_backup = written();
    eventually("writes after the backup", || written() > after_backup + 10).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(before.len() > 10, "writers were busy: {}", before.len());

    let path = server.state.backups.locate(&info.file);
    server
        .state
        .backups
        .verify(&path, None)
        .expect("the backup verifies");
    let copy = rusqlite::Connection::open(&path).unwrap();
    let verdict: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    for slug in &before {
        let found: i64 = copy
            .query_row("SELECT COUNT(*) FROM posts WHERE slug = ?1", [slug], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            found, 1,
            "{slug} was acknowledged before the backup started but is missing"
        );
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "backups are private");
}

#[tokio::test]
async fn restore_round_trip_keeps_a_pre_restore_copy() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    server
        .create_post(
            &token,
            json!({"title": "Kept", "content": "x", "status": "published"}),
        )
        .await;
    let saved = backup(&server).await;
    server
        .create_post(
            &token,
            json!({"title": "Later", "content": "x", "status": "published"}),
        )
        .await;
    server.delete("/api/v1/posts/kept", Some(&token)).await;
    server.state.clock.advance(1); // backups are named by the second

    let state = server.state.clone();
    let path = state.backups.locate(&saved.file);
    let before = tokio::task::spawn_blocking(move || {
        state
            .backups
            .restore(&state.db, &path, None, state.clock.now(), |_| {})
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        server.get("/api/v1/posts/kept", None).await.status,
        StatusCode::OK,
        "restored"
    );
    assert_eq!(
        server.get("/api/v1/posts/later", None).await.status,
        StatusCode::NOT_FOUND,
        "newer data replaced"
    );
    let pre = rusqlite::Connection::open(server.state.backups.locate(&before.file)).unwrap();
    let later: i64 = pre
        .query_row("SELECT COUNT(*) FROM posts WHERE slug = 'later'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(later, 1, "the pre-restore backup holds what was replaced");
    // Writes work again after the restore.
    server
        .create_post(&token, json!({"title": "After", "content": "x"}))
        .await;
}

#[tokio::test]
async fn a_corrupted_backup_fails_verify_and_restore_and_changes_nothing() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    server
        .create_post(
            &token,
            json!({"title": "Current", "content": "x", "status": "published"}),
        )
        .await;
    let info = backup(&server).await;
    let path = server.state.backups.locate(&info.file);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = server
        .state
        .backups
        .verify(&path, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("SHA-256"), "{err}");
    let state = server.state.clone();
    let p = path.clone();
    let result = tokio::task::spawn_blocking(move || {
        state
            .backups
            .restore(&state.db, &p, None, state.clock.now(), |_| {})
    })
    .await
    .unwrap();
    assert!(result.is_err());
    assert_eq!(
        server.get("/api/v1/posts/current", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.state.backups.list().len(),
        1,
        "no pre-restore backup was even taken"
    );

    let truncated = server.state.backups.dir().join("truncated.db");
    std::fs::write(&truncated, &bytes[..1024]).unwrap();
    assert!(
        server.state.backups.verify(&truncated, None).is_err(),
        "no manifest, no restore"
    );
}

#[tokio::test]
async fn retention_keeps_the_newest() {
    let server = TestServer::start_with(&[("BLOGD_BACKUP_KEEP", "2")]).await;
    for i in 0..3 {
        if i > 0 {
            server.state.clock.advance(60);
        }
        backup(&server).await;
    }
    let list = server.state.backups.list();
    assert_eq!(list.len(), 2);
    assert!(list[0].created_at > list[1].created_at);
}

/// Asking for a backup never fails because of the clock or of another backup: the
/// first-start backup of the schedule and three `blogd backup now` at once (through the
/// socket) all succeed, with distinct names, and every one verifies.
#[tokio::test]
async fn concurrent_backups_all_succeed_with_distinct_verified_files() {
    let server =
        TestServer::start_with(&[("BLOGD_BACKUP_EVERY", "1d"), ("BLOGD_BACKUP_KEEP", "20")]).await;
    let dir = server.dir.path().to_path_buf();
    let runs = (0..3).map(|_| {
        let dir = dir.clone();
        async move { crate::common::blogd_run(&dir, &["backup", "now"]).await }
    });
    let outputs = futures_join_all(runs).await;
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let printed: std::collections::BTreeSet<String> = outputs
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(printed.len(), 3, "three different files: {printed:?}");
    let list = server.state.backups.list();
    assert_eq!(
        list.len(),
        4,
        "and the scheduled first-start backup: {list:?}"
    );
    let names: std::collections::BTreeSet<&str> = list.iter().map(|b| b.file.as_str()).collect();
    assert_eq!(names.len(), 4);
    for b in &list {
        let path = server.state.backups.locate(&b.file);
        server.state.backups.verify(&path, None).unwrap();
    }
    // Within one second, names get a suffix instead of an error.
    let state = server.state.clone();
    let same_second = tokio::task::spawn_blocking(move || {
        let now = state.clock.now();
        (0..3)
            .map(|_| state.backups.create(now, |_| {}).unwrap().file)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let distinct: std::collections::BTreeSet<&String> = same_second.iter().collect();
    assert_eq!(distinct.len(), 3, "{same_second:?}");
    let stamp = same_second[0].trim_end_matches(".db").to_string();
    assert!(
        same_second[1..]
            .iter()
            .all(|f| f.starts_with(stamp.split('Z').next().unwrap()) && f.contains("Z-")),
        "later ones of the same second get a suffix: {same_second:?}"
    );
}

/// Awaits every future (the suite has no futures crate).
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A client of the test server's admin socket (the server runs it, as in production).
async fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.dir.path().join("admin.sock"))
}

#[tokio::test]
async fn the_admin_socket_bans_lifts_backs_up_and_audits() {
    let server = TestServer::start_with(&[("BLOGD_THROTTLE_ALLOW", "")]).await;
    let client = admin(&server).await;
    let mode = std::fs::metadata(client.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);

    let status: Value = client.get("/v1/status").await.unwrap();
    assert_eq!(status["health"]["status"], "healthy");
    assert!(status["traffic"]["per_second"].is_array());

    let ban: Value = client
        .post(
            "/v1/bans",
            Some(json!({"ip": "127.0.0.1", "minutes": 10, "reason": "test"})),
        )
        .await
        .unwrap();
    assert_eq!(ban["reason"], "test");
    assert_eq!(server.get("/api/v1/posts", None).await.code(), "ip_banned");
    let throttle: Value = client.get("/v1/throttle").await.unwrap();
    assert_eq!(throttle["bans"][0]["ip"], "127.0.0.1");
    let lifted: Value = client
        .call("DELETE", "/v1/bans/127.0.0.1", None)
        .await
        .unwrap();
    assert_eq!(lifted["lifted"], true);
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK
    );
    let bad = client
        .post::<Value>("/v1/bans", Some(json!({"ip": "not-an-ip", "minutes": 1})))
        .await;
    assert!(matches!(
        bad,
        Err(blogd::admin::client::ClientError::Api(400, _))
    ));

    let made: Value = client.patient().post("/v1/backups", None).await.unwrap();
    let file = made["file"].as_str().unwrap().to_string();
    let listed: Value = client.get("/v1/backups").await.unwrap();
    assert_eq!(listed["backups"][0]["file"], file.as_str());
    let verified: Value = client
        .post("/v1/backups/verify", Some(json!({"file": file})))
        .await
        .unwrap();
    assert_eq!(verified["sha256"], made["sha256"]);

    let rotated: Value = client.post("/v1/rotate/jwt", None).await.unwrap();
    assert!(rotated["kid"].is_string());

    let actions: Vec<(String, String, String)> = server
        .state
        .db
        .read(|c| {
            let mut s = c.prepare(
                "SELECT actor, action, ip FROM audit_log WHERE actor = 'console' ORDER BY id",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    let names: Vec<&str> = actions.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(
        names,
        ["ban.add", "ban.remove", "backup.create", "key.rotate"]
    );
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let name = blogd::ops::unix::user_name(me).unwrap();
    assert!(
        actions.iter().all(|a| a.2 == format!("uid:{me} ({name})")),
        "{actions:?}"
    );
}

#[tokio::test]
async fn the_live_event_stream_follows_new_events() {
    let server = TestServer::start().await;
    let client = admin(&server).await;
    let follower = client.clone();
    let following = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let got = tokio::spawn({
        let following = following.clone();
        async move {
            let mut kinds = Vec::new();
            // (The deadline only guards against a hang.)
            let _ = tokio::time::timeout(
                PATIENCE,
                follower.follow("/v1/events/stream", |event: Value| {
                    following.store(true, std::sync::atomic::Ordering::SeqCst);
                    kinds.push(event["kind"].as_str().unwrap_or("").to_string());
                    kinds.last().unwrap() != "login_failed"
                }),
            )
            .await;
            kinds
        }
    });
    // Probes until the stream has one (it is following from then on), then a failed sign-in.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !following.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream got nothing"
        );
        server.get("/.env", None).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.login("nobody", "wrong-password-guess").await;
    let kinds = got.await.unwrap();
    let (last, probes) = kinds.split_last().expect("events followed");
    assert_eq!(last, "login_failed", "{kinds:?}");
    assert!(
        !probes.is_empty() && probes.iter().all(|k| k == "suspicious_request"),
        "each new event, in order: {kinds:?}"
    );
    let recent: Vec<Value> = client.get("/v1/events?limit=10").await.unwrap();
    assert!(recent.len() >= 2);
}

#[tokio::test]
async fn the_socket_refuses_other_users_and_symlinks() {
    let server = TestServer::start().await;
    let client = admin(&server).await;
    let link = server.dir.path().join("link.sock");
    std::os::unix::fs::symlink("/tmp/elsewhere.sock", &link).unwrap();
    let err = blogd::admin::bind(&link).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI_REQUIRE_ROOT").is_none(),
            "CI_REQUIRE_ROOT is set but the tests do not run as root"
        );
        eprintln!("skipped: the peer-credential check is tested as root");
        return;
    }
    // The file mode would stop a stranger first: open it, so the check itself is tested.
    let socket = client.path().to_path_buf();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let socket_gid = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&socket).unwrap());
    let nobody = 65534;
    let ask = |gid: u32, groups: Vec<u32>| {
        let socket = socket.clone();
        tokio::task::spawn_blocking(move || as_user(&socket, nobody, gid, &groups))
    };
    let stranger = ask(nobody, vec![]).await.unwrap();
    assert!(
        !stranger.contains("HTTP/1.1 200"),
        "a stranger got in: {stranger}"
    );
    let supplementary = ask(nobody, vec![socket_gid]).await.unwrap();
    assert!(
        supplementary.contains("HTTP/1.1 200"),
        "a member of the socket's group (usermod -aG) is let in: {supplementary}"
    );
    let primary = ask(socket_gid, vec![]).await.unwrap();
    assert!(primary.contains("HTTP/1.1 200"), "{primary}");
}

/// Asks the admin socket for its status as uid/gid with exactly these supplementary
/// groups; returns what came back (or why nothing did).
fn as_user(socket: &std::path::Path, uid: u32, gid: u32, groups: &[u32]) -> String {
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect({:?})\n s.sendall(b'GET /v1/status HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n s.settimeout(10)\n print(s.recv(100))\nexcept Exception as e:\n print('refused', e)\n",
        socket.display().to_string()
    );
    let groups: Vec<libc::gid_t> = groups.to_vec();
    let mut command = std::process::Command::new("python3");
    command.args(["-c", &script]).current_dir("/");
    // SAFETY: only async-signal-safe calls, in the order privileges must be dropped.
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run_to_end(command, None);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

use std::os::unix::process::CommandExt;

#[test]
fn backup_and_restore_commands_work_on_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| blogd_run_blocking(&data, args);
    assert!(
        run(&[
            "user",
            "create",
            "--username",
            "writer",
            "--email",
            "w@example.com",
            "--role",
            "author"
        ])
        .status
        .success()
    );
    let made = run(&["backup", "now"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let stdout = String::from_utf8_lossy(&made.stdout);
    let path = stdout.lines().last().unwrap().trim().to_string();
    assert!(
        path.ends_with(".db") && std::path::Path::new(&path).exists(),
        "the last line is the path: {stdout}"
    );
    let listed = String::from_utf8_lossy(&run(&["backup", "list"]).stdout).into_owned();
    assert!(
        listed.contains(
            std::path::Path::new(&path)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        )
    );
    assert!(run(&["backup", "verify", &path]).status.success());

    assert!(
        run(&[
            "user",
            "create",
            "--username",
            "newcomer",
            "--email",
            "n@example.com"
        ])
        .status
        .success()
    );
    let refused = run(&["restore", &path]);
    assert!(
        !refused.status.success(),
        "no terminal and no --yes: refused"
    );
    let restored = run(&["restore", &path, "--yes"]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let users = String::from_utf8_lossy(&run(&["user", "list"]).stdout).into_owned();
    assert!(
        users.contains("writer") && !users.contains("newcomer"),
        "{users}"
    );

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4096] ^= 0xFF;
    std::fs::write(&path, bytes).unwrap();
    let bad = run(&["backup", "verify", &path]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SHA-256"));
    assert!(!run(&["restore", &path, "--yes"]).status.success());
}

#[test]
fn blogd_audit_fails_what_is_wrong_and_passes_when_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let mut command = blogd_command(&data);
        command.args(args).env("BLOGD_TLS_ENABLED", "false");
        run_to_end(command, None)
    };
    assert!(
        run(&[
            "user",
            "create",
            "--username",
            "boss",
            "--email",
            "b@example.com",
            "--role",
            "admin"
        ])
        .status
        .success()
    );
    let first = run(&["audit"]);
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(!first.status.success(), "{text}");
    assert!(text.contains("✗ no backup yet"), "{text}");
    assert!(text.contains("! TLS is off"), "{text}");
    assert!(
        text.contains("! admins who never signed in: boss"),
        "{text}"
    );

    assert!(run(&["backup", "now"]).status.success());
    let fixed = run(&["audit"]);
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = run(&["audit"]);
    assert!(!open.status.success());
    assert!(String::from_utf8_lossy(&open.stdout).contains("world-accessible"));
}

#[tokio::test]
async fn blogd_audit_checks_a_live_server() {
    let server = TestServer::start().await;
    let mut command = blogd_command(server.dir.path());
    command
        .args(["audit", "--url", &server.base])
        .env("BLOGD_TLS_ENABLED", "false");
    let out = finish(command, None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "✓ header content-security-policy",
        "✓ header x-frame-options",
        "✓ no Server banner",
        "✓ health: healthy",
        "✓ the API docs are served",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
}

#[tokio::test]
async fn encrypted_backups_need_the_identity_to_restore() {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let keys = tempfile::tempdir().unwrap();
    let identity_file = keys.path().join("key.txt");
    std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();

    let server = TestServer::start_with(&[("BLOGD_BACKUP_ENCRYPT_TO", recipient.as_str())]).await;
    let token = server.token(Role::Author).await;
    server
        .create_post(
            &token,
            json!({"title": "Secret plans", "content": "x", "status": "published"}),
        )
        .await;
    let info = backup(&server).await;
    assert!(info.encrypted && info.file.ends_with(".db.age"), "{info:?}");
    let path = server.state.backups.locate(&info.file);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !bytes.windows(15).any(|w| w == b"SQLite format 3"),
        "not a readable database"
    );
    assert!(!bytes.windows(12).any(|w| w == b"Secret plans"));
    server
        .state
        .backups
        .verify(&path, None)
        .expect("the hash checks without the key");
    server
        .state
        .backups
        .verify(&path, Some(&identity_file))
        .expect("and the contents with it");

    server
        .delete("/api/v1/posts/secret-plans", Some(&token))
        .await;
    server.state.clock.advance(1); // backups are named by the second
    let state = server.state.clone();
    let p = path.clone();
    let without = tokio::task::spawn_blocking(move || {
        state
            .backups
            .restore(&state.db, &p, None, state.clock.now(), |_| {})
    })
    .await
    .unwrap();
    assert!(without.unwrap_err().to_string().contains("identity"));
    let wrong = age::x25519::Identity::generate();
    let wrong_file = keys.path().join("wrong.txt");
    std::fs::write(&wrong_file, wrong.to_string().expose_secret()).unwrap();
    assert!(
        server
            .state
            .backups
            .verify(&path, Some(&wrong_file))
            .is_err(),
        "another key opens nothing"
    );

    let state = server.state.clone();
    let id = identity_file.clone();
    tokio::task::spawn_blocking(move || {
        state
            .backups
            .restore(&state.db, &path, Some(&id), state.clock.now(), |_| {})
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        server.get("/api/v1/posts/secret-plans", None).await.status,
        StatusCode::OK
    );
    let leftovers: Vec<_> = std::fs::read_dir(server.state.backups.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".plain"))
        .collect();
    assert!(leftovers.is_empty(), "the decrypted copy is removed");
}
