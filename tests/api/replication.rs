//! Replication through Litestream, end to end on loopback: S3-compatible storage (moto), a
//! primary under `litestream replicate -exec "blogd serve"`, a follower file kept by
//! `litestream restore -f`, and a read-only blogd replica on it.
//!
//! Skipped with a notice when litestream or moto_server is not on PATH, unless
//! CI_REQUIRE_LITESTREAM is set (CI sets it; `.ci/run` installs both, pinned by hash).

use std::io::{BufRead, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{PATIENCE, eventually, eventually_some, run_to_end};

/// One sync interval of these tests (`replication.sync_interval`).
const SYNC: Duration = Duration::from_secs(1);
/// How long one sync's upload may take on top of the interval: the storage here is a Python
/// server sharing two cores with the whole test suite. Without this allowance the test failed
/// 1 of 3 full `cargo test` runs on a 2-core machine, alone it never did.
const UPLOAD: Duration = Duration::from_secs(1);

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// litestream and moto_server, or a skip (a failure in CI).
fn tools() -> Option<(PathBuf, PathBuf)> {
    match (tool("litestream"), tool("moto_server")) {
        (Some(l), Some(m)) => Some((l, m)),
        _ if std::env::var_os("CI_REQUIRE_LITESTREAM").is_some() => {
            panic!("litestream and moto_server are required (.ci/requirements-replication.txt)")
        }
        _ => {
            eprintln!(
                "skipping a replication test: litestream or moto_server is not on PATH \
                 (pip install -r .ci/requirements-replication.txt)"
            );
            None
        }
    }
}

/// A child process (and its process group) killed when dropped.
struct Proc {
    child: Option<Child>,
    name: &'static str,
}

impl Proc {
    fn spawn(name: &'static str, mut command: Command) -> Proc {
        command.process_group(0);
        Proc {
            child: Some(command.spawn().unwrap_or_else(|e| panic!("{name}: {e}"))),
            name,
        }
    }

    /// SIGKILL to the whole group: a host that dies.
    fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// SIGTERM to the process itself; waits (at most PATIENCE, a guard against a hang).
    /// Returns how long it took (to print, not to judge).
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        let Some(child) = self.child.as_mut() else {
            return Duration::ZERO;
        };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        while started.elapsed() < PATIENCE {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{} did not stop within {PATIENCE:?}", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// moto's S3 on a loopback port of its choosing, with one bucket.
struct Storage {
    _proc: Proc,
    endpoint: String,
}

impl Storage {
    async fn start(moto: &Path) -> Storage {
        let mut command = Command::new(moto);
        command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn("moto_server", command);
        // It says where it listens ("Running on http://127.0.0.1:PORT") on standard error,
        // then logs every request there: read it to the end.
        let stderr = proc.child.as_mut().unwrap().stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.split("Running on ").nth(1) {
                    let _ = tx.send(at.trim().to_string());
                }
            }
        });
        let endpoint = rx
            .recv_timeout(PATIENCE)
            .expect("moto_server says where it listens");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(r) = client.put(format!("{endpoint}/blogd-test")).send().await {
                assert!(r.status().is_success(), "bucket: {}", r.status());
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Storage {
            _proc: proc,
            endpoint,
        }
    }
}

/// One host's files: its data directory, its blogd.toml and the generated litestream.yml.
struct Host {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    yml: PathBuf,
}

impl Host {
    fn new(storage: &Storage, mode: &str) -> Host {
        Host::with(storage, mode, "")
    }

    /// A host whose blogd.toml has `extra` at its end.
    fn with(storage: &Storage, mode: &str, extra: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = dir.path().join("blogd.toml");
        std::fs::write(
            &config,
            format!(
                "[tls]\nenabled = false\n[backup]\nevery = \"off\"\n\
                 [throttle]\nallow = [\"127.0.0.0/8\"]\n\
                 [replication]\nmode = \"{mode}\"\nprimary_url = \"https://primary.example\"\n\
                 replica_url = \"s3://blogd-test/site\"\nendpoint = \"{}\"\n\
                 force_path_style = true\nsync_interval = \"{}s\"\nheartbeat = \"1s\"\n{extra}",
                storage.endpoint,
                SYNC.as_secs()
            ),
        )
        .unwrap();
        let yml = dir.path().join("litestream.yml");
        let mut command = blogd(&config, &data);
        command.args(["replication", "config"]);
        let out = run_to_end(command, None);
        assert!(out.status.success(), "{out:?}");
        // Litestream checkpoints every 2 s here (1 minute by default), so that within a
        // test it releases and takes again its read lock: what fails when its own tables
        // are gone.
        let generated = String::from_utf8(out.stdout).unwrap().replace(
            "    busy-timeout: 5s\n",
            "    busy-timeout: 5s\n    checkpoint-interval: 2s\n",
        );
        assert!(generated.contains("checkpoint-interval"), "{generated}");
        std::fs::write(&yml, generated).unwrap();
        Host {
            _dir: dir,
            data,
            config,
            yml,
        }
    }

    fn db(&self) -> PathBuf {
        self.data.join("blogd.db")
    }
}

/// The environment Litestream gets: the storage's keys, and no AWS_CA_BUNDLE (this machine
/// sets one that the AWS SDK inside litestream refuses).
fn litestream(bin: &Path) -> Command {
    let mut command = Command::new(bin);
    crate::spawn::clean_environment(&mut command)
        .env("LITESTREAM_ACCESS_KEY_ID", "test")
        .env("LITESTREAM_SECRET_ACCESS_KEY", "test");
    command
}

fn blogd(config: &Path, data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blogd"));
    crate::spawn::clean_environment(&mut command)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data);
    command
}

/// A running blogd (under Litestream or alone), its URL and what it printed.
struct Served {
    proc: Proc,
    base: String,
    printed: Vec<String>,
    /// Litestream's log (its standard error), when it runs under Litestream.
    log: PathBuf,
}

fn wait_listening(mut proc: Proc, log: PathBuf) -> Served {
    let stdout = proc.child.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("blogd listening on ") {
                let base = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(Some((base, std::mem::take(&mut printed))));
            } else {
                printed.push(line);
            }
        }
        let _ = tx.send(None);
    });
    match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(Some((base, printed))) => Served {
            proc,
            base,
            printed,
            log,
        },
        other => {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("{} did not start listening: {other:?}\n{said}", proc.name)
        }
    }
}

/// The primary: `litestream replicate -restore-if-db-not-exists -exec "blogd serve"`, as the
/// packaged unit runs it.
fn primary(bin: &Path, host: &Host) -> Served {
    let log = host.data.with_extension("litestream.log");
    let exec = format!(
        "{} --config {} --data-dir {} serve --listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_blogd"),
        host.config.display(),
        host.data.display()
    );
    let mut command = litestream(bin);
    command
        .arg("replicate")
        .arg("-config")
        .arg(&host.yml)
        .arg("-restore-if-db-not-exists")
        .arg("-exec")
        .arg(exec)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    wait_listening(Proc::spawn("litestream replicate", command), log)
}

/// `litestream restore -f`: the follower file of a replica host.
fn follower(bin: &Path, host: &Host) -> Proc {
    let mut command = litestream(bin);
    command
        .arg("restore")
        .arg("-config")
        .arg(&host.yml)
        .args(["-f", "-follow-interval", "250ms"])
        .arg(host.db())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(host.data.with_extension("follow.log")).unwrap());
    Proc::spawn("litestream restore -f", command)
}

/// blogd alone (a replica).
fn serve(host: &Host) -> Served {
    let log = host.data.with_extension("serve.log");
    let mut command = blogd(&host.config, &host.data);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    wait_listening(Proc::spawn("blogd serve", command), log)
}

impl Served {
    fn admin_password(&self) -> String {
        crate::spawn::first_admin_password(&self.printed)
    }
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("an answer (the deadline guards against a hang)")
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn read(base: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    call(reqwest::Method::GET, format!("{base}{path}"), token, None).await
}

async fn login(base: &str, password: &str) -> String {
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"username": "admin", "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn publish(base: &str, token: &str, slug: &str) -> u16 {
    call(
        reqwest::Method::POST,
        format!("{base}/api/v1/posts"),
        Some(token),
        Some(json!({"title": slug, "slug": slug, "content": "x", "status": "published"})),
    )
    .await
    .0
}

/// The slugs of the posts in a database file, and its integrity check.
fn posts_in(db: &Path) -> (Vec<String>, String) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let mut slugs: Vec<String> = conn
        .prepare("SELECT slug FROM posts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    slugs.sort();
    (slugs, verdict)
}

/// `litestream restore` of the replica's newest state into `out`.
fn restore_latest(bin: &Path, host: &Host, out: &Path) {
    let output = try_restore_latest(bin, host, out);
    assert!(output.status.success(), "{output:?}");
}

fn try_restore_latest(bin: &Path, host: &Host, out: &Path) -> std::process::Output {
    let mut command = litestream(bin);
    command
        .arg("restore")
        .arg("-config")
        .arg(&host.yml)
        .arg("-o")
        .arg(out)
        .arg(host.db());
    run_to_end(command, None)
}

/// The slugs in the replica's newest state, once it has every one of `slugs` (a guard
/// against a hang: at most PATIENCE).
async fn replicated(bin: &Path, host: &Host, slugs: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let check = tempfile::tempdir().unwrap();
        let out = check.path().join("check.db");
        // (Nothing to restore yet is "not yet" too.)
        let restored = try_restore_latest(bin, host, &out);
        let found = if restored.status.success() {
            let (found, verdict) = posts_in(&out);
            assert_eq!(verdict, "ok");
            found
        } else {
            Vec::new()
        };
        if slugs.iter().all(|s| found.iter().any(|f| f == s)) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{slugs:?} did not reach the replica: {found:?} {restored:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Drops Litestream's tables from a backup and updates its manifest to match.
fn strip_litestream_tables(backup: &Path) {
    use sha2::Digest;
    let conn = rusqlite::Connection::open(backup).unwrap();
    conn.execute_batch(
        "DROP TABLE IF EXISTS _litestream_seq; DROP TABLE IF EXISTS _litestream_lock;",
    )
    .unwrap();
    drop(conn);
    let bytes = std::fs::read(backup).unwrap();
    let manifest = backup.with_extension("json");
    let mut info: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    info["sha256"] = json!(hex::encode(sha2::Sha256::digest(&bytes)));
    info["size"] = json!(bytes.len());
    std::fs::write(&manifest, serde_json::to_vec(&info).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_primary_loses_nothing_acknowledged_a_sync_interval_before() {
    let Some((bin, moto)) = tools() else { return };
    let storage = Storage::start(&moto).await;
    let host = Host::new(&storage, "litestream");
    let mut served = primary(&bin, &host);
    let token = login(&served.base, &served.admin_password()).await;

    // Four writers publish as fast as they are answered, each noting when each post was
    // acknowledged.
    let stop_at = Instant::now() + Duration::from_secs(5);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (base, token) = (served.base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0;
            while Instant::now() < stop_at {
                let slug = format!("w{w}-{n}");
                if publish(&base, &token, &slug).await == 201 {
                    acked.push((slug, Instant::now()));
                }
                n += 1;
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    // The host dies: blogd and Litestream at once, nothing flushed.
    let killed_at = Instant::now();
    served.proc.kill_hard();
    assert!(
        acked.len() > 20,
        "only {} writes were acknowledged",
        acked.len()
    );

    // A new host with an empty data directory restores itself before blogd starts.
    let fresh = Host::new(&storage, "litestream");
    let mut restored = primary(&bin, &fresh);
    let (status, list) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/authors/admin", restored.base),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    restored.proc.stop();
    let (slugs, verdict) = posts_in(&fresh.db());
    assert_eq!(verdict, "ok");
    let must_have: Vec<&String> = acked
        .iter()
        .filter(|(_, at)| killed_at.duration_since(*at) > SYNC + UPLOAD)
        .map(|(slug, _)| slug)
        .collect();
    assert!(
        must_have.len() > 10,
        "too few writes old enough to check: {}",
        must_have.len()
    );
    let lost: Vec<&&String> = must_have.iter().filter(|s| !slugs.contains(s)).collect();
    let window_lost = acked.len() - slugs.len().min(acked.len());
    eprintln!(
        "acknowledged {}, restored {}, lost within the last sync interval {window_lost}",
        acked.len(),
        slugs.len()
    );
    assert!(
        lost.is_empty(),
        "lost {} of {} writes acknowledged more than a sync interval and an upload before the kill: {lost:?}",
        lost.len(),
        must_have.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_point_in_time_restore_gets_the_first_write_and_not_the_second() {
    let Some((bin, moto)) = tools() else { return };
    let storage = Storage::start(&moto).await;
    let host = Host::new(&storage, "litestream");
    let served = primary(&bin, &host);
    let token = login(&served.base, &served.admin_password()).await;
    assert_eq!(publish(&served.base, &token, "first").await, 201);
    // The first write is in the replica; `between` is a whole second later (restore points
    // are whole seconds), and the second write comes after it.
    replicated(&bin, &host, &["first"]).await;
    let unix_now = || time::OffsetDateTime::now_utc().unix_timestamp();
    let between = unix_now() + 1;
    eventually("the clock past the restore point", || unix_now() > between).await;
    assert_eq!(publish(&served.base, &token, "second").await, 201);
    replicated(&bin, &host, &["first", "second"]).await;

    // Another host (same storage) restores the state between the two writes.
    let other = Host::new(&storage, "off");
    let at = blogd::clock::rfc3339(between);
    // blogd runs litestream, which takes the storage's keys from the environment.
    let restore = |at: Option<&str>| {
        let mut command = blogd(&other.config, &other.data);
        command
            .env("LITESTREAM_ACCESS_KEY_ID", "test")
            .env("LITESTREAM_SECRET_ACCESS_KEY", "test")
            .args(["restore", "--from-replica", "--yes"]);
        if let Some(at) = at {
            command.args(["--at", at]);
        }
        run_to_end(command, None)
    };
    let output = restore(Some(&at));
    assert!(output.status.success(), "{output:?}");
    let (slugs, verdict) = posts_in(&other.db());
    assert_eq!(verdict, "ok");
    assert_eq!(slugs, ["first"], "restored at {at}");
    // Without --at: the newest state, both.
    let output = restore(None);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(posts_in(&other.db()).0, ["first", "second"]);
    drop(served);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_serves_reads_refuses_writes_follows_revocations_and_shows_its_lag() {
    let Some((bin, moto)) = tools() else { return };
    let storage = Storage::start(&moto).await;
    let main = Host::new(&storage, "litestream");
    let served = primary(&bin, &main);
    let password = served.admin_password();
    let token = login(&served.base, &password).await;
    assert_eq!(publish(&served.base, &token, "before").await, 201);
    replicated(&bin, &main, &["before"]).await;

    let replica_host = Host::new(&storage, "replica");
    std::fs::copy(
        main.data.join("secrets.toml"),
        replica_host.data.join("secrets.toml"),
    )
    .unwrap();
    let _follow = follower(&bin, &replica_host);
    let replica = serve(&replica_host);
    assert_eq!(
        read(&replica.base, "/api/v1/posts/before", None).await.0,
        200
    );

    // A post published on the primary is served by the replica within a few seconds.
    let published = Instant::now();
    assert_eq!(publish(&served.base, &token, "after").await, 201);
    eventually_some("the replica serving the new post", async || {
        (read(&replica.base, "/api/v1/posts/after", None).await.0 == 200).then_some(())
    })
    .await;
    eprintln!(
        "a new post reached the replica in {:?}",
        published.elapsed()
    );
    // The list (from the response cache) has it too.
    let (_, list) = read(&replica.base, "/api/v1/posts", None).await;
    assert!(list.to_string().contains("\"after\""), "{list}");

    // Writes: the documented refusal, naming the primary; nothing changes.
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/posts", replica.base),
        Some(&token),
        Some(json!({"title": "nope", "content": "x"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("read_only_replica")),
        "{body}"
    );
    assert_eq!(body["details"]["primary"], "https://primary.example");
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", replica.base),
        None,
        Some(json!({"username": "admin", "password": password})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("read_only_replica"))
    );

    // A token verifies on the replica until it is revoked on the primary.
    let second = login(&served.base, &password).await;
    eventually_some("the new session on the replica", async || {
        (read(&replica.base, "/api/v1/auth/me", Some(&second))
            .await
            .0
            == 200)
            .then_some(())
    })
    .await;
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/logout", served.base),
        Some(&second),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 204);
    let revoked = Instant::now();
    let body = eventually_some("the revocation on the replica", async || {
        let (status, body) = read(&replica.base, "/api/v1/auth/me", Some(&second)).await;
        (status == 401).then_some(body)
    })
    .await;
    assert_eq!(body["code"], "token_revoked");
    eprintln!(
        "a revocation reached the replica in {:?}",
        revoked.elapsed()
    );

    // Lag in health and metrics.
    let (status, health) = read(&replica.base, "/api/healthcheck", None).await;
    assert_eq!(status, 200, "{health}");
    let replication = &health["checks"]["replication"];
    assert_eq!(replication["mode"], "replica");
    let lag = replication["lag_seconds"].as_f64().expect("a measured lag");
    assert!(lag >= 0.0, "{replication}");
    eprintln!("replica lag reported: {lag} s");
    let (_, metrics) = read(&replica.base, "/metrics", None).await;
    assert!(
        metrics
            .as_str()
            .unwrap_or("")
            .contains("blogd_replication_lag_seconds"),
        "{metrics}"
    );
    assert_eq!(read(&replica.base, "/readyz", None).await.0, 200);
    // The replica wrote nothing of its own into the follower file.
    assert_eq!(posts_in(&replica_host.db()).1, "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_under_litestream_keeps_it_replicating_and_stops_are_quick() {
    let Some((bin, moto)) = tools() else { return };
    let storage = Storage::start(&moto).await;
    // (At debug level its log says how it leaves the WAL at shutdown.)
    let host = Host::with(&storage, "litestream", "[log]\nlevel = \"debug\"\n");
    let mut served = primary(&bin, &host);
    let token = login(&served.base, &served.admin_password()).await;
    assert_eq!(publish(&served.base, &token, "kept").await, 201);
    let mut command = blogd(&host.config, &host.data);
    command.args(["backup", "now"]);
    let output = run_to_end(command, None);
    assert!(output.status.success(), "{output:?}");
    let backup = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    // As if the backup had been made before Litestream ran: without its tables (a restore
    // of such a file is what broke Litestream).
    strip_litestream_tables(&host.data.join("backups").join(&backup));
    assert_eq!(publish(&served.base, &token, "undone").await, 201);
    replicated(&bin, &host, &["kept", "undone"]).await;
    let log_before = std::fs::metadata(&served.log).unwrap().len();

    let mut command = blogd(&host.config, &host.data);
    command.args(["restore", &backup, "--yes"]);
    let output = run_to_end(command, None);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(publish(&served.base, &token, "after-restore").await, 201);
    // Writes keep coming after the restore, spread over a few sync intervals (the shape of
    // the load, not a wait for anything); Litestream must keep up with them.
    let mut expected = vec!["kept".to_string(), "after-restore".to_string()];
    for n in 0..10 {
        let slug = format!("more-{n}");
        assert_eq!(publish(&served.base, &token, &slug).await, 201);
        expected.push(slug);
        tokio::time::sleep(SYNC / 4).await;
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    replicated(&bin, &host, &expected).await;

    let mut log = String::new();
    std::fs::File::open(&served.log)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let since: String = log.chars().skip(log_before as usize).collect();
    let errors: Vec<&str> = since
        .lines()
        .filter(|l| l.contains("level=ERROR") || l.contains("sync error"))
        .collect();
    assert!(
        errors.is_empty(),
        "Litestream failed after the restore:\n{}",
        errors.join("\n")
    );
    let wal = std::fs::metadata(host.data.join("blogd.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(wal < 16 << 20, "the WAL grew to {wal} bytes");

    // The replica's copy equals the restored data (plus what came after).
    let check = tempfile::tempdir().unwrap();
    let out = check.path().join("check.db");
    restore_latest(&bin, &host, &out);
    let (replicated, verdict) = posts_in(&out);
    assert_eq!(verdict, "ok");
    let (live, _) = posts_in(&host.db());
    assert_eq!(replicated, live);
    assert!(
        replicated.contains(&"kept".to_string()) && !replicated.contains(&"undone".to_string())
    );

    // Stopping blogd under Litestream is quick: it leaves the WAL to Litestream instead of
    // a TRUNCATE checkpoint that would wait out the busy timeout on Litestream's read lock.
    // (That is what is checked; the time is printed, a figure for bench/, not judged here.)
    let took = served.proc.stop();
    eprintln!("blogd under Litestream stopped in {took:?}");
    let stopped = std::fs::read_to_string(host.data.join("logs").join("app.log")).unwrap();
    assert!(
        stopped.contains("checkpoint left to Litestream"),
        "blogd checkpointed the WAL itself at shutdown"
    );
    assert!(
        !stopped.contains("WAL checkpoint at shutdown failed"),
        "{stopped}"
    );
    assert!(
        stopped.contains("\"stopped\""),
        "blogd did not stop cleanly"
    );
}
