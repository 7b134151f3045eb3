//! Test fixture: a running server and helpers to act as each role.

use std::sync::atomic::{AtomicUsize, Ordering};

use blogd::app::AppState;
use blogd::auth::Role;
use blogd::config::{self, Overrides};
use blogd::db::users;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct-horse-battery-staple";

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub first_admin_password: Option<String>,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What one request returned.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `code` of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

static USER_SEQ: AtomicUsize = AtomicUsize::new(0);

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(&[]).await
    }

    /// Starts a server with extra `BLOGD_*` settings.
    pub async fn start_with(env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::start_in(dir, env).await
    }

    /// Starts a server on an existing data directory (for restart tests).
    pub async fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> TestServer {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info")
                .with_test_writer()
                .try_init();
        }
        let mut vars: Vec<(String, String)> = vec![
            (
                "BLOGD_STORAGE_DATA_DIR".into(),
                dir.path().display().to_string(),
            ),
            ("BLOGD_SERVER_LISTEN".into(), "127.0.0.1:0".into()),
            // Inside the data directory, whatever $RUNTIME_DIRECTORY the test process has.
            (
                "BLOGD_ADMIN_SOCKET".into(),
                dir.path().join("admin.sock").display().to_string(),
            ),
            // Plain HTTP unless a test is about TLS (it then sets BLOGD_TLS_ENABLED=true).
            ("BLOGD_TLS_ENABLED".into(), "false".into()),
            // Tests talk from loopback a lot; throttling tests clear this (BLOGD_THROTTLE_ALLOW="").
            ("BLOGD_THROTTLE_ALLOW".into(), "127.0.0.0/8,::1/128".into()),
            // No first-start backup racing the tests that count backups; the schedule's own
            // test turns it on.
            ("BLOGD_BACKUP_EVERY".into(), "off".into()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = config::load(None, vars, &Overrides::default()).unwrap();
        let mut prepared = blogd::server::prepare(config)
            .await
            .unwrap()
            .without_alert_loop();
        let first_admin = prepared.take_first_admin();
        // The build machine's own disk must not decide health answers (a nearly full disk
        // makes the server rightly "degraded"); tests about the disk set their own probe, and
        // the real statvfs probe has its unit test.
        prepared
            .state()
            .set_disk_probe(std::sync::Arc::new(blogd::ops::health::FixedDisk(0.5)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let running = prepared
            .launch(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        let state = running.state.clone();
        let task = tokio::spawn(async move { running.finished().await.unwrap() });
        TestServer {
            base,
            state,
            client: reqwest::Client::new(),
            first_admin_password: first_admin.map(|a| a.password),
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and hands back its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.unwrap()).await
    }

    /// The body of an anonymous GET as text (pages, metrics, feeds).
    pub async fn text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// The OpenAPI document the server serves.
    pub async fn openapi(&self) -> Value {
        let response = self
            .client
            .get(self.url("/api/schema"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Creates a user directly in the database (as `blogd user create` does); returns the username.
    pub async fn create_user(&self, role: Role) -> String {
        let n = USER_SEQ.fetch_add(1, Ordering::Relaxed);
        let username = format!("{}{n}", role.as_str());
        let new = users::NewUser {
            username: username.clone(),
            email: format!("{username}@example.com"),
            display_name: format!("The {username}"),
            password_hash: blogd::auth::password::hash_blocking(PASSWORD).unwrap(),
            role,
        };
        let now = self.state.clock.now();
        self.state
            .db
            .write(move |tx| users::insert(tx, &new, now))
            .await
            .unwrap();
        username
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// A new user of `role`, signed in: (username, access token).
    pub async fn user_with_token(&self, role: Role) -> (String, String) {
        let username = self.create_user(role).await;
        let reply = self.login(&username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "login failed: {}", reply.body);
        let token = reply.body["access_token"].as_str().unwrap().to_string();
        (username, token)
    }

    pub async fn token(&self, role: Role) -> String {
        self.user_with_token(role).await.1
    }

    /// Creates a post and returns its JSON; panics unless 201.
    pub async fn create_post(&self, token: &str, body: Value) -> Value {
        let reply = self.post("/api/v1/posts", Some(token), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    pub async fn create_category(&self, token: &str, name: &str) -> Value {
        let reply = self
            .post("/api/v1/categories", Some(token), json!({"name": name}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Slugs of a list reply's results, in order.
pub fn slugs(reply: &Reply) -> Vec<String> {
    reply.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", reply.body))
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_string())
        .collect()
}

impl TestServer {
    /// Waits (briefly) until a security event of `kind` is stored; returns its details.
    pub async fn wait_for_event(
        &self,
        kind: &str,
    ) -> Option<(Option<String>, Option<String>, String)> {
        for _ in 0..100 {
            let k = kind.to_string();
            let found = self
                .state
                .db
                .read(move |c| {
                    Ok(rusqlite::OptionalExtension::optional(c.query_row(
                        "SELECT ip, username, detail FROM security_events WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
                        [k],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    ))?)
                })
                .await
                .unwrap();
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// Signs in and returns the whole token pair.
    pub async fn login_pair(&self, username: &str) -> (String, String) {
        let reply = self.login(username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (
            reply.body["access_token"].as_str().unwrap().to_string(),
            reply.body["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

impl TestServer {
    /// The server's address as an https:// URL (for servers started with TLS on).
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A client that trusts only the server's local root CA.
    pub fn tls_client(&self) -> reqwest::Client {
        let root = std::fs::read(self.dir.path().join("tls/root.pem")).unwrap();
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&root).unwrap())
            .build()
            .unwrap()
    }
}

/// The `blogd` binary, for a command on the data directory `dir`: a clean environment (no
/// stray `BLOGD_*` or `RUNTIME_DIRECTORY` of the caller) and an explicit, empty configuration
/// file, so neither the caller's shell nor an installed `/etc/blogd/blogd.toml` changes what
/// is tested.
pub fn blogd_command(dir: &std::path::Path) -> std::process::Command {
    // Beside the data directory, not in it: a first start must find no directory there.
    let config = dir.with_extension("blogd-test.toml");
    if !config.exists() {
        std::fs::write(&config, "# tests: defaults only\n").unwrap();
    }
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_blogd"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir);
    command
}

/// Runs a `blogd` command on `dir` to its end (with a deadline: a hung command fails the test
/// instead of hanging the suite).
pub async fn blogd_run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::from(blogd_command(dir));
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("blogd {args:?} did not finish within 60 s"))
        .unwrap()
}

/// A real `blogd serve` process on a data directory (plain HTTP on a free loopback port
/// unless `env` says otherwise), stopped (SIGTERM, then SIGKILL) when dropped, so a failed
/// assertion never leaves it running.
pub struct SpawnedServer {
    pub child: Option<std::process::Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// What it printed before it listened (the first admin's password, say).
    pub printed: Vec<String>,
}

impl SpawnedServer {
    /// Starts it with `umask` (when given) and extra `BLOGD_*` settings; waits until it
    /// listens (at most a minute).
    pub fn start(dir: &std::path::Path, env: &[(&str, &str)], umask: Option<u32>) -> SpawnedServer {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut command = blogd_command(dir);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("BLOGD_TLS_ENABLED", "false")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if let Some(mask) = umask {
            // SAFETY: umask is async-signal-safe and touches nothing but the child's mask.
            unsafe {
                command.pre_exec(move || {
                    libc::umask(mask as libc::mode_t);
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
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
        let mut server = SpawnedServer {
            child: Some(child),
            base: String::new(),
            printed: Vec::new(),
        };
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(Some((base, printed))) => {
                server.base = base;
                server.printed = printed;
                server
            }
            other => panic!("blogd serve did not start listening: {other:?}"),
        }
    }

    /// The first admin's one-time password, from what the first start printed.
    pub fn admin_password(&self) -> String {
        self.printed
            .iter()
            .find_map(|l| l.trim().strip_prefix("password: "))
            .expect("a first start prints the admin password")
            .to_string()
    }

    /// Stops it with SIGTERM and waits (a clean shutdown); returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        // SAFETY: sending a signal to our own child has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
