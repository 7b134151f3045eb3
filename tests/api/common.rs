//! Test fixture: a running server and helpers to act as each role.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use blogd::app::AppState;
use blogd::auth::Role;
use blogd::config::{self, Overrides};
use blogd::db::users;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use crate::spawn::{
    Reaped, SpawnedServer, blogd_command, blogd_run, blogd_run_blocking, finish, run_to_end,
};

pub const PASSWORD: &str = "correct-horse-battery-staple";

/// How long a test waits for something that happens at once or on the next round of a
/// background task (a log line written, a delivery made, a child process started). A guard
/// against a hang only, never a speed figure: a regression fails the test after it instead
/// of hanging the suite, and a slow, loaded machine still passes. (Speed figures live in
/// `bench/`.)
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `check` holds; fails the test naming `what` after [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `check` gives something, and returns it; fails the test naming `what` after
/// [`PATIENCE`].
pub async fn eventually_some<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestServer::start_on(listener, dir, env).await
    }

    /// Starts a server on a listener bound beforehand (when another program must be told
    /// the port first, like an ACME CA that connects back to it).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
    ) -> TestServer {
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

/// The sum of the samples of `name` whose labels include every one of `labels`, in a
/// Prometheus text exposition (0 when there is none).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (series, value) = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels
                .iter()
                .all(|(k, v)| series.split(',').any(|pair| pair == format!("{k}=\"{v}\"")))
                .then(|| value.trim().parse::<f64>().unwrap())
        })
        .sum()
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

/// A stored security event: (ip, username, detail).
pub type Event = (Option<String>, Option<String>, String);

impl TestServer {
    /// The newest stored security event of `kind`; waits for one (at most [`PATIENCE`], then
    /// the test fails).
    pub async fn wait_for_event(&self, kind: &str) -> Event {
        self.wait_for_event_where(kind, |_| true).await
    }

    /// The newest stored security event of `kind` that `matches`; waits for one (at most
    /// [`PATIENCE`], then the test fails).
    pub async fn wait_for_event_where(
        &self,
        kind: &str,
        matches: impl Fn(&Event) -> bool,
    ) -> Event {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let k = kind.to_string();
            let events: Vec<Event> = self
                .state
                .db
                .read(move |c| {
                    let mut stmt = c.prepare(
                        "SELECT ip, username, detail FROM security_events WHERE kind = ?1 ORDER BY id DESC",
                    )?;
                    let rows = stmt.query_map([k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    Ok(rows.collect::<Result<Vec<Event>, _>>()?)
                })
                .await
                .unwrap();
            if let Some(found) = events.into_iter().find(|e| matches(e)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} security event as expected within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
