//! Promises of the operations side that only a test can hold blogd to: upgrades keep every
//! row, restores refuse writes while they run, backups happen on schedule, retention runs at
//! start and then hourly (ended sessions, with their addresses and user agents, go too), and
//! media files travel with backups.

use std::path::Path;
use std::time::Duration;

use blogd::auth::Role;
use blogd::db::migrate::{MIGRATIONS, latest_version};
use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::json;

use crate::common::{TestServer, slugs};

/// The seed of each schema version that first had its tables (tests/data/upgrade/vN.sql).
fn seed(version: i64) -> Option<String> {
    let path = format!(
        "{}/tests/data/upgrade/v{version}.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).ok()
}

/// A database as a blogd of schema `version` left it: migrated exactly that far, with the
/// rows of every seed up to that version.
fn database_at(path: &Path, version: i64) {
    let mut conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
        .unwrap();
    for (v, _, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v <= version) {
        let tx = conn.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", v).unwrap();
        tx.commit().unwrap();
    }
    for v in 1..=version {
        if let Some(sql) = seed(v) {
            conn.execute_batch(&sql)
                .unwrap_or_else(|e| panic!("seed v{v} into schema {version}: {e}"));
        }
    }
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// A database made by every earlier schema version migrates to today's with every row kept
/// (and the data still reads right through the API).
#[tokio::test]
async fn every_older_schema_migrates_with_every_row_kept() {
    let expected: &[(&str, i64, i64)] = &[
        // table, rows, first schema version that has them
        ("users", 3, 1),
        ("sessions", 1, 1),
        ("refresh_tokens", 1, 1),
        ("categories", 1, 1),
        ("tags", 2, 1),
        ("posts", 3, 1),
        ("post_categories", 1, 1),
        ("post_tags", 2, 1),
        ("comments", 2, 1),
        ("recovery_codes", 1, 2),
        ("revoked_tokens", 1, 2),
        ("audit_log", 2, 2),
        ("security_events", 1, 2),
        ("media", 1, 3),
        ("pageviews", 1, 4),
        ("webhook_outbox", 1, 4),
    ];
    for version in 1..latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blogd.db");
        database_at(&file, version);
        let db = tokio::task::spawn_blocking({
            let file = file.clone();
            move || blogd::db::Db::open(&file)
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("schema {version} does not migrate: {e:#}"));
        drop(db);
        let conn = Connection::open(&file).unwrap();
        assert_eq!(
            blogd::db::migrate::schema_version(&conn).unwrap(),
            latest_version()
        );
        let verdict: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(verdict, "ok", "schema {version}");
        for (table, rows, since) in expected {
            if *since <= version {
                assert_eq!(count(&conn, table), *rows, "{table} from schema {version}");
            }
        }
        let (bio, html): (String, String) = conn
            .query_row(
                "SELECT u.bio, p.content_html FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(bio, "Writes about engines.");
        assert_eq!(html, "<p>The <em>engine</em> weaves.</p>");
        drop(conn);

        // And it serves: the published post, not the draft nor the future one; its terms.
        let server = TestServer::start_in(dir, &[]).await;
        assert_eq!(
            slugs(&server.get("/api/v1/posts", None).await),
            ["notes-on-the-engine"],
            "schema {version}"
        );
        let post = server.get("/api/v1/posts/notes-on-the-engine", None).await;
        assert_eq!(post.body["tags"][0]["slug"], "history", "{}", post.body);
        assert_eq!(post.body["categories"][0]["slug"], "engines");
        let comments = server
            .get("/api/v1/posts/notes-on-the-engine/comments", None)
            .await;
        assert_eq!(comments.body["pagination"]["total"], 1, "approved only");
    }
}

/// While a restore replaces the data, writes answer 503 at once (they would otherwise be
/// lost under the restored data); reads go on.
#[tokio::test]
async fn writes_answer_503_while_a_restore_runs() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let state = server.state.clone();
    let backup =
        tokio::task::spawn_blocking(move || state.backups.create(state.clock.now(), |_| {}))
            .await
            .unwrap()
            .unwrap();
    // The restore is held at its first copied pages (inside the restore, writer locked) until
    // the write below has had its answer: the window is certain, not raced.
    let (in_restore, held) = tokio::sync::oneshot::channel::<()>();
    let (go_on, release) = std::sync::mpsc::channel::<()>();
    let state = server.state.clone();
    let restoring = tokio::task::spawn_blocking(move || {
        let path = state.backups.locate(&backup.file);
        let mut in_restore = Some(in_restore);
        state
            .backups
            .restore(&state.db, &path, None, state.clock.now(), |_| {
                if let Some(signal) = in_restore.take() {
                    let _ = signal.send(());
                    let _ = release.recv_timeout(crate::common::PATIENCE);
                }
            })
    });
    tokio::time::timeout(crate::common::PATIENCE, held)
        .await
        .expect("the restore never started copying")
        .unwrap();
    assert!(server.state.db.in_maintenance());
    let write_post = async |title: &str| {
        let post = json!({"title": title, "content": "x"});
        server.post("/api/v1/posts", Some(&author), post).await
    };
    let write = write_post("During").await;
    assert_eq!(
        write.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        write.body
    );
    assert_eq!(write.code(), "unavailable");
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK
    );
    go_on.send(()).unwrap();
    restoring.await.unwrap().unwrap();
    let after = write_post("After").await;
    assert_eq!(
        after.status,
        StatusCode::CREATED,
        "writes resume: {}",
        after.body
    );
}

/// The schedule makes the first backup at start, and the next one `backup.every` later.
#[tokio::test]
async fn backups_follow_their_schedule() {
    let server =
        TestServer::start_with(&[("BLOGD_BACKUP_EVERY", "1d"), ("BLOGD_BACKUP_KEEP", "10")]).await;
    let backups = || server.state.backups.list().len();
    crate::common::eventually("the first-start backup", || backups() == 1).await;
    server.state.clock.advance(23 * 3600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(backups(), 1, "not before the day is over");
    server.state.clock.advance(3600 + 1);
    crate::common::eventually("the next day's backup", || backups() == 2).await;
    let audit = server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'backup.create' AND actor = 'system'",
                [],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(audit, 2, "each scheduled backup is audited as system");
}

/// Retention runs when the server starts and then every hour: expired security events go,
/// and ended sessions go with their addresses and user agents.
#[tokio::test]
async fn retention_runs_at_start_and_hourly() {
    let server = TestServer::start().await;
    let (name, _) = server.user_with_token(Role::Reader).await;
    let now = server.state.clock.now();
    let old = now - 200 * 86_400;
    plant_old_rows(&server, old).await;
    let dir = server.stop().await;

    let again = TestServer::start_in(dir, &[]).await;
    wait_for_rows(&again, 0, "at start").await;

    // An hour later, what has expired since goes too.
    plant_old_rows(&again, again.state.clock.now() - 200 * 86_400).await;
    assert_eq!(old_rows(&again).await, 2);
    again.state.clock.advance(3600);
    wait_for_rows(&again, 0, "an hour later").await;
    assert!(again.login(&name, crate::common::PASSWORD).await.status == StatusCode::OK);
}

/// A security event and an ended session of `at`.
async fn plant_old_rows(server: &TestServer, at: i64) {
    server
        .state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO security_events (time, kind, ip, username, detail) VALUES (?1, 'login_failed', '203.0.113.7', 'x', 'old')",
                [at],
            )?;
            let user: i64 = tx.query_row("SELECT MAX(id) FROM users", [], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, ip, user_agent, revoked_at)
                 VALUES ('old-' || ?1, ?2, ?1, ?1 + 60, '198.51.100.77', 'Old Browser/1.0', ?1)",
                rusqlite::params![at, user],
            )?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn old_rows(server: &TestServer) -> i64 {
    server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT COUNT(*) FROM security_events WHERE detail = 'old')
                      + (SELECT COUNT(*) FROM sessions WHERE ip = '198.51.100.77' OR user_agent = 'Old Browser/1.0')",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap()
}

async fn wait_for_rows(server: &TestServer, rows: i64, when: &str) {
    crate::common::eventually_some(&format!("retention {when}"), async || {
        (old_rows(server).await == rows).then_some(())
    })
    .await;
}

/// Media files travel with backups: a backup holds them beside the database copy, and a
/// restore brings back a file that was lost since.
#[tokio::test]
async fn media_files_travel_with_backups() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let png = hex::decode(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000\
1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4b00000000049454e44ae426082",
    )
    .unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png.clone())
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let uploaded = server
        .client
        .post(server.url("/api/v1/media"))
        .bearer_auth(&author)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let url: serde_json::Value = uploaded.json().await.unwrap();
    let url = url["url"].as_str().unwrap().to_string();
    let name = url.trim_start_matches("/media/").to_string();

    let state = server.state.clone();
    let backup =
        tokio::task::spawn_blocking(move || state.backups.create(state.clock.now(), |_| {}))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(backup.media_files, 1);
    let beside = server
        .state
        .backups
        .dir()
        .join(backup.file.replace(".db", ".media"))
        .join(&name);
    assert_eq!(
        std::fs::read(&beside).unwrap(),
        png,
        "the file is beside the backup"
    );

    let media = blogd::content::media::media_dir(&server.state.config.storage.data_dir);
    std::fs::remove_file(media.join(&name)).unwrap();
    assert_eq!(server.get(&url, None).await.status, StatusCode::NOT_FOUND);
    let state = server.state.clone();
    tokio::task::spawn_blocking(move || {
        let path = state.backups.locate(&backup.file);
        state
            .backups
            .restore(&state.db, &path, None, state.clock.now(), |_| {})
    })
    .await
    .unwrap()
    .unwrap();
    let served = server.client.get(server.url(&url)).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK, "restored with the backup");
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());
}
