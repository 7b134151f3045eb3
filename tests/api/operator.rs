//! What a new operator meets in the first hour: private files from the first start whatever
//! the umask, `blogd healthcheck`, a full disk.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{SpawnedServer, blogd_run, eventually};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory under `root`, with its mode.
fn modes_under(root: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            if !meta.file_type().is_socket() {
                out.push((
                    path.display().to_string(),
                    meta.permissions().mode() & 0o777,
                ));
            }
        }
    }
    out
}

use std::os::unix::fs::FileTypeExt;

async fn sign_in_and_upload(base: &str, password: &str) {
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let png = hex::decode(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000\
1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4b00000000049454e44ae426082",
    )
    .unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png)
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let uploaded = client
        .post(format!("{base}/api/v1/media"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_first_start_keeps_everything_private_whatever_the_umask() {
    for umask in [0o022, 0o002] {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("blogd-data");
        let server = tokio::task::spawn_blocking({
            let data = data.clone();
            move || SpawnedServer::start(&data, &[], Some(umask))
        })
        .await
        .unwrap();
        sign_in_and_upload(&server.base, &server.admin_password()).await;
        let backup = blogd_run(&data, &["backup", "now"]).await;
        assert!(
            backup.status.success(),
            "{}",
            String::from_utf8_lossy(&backup.stderr)
        );

        assert_eq!(
            mode(&data) & 0o007,
            0,
            "umask {umask:o}: the data directory"
        );
        assert_eq!(mode(&data.join("secrets.toml")), 0o600);
        let files = modes_under(&data);
        for name in ["blogd.db", "media", "backups", "logs", "app.log"] {
            assert!(
                files.iter().any(|(p, _)| p.ends_with(name)),
                "{name} was made: {files:?}"
            );
        }
        let open: Vec<_> = files.iter().filter(|(_, m)| m & 0o007 != 0).collect();
        assert!(
            open.is_empty(),
            "umask {umask:o}: world-accessible: {open:?}"
        );

        let audit = blogd_run(&data, &["audit"]).await;
        let report = String::from_utf8_lossy(&audit.stdout);
        assert!(!report.contains("world-accessible"), "{report}");
        assert!(report.contains("are not world-readable"), "{report}");
        drop(server);
    }
}

#[tokio::test]
async fn an_older_install_with_open_modes_is_fixed_at_start() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut first = tokio::task::spawn_blocking({
        let data = data.clone();
        move || SpawnedServer::start(&data, &[], Some(0o022))
    })
    .await
    .unwrap();
    assert!(first.stop());
    // As an older blogd (or a hand copy) left them.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("blogd.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let audit = blogd_run(&data, &["audit"]).await;
    let report = String::from_utf8_lossy(&audit.stdout).into_owned();
    assert!(!audit.status.success());
    assert!(
        report.contains("blogd.db is world-accessible (mode 644): run chmod o-rwx"),
        "{report}"
    );

    let _again = tokio::task::spawn_blocking({
        let data = data.clone();
        move || SpawnedServer::start(&data, &[], None)
    })
    .await
    .unwrap();
    assert_eq!(mode(&data), 0o750);
    assert_eq!(mode(&data.join("blogd.db")), 0o640);
    // The log is written in batches: wait for the line.
    eventually("the fix in app.log", || {
        std::fs::read_to_string(data.join("logs/app.log"))
            .unwrap_or_default()
            .contains("took the permissions for others off")
    })
    .await;
}

/// `blogd healthcheck` says in one line and its exit code whether the server is healthy
/// (0), degraded (1), unhealthy (2) or not there at all (3): found from the configuration
/// (its admin socket), or at a URL.
#[tokio::test]
async fn blogd_healthcheck_tells_healthy_degraded_unhealthy_and_absent_apart() {
    use blogd::ops::health::FixedDisk;
    let server = crate::common::TestServer::start().await;
    let dir = server.dir.path().to_path_buf();
    let check = |args: &'static [&'static str]| {
        let dir = dir.clone();
        async move {
            let out = blogd_run(&dir, args).await;
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            )
        }
    };
    let (code, line) = check(&["healthcheck"]).await;
    assert_eq!(code, Some(0), "{line}");
    assert!(line.starts_with("healthy"), "{line}");
    let url = server.base.clone();
    let by_url = blogd_run(&dir, &["healthcheck", "--url", &url]).await;
    assert_eq!(
        by_url.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&by_url.stdout)
    );

    server
        .state
        .set_disk_probe(std::sync::Arc::new(FixedDisk(0.05)));
    let (code, line) = check(&["healthcheck"]).await;
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("degraded:") && line.contains("disk"),
        "{line}"
    );
    assert_eq!(check(&["healthcheck", "--allow-degraded"]).await.0, Some(0));

    server
        .state
        .set_disk_probe(std::sync::Arc::new(FixedDisk(0.01)));
    let (code, line) = check(&["healthcheck"]).await;
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with("unhealthy:") && line.contains("disk"),
        "{line}"
    );

    let dir = server.stop().await;
    let gone = blogd_run(dir.path(), &["healthcheck"]).await;
    let line = String::from_utf8_lossy(&gone.stdout);
    assert_eq!(gone.status.code(), Some(3), "{line}");
    assert!(line.starts_with("unreachable:"), "{line}");
    assert_eq!(line.trim().lines().count(), 1, "one line: {line}");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Mount {
    /// None (with a notice) where mounting is not allowed, unless CI requires it.
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI_REQUIRE_MOUNT").is_none(),
                "CI_REQUIRE_MOUNT is set but a tmpfs cannot be mounted here"
            );
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A full disk is an expected condition: writes answer 503 `storage_full` with
/// `Retry-After` (never a 500), reads go on, nothing acknowledged is lost, it is logged once
/// per episode, and writes work again by themselves when space comes back.
#[tokio::test]
async fn a_full_disk_refuses_writes_plainly_and_recovers_by_itself() {
    let root = tempfile::tempdir().unwrap();
    let Some(disk) = Mount::tmpfs(&root.path().join("disk"), "3m") else {
        return;
    };
    let data = disk.0.join("data");
    let logs = root.path().join("logs");
    let logs_env = logs.display().to_string();
    let mut server = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            SpawnedServer::start(
                &data,
                &[
                    ("BLOGD_LOG_DIR", logs_env.as_str()),
                    ("BLOGD_BACKUP_EVERY", "off"),
                ],
                None,
            )
        }
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let login = server.admin_login().await;
    let token = login["access_token"].as_str().unwrap().to_string();
    let create = |n: usize| {
        let request = client
            .post(format!("{}/api/v1/posts", server.base))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Post {n}"), "content": "x".repeat(20_000), "status": "published"}));
        async move { crate::common::reply(request.send().await.unwrap()).await }
    };
    let mut acknowledged = Vec::new();
    let mut refusals = 0;
    for n in 0..2_000 {
        let reply = create(n).await;
        match reply.status.as_u16() {
            201 => acknowledged.push(reply.body["slug"].as_str().unwrap().to_string()),
            503 => {
                assert_eq!(reply.code(), "storage_full", "{}", reply.body);
                assert!(
                    reply
                        .header("retry-after")
                        .is_some_and(|v| v.parse::<u64>().is_ok())
                );
                refusals += 1;
                if refusals == 5 {
                    break;
                }
            }
            other => panic!("write {n} answered {other}: {}", reply.body),
        }
    }
    assert_eq!(refusals, 5, "the disk filled up");
    assert!(!acknowledged.is_empty());
    let listed = client
        .get(format!("{}/api/v1/posts?per_page=1", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK, "reads go on");

    disk.resize("64m");
    let after = create(9_999).await;
    assert_eq!(
        after.status,
        StatusCode::CREATED,
        "writes work again: {}",
        after.body
    );
    acknowledged.push(after.body["slug"].as_str().unwrap().to_string());
    for slug in &acknowledged {
        let read = client
            .get(format!("{}/api/v1/posts/{slug}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            read.status(),
            StatusCode::OK,
            "{slug} was acknowledged and is kept"
        );
    }
    assert!(server.stop(), "a clean stop");
    let log = std::fs::read_to_string(logs.join("app.log")).unwrap_or_default();
    assert_eq!(
        log.matches("the disk holding the database is full").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("the disk has space again").count(), 1, "{log}");
    assert!(
        !log.contains("\"ERROR\"") || log.matches("\"ERROR\"").count() == 1,
        "{log}"
    );
    assert!(!log.contains("internal error"), "{log}");
}
