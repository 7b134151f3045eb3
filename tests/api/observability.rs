//! Health, metrics, analytics and the revalidation webhook.

use std::sync::{Arc, Mutex};

use blogd::auth::Role;
use blogd::ops::health::FixedDisk;
use blogd::ops::webhooks::signature;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{SpawnedServer, TestServer, eventually, eventually_some, sample};

#[tokio::test]
async fn healthcheck_reports_each_check_and_degrades_with_the_disk() {
    let server = TestServer::start().await;
    let r = server.get("/api/healthcheck", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "healthy");
    let checks = &r.body["checks"];
    assert!(checks["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        checks["backups"]["status"], "none",
        "a fresh install with no backup is healthy"
    );
    assert!(checks["uptime"]["seconds"].is_u64() && checks["uptime"]["human"].is_string());
    assert_eq!(checks["webhooks"]["failed"], 0);
    assert_eq!(checks["tls"]["enabled"], false);
    assert!(r.body["timestamp"].is_string() && r.body["version"].is_string());
    let text = r.body.to_string();
    assert!(
        !text.contains(&server.dir.path().display().to_string()),
        "no paths in the health check"
    );

    server.state.set_disk_probe(Arc::new(FixedDisk(0.05)));
    let degraded = server.get("/api/healthcheck", None).await;
    assert_eq!(degraded.status, StatusCode::OK);
    assert_eq!(degraded.body["status"], "degraded");
    assert_eq!(degraded.body["checks"]["disk"]["data_free_percent"], 5.0);
    assert_eq!(
        server.get("/readyz", None).await.status,
        StatusCode::OK,
        "degraded is still ready"
    );

    server.state.set_disk_probe(Arc::new(FixedDisk(0.01)));
    let full = server.get("/api/healthcheck", None).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(full.body["status"], "unhealthy");
    let ready = server.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["reason"], "disk");

    server.state.set_disk_probe(Arc::new(FixedDisk(0.5)));
    let conn = rusqlite::Connection::open(server.state.db.path()).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    let broken = server.get("/api/healthcheck", None).await;
    assert_eq!(broken.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(broken.body["checks"]["database"]["status"], "unhealthy");
}

#[tokio::test]
async fn metrics_are_for_allowed_addresses_or_the_token_and_labels_stay_bounded() {
    // A process of its own: the metrics registry is process-wide, and the other servers of
    // this test binary fill the one they share; this one counts this test's requests only.
    let dir = tempfile::tempdir().unwrap();
    let open = SpawnedServer::start(
        &dir.path().join("data"),
        &[("BLOGD_THROTTLE_ALLOW", "127.0.0.0/8")],
        None,
    );
    let client = reqwest::Client::new();
    let scrape = async || {
        let r = client
            .get(format!("{}/metrics", open.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        r.text().await.unwrap()
    };
    let unmatched = [
        ("route", "(unmatched)"),
        ("method", "GET"),
        ("status", "404"),
    ];
    let probes = [("kind", "suspicious_request")];
    let before = scrape().await;
    let get = async |path: String| {
        let r = client
            .get(format!("{}{path}", open.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    };
    get("/.env".into()).await; // one security event
    for i in 0..1000 {
        get(format!("/nope-{i}/x")).await;
    }
    let text = scrape().await;
    assert_eq!(
        sample(&text, "http_requests_total", &unmatched)
            - sample(&before, "http_requests_total", &unmatched),
        1001.0,
        "every unmatched request counted under one label"
    );
    assert_eq!(
        sample(&text, "security_events_total", &probes)
            - sample(&before, "security_events_total", &probes),
        1.0
    );
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "db_query_duration_seconds",
        "security_events_total",
        "blogd_build_info",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(!text.contains("nope-"), "raw paths never become labels");
    let routes: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .collect();
    assert!(routes.contains("(unmatched)"));
    assert!(
        routes.len() < 60,
        "bounded by the route templates: {routes:?}"
    );

    let token = "metrics-token-3f9c2a7b5d1e8f4a6c0b9d2e7f1a3c5b";
    let closed = TestServer::start_with(&[
        ("BLOGD_METRICS_ALLOW", "10.0.0.0/8"),
        ("BLOGD_METRICS_TOKEN", token),
    ])
    .await;
    let refused = closed.get("/metrics", None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(
        closed
            .get("/metrics", Some("wrong-token-0000000000000000000000"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let with_token = closed
        .client
        .get(closed.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
}

fn analytics_secret(server: &TestServer) -> String {
    server.state.shared_secrets().analytics.current.clone()
}

async fn send_view(
    server: &TestServer,
    body: &Value,
    signature_header: Option<String>,
) -> crate::common::Reply {
    let raw = body.to_string();
    let mut req = server
        .client
        .post(server.url("/api/v1/analytics/pageview"))
        .header("content-type", "application/json")
        .body(raw);
    if let Some(sig) = signature_header {
        req = req.header("x-signature", sig);
    }
    crate::common::reply(req.send().await.unwrap()).await
}

async fn stored_views(server: &TestServer) -> i64 {
    server
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM pageviews", [], |r| r.get(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn pageviews_need_a_valid_signature() {
    let server = TestServer::start().await;
    let secret = analytics_secret(&server);
    let body = json!({"path": "/blog/hello", "referrer": "https://news.example/item?id=42"});
    let good = signature(&secret, body.to_string().as_bytes());

    let ok = send_view(&server, &body, Some(good.clone())).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.body);
    for (what, sig) in [
        ("missing", None),
        (
            "wrong",
            Some(signature("not-the-secret", body.to_string().as_bytes())),
        ),
        ("truncated", Some(good[..good.len() - 4].to_string())),
        (
            "other body",
            Some(signature(&secret, b"{\"path\":\"/other\"}")),
        ),
        ("not hex", Some("sha256=zzzz".to_string())),
    ] {
        let r = send_view(&server, &body, sig).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(r.code(), "invalid_signature", "{what}");
    }
    server.wait_for_event("invalid_signature").await;

    // Signed garbage is still validated.
    let bad_body = json!({"path": "no-slash"});
    let r = send_view(
        &server,
        &bad_body,
        Some(signature(&secret, bad_body.to_string().as_bytes())),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // After a rotation the previous secret works for the grace period, then not.
    blogd::secrets::rotate_shared(
        &server.dir.path().join("secrets.toml"),
        blogd::secrets::Shared::Analytics,
        server.state.clock.now(),
        86_400,
    )
    .unwrap();
    server.state.reload_keys().unwrap();
    assert_ne!(analytics_secret(&server), secret);
    assert_eq!(
        send_view(&server, &body, Some(good.clone())).await.status,
        StatusCode::ACCEPTED,
        "previous secret in its grace period"
    );
    server.state.clock.advance(86_401);
    assert_eq!(
        send_view(&server, &body, Some(good)).await.status,
        StatusCode::FORBIDDEN,
        "not after it"
    );

    // Accepted views are written in batches.
    eventually_some("two views stored", async || {
        (stored_views(&server).await >= 2).then_some(())
    })
    .await;
    assert_eq!(stored_views(&server).await, 2);
    let referrer: String = server
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT referrer FROM pageviews LIMIT 1", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(
        referrer, "https://news.example",
        "only the referrer's origin is kept"
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_and_loses_nothing_accepted() {
    let server = TestServer::start_with(&[("BLOGD_ANALYTICS_QUEUE_SIZE", "5")]).await;
    let secret = analytics_secret(&server);
    // Another process holds the write lock, so the writer cannot drain for now.
    let blocker = rusqlite::Connection::open(server.state.db.path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..40 {
        let body = json!({"path": format!("/p/{i}")});
        match send_view(
            &server,
            &body,
            Some(signature(&secret, body.to_string().as_bytes())),
        )
        .await
        .status
        {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::SERVICE_UNAVAILABLE => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0, "a full queue refuses instead of growing");
    assert!(accepted >= 5);
    blocker.execute_batch("COMMIT").unwrap();
    eventually_some("the accepted views stored", async || {
        (stored_views(&server).await >= accepted).then_some(())
    })
    .await;
    assert_eq!(
        stored_views(&server).await,
        accepted,
        "every accepted view is written once the lock is gone"
    );
}

#[tokio::test]
async fn the_summary_is_for_editors() {
    let server = TestServer::start().await;
    let secret = analytics_secret(&server);
    for (path, n) in [("/blog/alpha", 3), ("/blog/beta", 1), ("/about", 2)] {
        for _ in 0..n {
            let body = json!({"path": path, "referrer": "https://search.example/?q=x"});
            send_view(
                &server,
                &body,
                Some(signature(&secret, body.to_string().as_bytes())),
            )
            .await;
        }
    }
    eventually_some("six views stored", async || {
        (stored_views(&server).await >= 6).then_some(())
    })
    .await;
    let editor = server.token(Role::Editor).await;
    let s = server
        .get("/api/v1/analytics/summary?days=7", Some(&editor))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["total_views"], 6);
    assert_eq!(
        s.body["posts"],
        json!([{"slug": "alpha", "views": 3}, {"slug": "beta", "views": 1}])
    );
    assert_eq!(
        s.body["referrers"][0],
        json!({"referrer": "https://search.example", "views": 6})
    );
    assert_eq!(
        s.body["daily"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["views"].as_i64().unwrap())
            .sum::<i64>(),
        6
    );
    let reader = server.token(Role::Reader).await;
    assert_eq!(
        server
            .get("/api/v1/analytics/summary", Some(&reader))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .get("/api/v1/analytics/summary?days=0", Some(&editor))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

/// A webhook receiver on loopback that fails its first `failures` requests.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(String, String, StatusCode)>>>,
}

async fn receiver(failures: usize) -> Receiver {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<(String, String, StatusCode)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/revalidate",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                let status = if log.len() < failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                };
                let sig = headers
                    .get("x-signature")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                log.push((body, sig, status));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/revalidate", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, seen }
}

/// The revalidation delivery of `slug`: (attempts, status, next_attempt_at).
async fn outbox_row(server: &TestServer, slug: &'static str) -> (i64, String, i64) {
    server
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT attempts, status, next_attempt_at FROM webhook_outbox WHERE slug = ?1",
                [slug],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .unwrap()
}

/// Whether the outbox worker would send anything now (the query it runs each round).
async fn anything_due(server: &TestServer) -> bool {
    let now = server.state.clock.now();
    !server
        .state
        .db
        .read(move |c| blogd::db::outbox::due(c, now))
        .await
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn webhooks_retry_with_backoff_until_one_delivery_succeeds() {
    let rx = receiver(2).await;
    let server = TestServer::start_with(&[("BLOGD_WEBHOOKS_REVALIDATE_URL", &rx.url)]).await;
    let author = server.token(Role::Author).await;
    server
        .create_post(
            &author,
            json!({"title": "Hooked", "content": "x", "status": "published"}),
        )
        .await;
    server
        .create_post(&author, json!({"title": "Draft only", "content": "x"}))
        .await;
    let seen = |n: usize| rx.seen.lock().unwrap().len() >= n;

    // Each failure is recorded (and its next time computed) just after the receiver answers;
    // wait for that before looking at the schedule or moving the clock.
    let recorded = async |n: i64| {
        eventually_some("the attempt recorded", async || {
            let (attempts, status, next) = outbox_row(&server, "hooked").await;
            (attempts >= n).then_some((attempts, status, next))
        })
        .await
    };
    eventually("the first attempt, right away", || seen(1)).await;
    let (attempts, status, next) = recorded(1).await;
    assert_eq!((attempts, status.as_str()), (1, "pending"));
    let wait = next - server.state.clock.now();
    assert!((1..=60).contains(&wait), "retried 60 s later: {wait}");
    assert!(!anything_due(&server).await, "nothing before then");
    server.state.clock.advance(61);
    assert!(anything_due(&server).await);
    eventually("the second attempt, after 60 s", || seen(2)).await;
    let (attempts, _, next) = recorded(2).await;
    assert_eq!(attempts, 2);
    // The backoff doubles: not before 120 s more (the real seconds of this test are in
    // `now`, so the rest is between 60 and 120).
    let wait = next - server.state.clock.now();
    assert!((61..=120).contains(&wait), "retried 120 s later: {wait}");
    server.state.clock.advance(60);
    assert!(!anything_due(&server).await, "not before 120 s more");
    assert_eq!(rx.seen.lock().unwrap().len(), 2);
    server.state.clock.advance(61);
    assert!(anything_due(&server).await);
    eventually("the third attempt, after 120 s", || seen(3)).await;
    // Delivered, once: marked so, and never due again.
    eventually_some("the delivery recorded", async || {
        (outbox_row(&server, "hooked").await.1 == "delivered").then_some(())
    })
    .await;
    server.state.clock.advance(365 * 86_400);
    assert!(!anything_due(&server).await, "never sent again");
    server.state.clock.advance(-365 * 86_400);

    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "delivered once, then never again");
    assert_eq!(
        seen.iter().filter(|(_, _, s)| *s == StatusCode::OK).count(),
        1
    );
    let (body, sig, _) = &seen[2];
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        payload,
        json!({"event": "post.published", "slug": "hooked", "path": "/blog/hooked"})
    );
    let secret = server.state.shared_secrets().revalidate.current.clone();
    assert_eq!(
        sig,
        &signature(&secret, body.as_bytes()),
        "the signature verifies with the revalidate secret"
    );
    let health = server.get("/api/healthcheck", None).await;
    assert_eq!(health.body["checks"]["webhooks"]["pending"], 0);

    // Changing and deleting the published post announce it too; the draft never did.
    let editor = server.token(Role::Editor).await;
    server
        .patch(
            "/api/v1/posts/hooked",
            Some(&editor),
            json!({"title": "Hooked again"}),
        )
        .await;
    server.delete("/api/v1/posts/hooked", Some(&editor)).await;
    eventually("the update and the deletion announced", || {
        rx.seen.lock().unwrap().len() >= 5
    })
    .await;
    let events: Vec<String> = rx
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(b, _, _)| {
            serde_json::from_str::<Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(events[3..], ["post.updated", "post.deleted"]);
}

#[tokio::test]
async fn a_pending_webhook_survives_a_restart() {
    // A port of our own on which nothing listens at first: bound, not listening, so a
    // connection is refused and nobody else can take the port meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/revalidate", socket.local_addr().unwrap());
    let server = TestServer::start_with(&[("BLOGD_WEBHOOKS_REVALIDATE_URL", &url)]).await;
    let author = server.token(Role::Author).await;
    server
        .create_post(
            &author,
            json!({"title": "Survivor", "content": "x", "status": "published"}),
        )
        .await;
    let (attempts, status, _) = eventually_some("the first attempt recorded", async || {
        let row = outbox_row(&server, "survivor").await;
        (row.0 >= 1).then_some(row)
    })
    .await;
    assert_eq!(
        (attempts, status.as_str()),
        (1, "pending"),
        "tried once and failed"
    );
    let dir = server.stop().await;

    // The receiver comes up on that port; a new server process finds the delivery and sends it.
    let listener = socket.listen(64).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/revalidate",
        axum::routing::post(move |body: String| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let again = TestServer::start_in(dir, &[("BLOGD_WEBHOOKS_REVALIDATE_URL", &url)]).await;
    again.state.clock.advance(61);
    eventually("delivered after the restart", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    assert!(seen.lock().unwrap()[0].contains("survivor"));
}

#[tokio::test]
async fn sigterm_with_ten_thousand_queued_views_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
    let mut server = SpawnedServer::start(
        &data,
        &[
            ("BLOGD_LOG_STDOUT", "false"),
            ("BLOGD_THROTTLE_ALLOW", "127.0.0.0/8"),
            ("BLOGD_ANALYTICS_SECRET", secret),
            ("BLOGD_ANALYTICS_QUEUE_SIZE", "20000"),
        ],
        None,
    );
    let base = server.base.clone();
    // Hold the write lock so the views pile up in the queue.
    let blocker = rusqlite::Connection::open(data.join("blogd.db")).unwrap();
    blocker.busy_timeout(crate::common::PATIENCE).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut accepted = 0u32;
                for i in 0..625 {
                    let body = json!({"path": format!("/blog/p{t}-{i}")}).to_string();
                    let r = client
                        .post(format!("{base}/api/v1/analytics/pageview"))
                        .header("content-type", "text/plain;charset=UTF-8")
                        .header("x-signature", signature(secret, body.as_bytes()))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    if r.status() == StatusCode::ACCEPTED {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    assert_eq!(accepted, 10_000);
    server.terminate();
    // It is shutting down, the views still queued behind the lock, once it has stopped
    // accepting connections.
    let address = base.trim_start_matches("http://").to_string();
    eventually("the listener closed", || {
        std::net::TcpStream::connect(&address).is_err()
    })
    .await;
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);
    let status = server.wait_exit();
    assert!(status.success(), "clean exit: {status:?}");
    let conn = rusqlite::Connection::open(data.join("blogd.db")).unwrap();
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM pageviews", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored, 10_000,
        "every accepted view is in the database after shutdown"
    );
    let wal = std::fs::metadata(data.join("blogd.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0, "the WAL was checkpointed at shutdown");
}

#[tokio::test]
async fn server_errors_reach_a_sentry_compatible_receiver_without_request_data() {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/api/42/envelope/",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("x-sentry-auth")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    log.lock()
                        .unwrap()
                        .push((auth, String::from_utf8_lossy(&body).into_owned()));
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dsn = format!("http://publickey123@{}/42", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = SpawnedServer::start(
        &data,
        &[
            ("BLOGD_LOG_STDOUT", "false"),
            ("BLOGD_SENTRY_DSN", &dsn),
            // A critical alert is logged at error level and so reaches Sentry too; the build
            // machine's own disk and memory must not add reports to the one this test causes.
            ("BLOGD_ALERTS_RULES_DISK_CRITICAL_ENABLED", "false"),
            ("BLOGD_ALERTS_RULES_DISK_LOW_ENABLED", "false"),
            ("BLOGD_ALERTS_RULES_MEMORY_HIGH_ENABLED", "false"),
        ],
        None,
    );
    let base = server.base.clone();
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing is sent while nothing fails"
    );
    rusqlite::Connection::open(data.join("blogd.db"))
        .unwrap()
        .execute_batch("DROP TABLE tags")
        .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/tags?q=very-private-query"))
        .header("authorization", "Bearer secret-token-value-xyz")
        .header("cookie", "session=cookie-value-xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    eventually("the 500 reported", || !seen.lock().unwrap().is_empty()).await;
    drop(server);
    let (auth, envelope) = seen.lock().unwrap()[0].clone();
    assert!(auth.contains("sentry_key=publickey123"), "{auth}");
    assert!(envelope.contains("internal error"), "{envelope}");
    for secret in [
        "secret-token-value-xyz",
        "cookie-value-xyz",
        "very-private-query",
        "authorization",
    ] {
        assert!(
            !envelope.to_lowercase().contains(secret),
            "{secret} reached the error report"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_health_checks_do_not_trip_over_each_other() {
    // Found by the benchmark: checks sharing one marker file deleted each other's and
    // answered 503 "not writable" under load.
    let server = TestServer::start().await;
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let (client, url) = (server.client.clone(), server.url("/api/healthcheck"));
        checks.spawn(async move { client.get(url).send().await.unwrap().status().as_u16() });
    }
    let statuses = checks.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let leftovers = std::fs::read_dir(server.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".health-write-check")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn a_signed_pageview_is_json_sent_as_json_or_plain_text_and_nothing_else() {
    let server = TestServer::start().await;
    let secret = analytics_secret(&server);
    let body = r#"{"path":"/blog/beacon"}"#;
    let send = |content_type: Option<&'static str>| {
        let mut req = server
            .client
            .post(server.url("/api/v1/analytics/pageview"))
            .header("x-signature", signature(&secret, body.as_bytes()))
            .body(body);
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        async move { crate::common::reply(req.send().await.unwrap()).await }
    };
    for accepted in ["application/json", "text/plain;charset=UTF-8"] {
        assert_eq!(
            send(Some(accepted)).await.status,
            StatusCode::ACCEPTED,
            "{accepted}"
        );
    }
    for refused in [
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let r = send(refused).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused:?}");
        assert_eq!(r.code(), "unsupported_media_type");
    }
}
