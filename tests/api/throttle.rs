//! Throttling and bans, through real HTTP: exact limits (also under concurrency), headers,
//! windows, the allow-list, and bans that start, escalate, expire and can be lifted.

use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestServer};

/// No allow-list, so loopback counts like anyone.
const NO_ALLOW: (&str, &str) = ("BLOGD_THROTTLE_ALLOW", "");

fn header(r: &crate::common::Reply, name: &str) -> Option<u64> {
    r.header(name).map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} is a plain integer: {v}"))
    })
}

#[tokio::test]
async fn anonymous_reads_are_limited_exactly_with_headers() {
    let server =
        TestServer::start_with(&[NO_ALLOW, ("BLOGD_THROTTLE_ANONYMOUS", "5/minute")]).await;
    for i in 0..5 {
        let r = server.get("/api/v1/posts", None).await;
        assert_eq!(r.status, StatusCode::OK, "request {}", i + 1);
        assert_eq!(header(&r, "ratelimit-limit"), Some(5));
        assert_eq!(header(&r, "ratelimit-remaining"), Some(4 - i));
        assert!(header(&r, "ratelimit-reset").unwrap() <= 12);
    }
    let refused = server.get("/api/v1/posts", None).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the 6th, not the 7th"
    );
    assert_eq!(refused.code(), "throttled");
    let retry = header(&refused, "retry-after").unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(refused.body["retry_after"], retry);
    assert_eq!(header(&refused, "ratelimit-remaining"), Some(0));
    // Probes are never throttled.
    for _ in 0..10 {
        assert_eq!(server.get("/healthz", None).await.status, StatusCode::OK);
        assert_eq!(server.get("/readyz", None).await.status, StatusCode::OK);
    }
    // The window frees slots again (injectable clock, no sleeping).
    server.state.clock.advance(61);
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn exact_under_eight_concurrent_clients() {
    let server =
        TestServer::start_with(&[NO_ALLOW, ("BLOGD_THROTTLE_ANONYMOUS", "20/minute")]).await;
    let url = server.url("/api/v1/tags");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = reqwest::Client::new();
            let url = url.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..5 {
                    if client.get(&url).send().await.unwrap().status() == StatusCode::OK {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    assert_eq!(
        admitted, 20,
        "40 concurrent requests admit exactly the limit"
    );
}

#[tokio::test]
async fn signed_in_users_have_their_own_budget_and_writes_count_separately() {
    let server = TestServer::start_with(&[
        NO_ALLOW,
        ("BLOGD_THROTTLE_ANONYMOUS", "3/minute"),
        ("BLOGD_THROTTLE_AUTHENTICATED", "50/minute"),
        ("BLOGD_THROTTLE_WRITE", "2/minute"),
        ("BLOGD_THROTTLE_LOGIN", "20/minute"),
    ])
    .await;
    let author = server.token(Role::Author).await;
    let other = server.token(Role::Author).await;
    for _ in 0..10 {
        assert_eq!(
            server.get("/api/v1/posts", Some(&author)).await.status,
            StatusCode::OK,
            "not the anonymous limit"
        );
    }
    for i in 0..2 {
        let r = server
            .post(
                "/api/v1/posts",
                Some(&author),
                json!({"title": format!("P{i}"), "content": "x"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let third = server
        .post(
            "/api/v1/posts",
            Some(&author),
            json!({"title": "P3", "content": "x"}),
        )
        .await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&third, "ratelimit-limit"),
        Some(2),
        "the headers describe the limit that refused"
    );
    assert_eq!(
        server.get("/api/v1/posts", Some(&author)).await.status,
        StatusCode::OK,
        "reads do not count as writes"
    );
    let theirs = server
        .post(
            "/api/v1/posts",
            Some(&other),
            json!({"title": "Q", "content": "x"}),
        )
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::CREATED,
        "another user's budget is their own"
    );
}

#[tokio::test]
async fn login_register_and_comment_limits() {
    let server = TestServer::start_with(&[
        NO_ALLOW,
        ("BLOGD_AUTH_OPEN_REGISTRATION", "true"),
        ("BLOGD_THROTTLE_BAN_AFTER", "100"),
    ])
    .await;
    let username = server.create_user(Role::Author).await;
    for i in 0..5 {
        let r = server.login(&username, "wrong-password-guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
        assert_eq!(header(&r, "ratelimit-limit"), Some(5));
    }
    // The 6th is refused before the password is even looked at (and the account, locked by
    // the 5 failures, is not what answers).
    let sixth = server.login(&username, PASSWORD).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);

    for i in 0..3 {
        let r = server
            .post("/api/v1/auth/register", None, json!({"username": format!("new{i}"), "email": format!("n{i}@example.com"), "password": "a-long-enough-secret"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let fourth = server.post("/api/v1/auth/register", None, json!({"username": "new9", "email": "n9@example.com", "password": "a-long-enough-secret"})).await;
    assert_eq!(fourth.status, StatusCode::TOO_MANY_REQUESTS);

    // Comments: 5 per minute per address (writes allow 30).
    let allowed = TestServer::start().await;
    let token = allowed.token(Role::Author).await;
    allowed
        .create_post(
            &token,
            json!({"title": "Post", "content": "x", "status": "published"}),
        )
        .await;
    let dir = allowed.stop().await;
    let server = TestServer::start_in(dir, &[NO_ALLOW]).await;
    let comment = json!({"author_name": "V", "author_email": "v@example.com", "body": "hi"});
    for i in 0..5 {
        assert_eq!(
            server
                .post("/api/v1/posts/post/comments", None, comment.clone())
                .await
                .status,
            StatusCode::CREATED,
            "comment {}",
            i + 1
        );
    }
    assert_eq!(
        server
            .post("/api/v1/posts/post/comments", None, comment)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn allow_listed_addresses_are_never_throttled_nor_banned() {
    let server = TestServer::start_with(&[
        ("BLOGD_THROTTLE_ALLOW", "127.0.0.1/32"),
        ("BLOGD_THROTTLE_ANONYMOUS", "2/hour"),
        ("BLOGD_THROTTLE_BAN_AFTER", "3"),
    ])
    .await;
    for _ in 0..30 {
        let r = server.get("/api/v1/posts", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.header("ratelimit-limit").is_none(), "not counted at all");
    }
    for _ in 0..10 {
        server.get("/.env", None).await;
        server.login("nobody", "wrong-password-guess").await;
    }
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK,
        "never banned"
    );
}

#[tokio::test]
async fn repeated_failures_ban_the_address_until_expiry_or_lifting() {
    let server = TestServer::start_with(&[
        NO_ALLOW,
        ("BLOGD_THROTTLE_BAN_AFTER", "8"),
        ("BLOGD_THROTTLE_BAN_FOR", "15m"),
    ])
    .await;
    let username = server.create_user(Role::Reader).await;
    // 5 failed logins (5 strikes), then 429s (a strike each) until the ban.
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(
            server
                .login(&username, "wrong-password-guess")
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert_eq!(
        statuses[5], 429,
        "the 6th login attempt is throttled, not banned"
    );
    let banned = server.get("/api/v1/posts", None).await;
    assert_eq!(banned.status, StatusCode::FORBIDDEN);
    assert_eq!(banned.code(), "ip_banned");
    assert_eq!(
        server.get("/healthz", None).await.status,
        StatusCode::OK,
        "liveness still answers"
    );
    let (ip, _, detail) = server.wait_for_event("ip_banned").await;
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(detail.contains("strikes"), "{detail}");
    let bans = server.state.throttle.bans.list(server.state.clock.now());
    assert_eq!(bans.len(), 1);

    // Expiry.
    server.state.clock.advance(15 * 60 + 1);
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK
    );

    // Lifting by the operator (the internal API the console uses).
    let ip = "127.0.0.1".parse().unwrap();
    server
        .state
        .throttle
        .bans
        .ban(ip, server.state.clock.now(), 3600, "manual", 0);
    assert_eq!(server.get("/api/v1/posts", None).await.code(), "ip_banned");
    assert!(
        server
            .state
            .throttle
            .bans
            .lift(ip, server.state.clock.now())
    );
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK
    );

    // The throttle table shows who used their allowance.
    let keys = server
        .state
        .throttle
        .snapshot(server.state.clock.monotonic_ns());
    assert!(keys.iter().any(|k| k.key == "ip:127.0.0.1"), "{keys:?}");
}

/// Nobody can get a reader banned through the reader's own browser: what a page makes the
/// browser request (an `<img>` pointing at a probe path, on any site, or in a post) and a
/// query that merely contains `..` are no strikes. The same probes sent by a tool still are.
#[tokio::test]
async fn a_page_cannot_get_its_visitors_banned() {
    let server = TestServer::start_with(&[
        NO_ALLOW,
        ("BLOGD_THROTTLE_BAN_AFTER", "5"),
        ("BLOGD_THROTTLE_ANONYMOUS", "1000/hour"),
    ])
    .await;
    let browser = |path: &str, site: &str| {
        let request = server
            .client
            .get(server.url(path))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "no-cors")
            .header("sec-fetch-dest", "image");
        async move { request.send().await.unwrap().status() }
    };
    for _ in 0..10 {
        assert_eq!(browser("/.env", "cross-site").await, StatusCode::NOT_FOUND);
        assert_eq!(
            browser("/wp-admin/x.php", "same-origin").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            browser("/api/v1/posts?q=wait..what", "same-origin").await,
            StatusCode::OK
        );
        assert_eq!(
            server
                .get("/api/v1/posts?q=..%2F..%2Fetc", None)
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        server.get("/api/v1/posts", None).await.status,
        StatusCode::OK,
        "not banned"
    );
    let events: i64 = server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM security_events WHERE kind = 'suspicious_request'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(events, 0, "nothing held against the visitor");

    // A tool probing by itself is still reported, and banned.
    for _ in 0..6 {
        server.get("/.env", None).await;
    }
    server.wait_for_event("suspicious_request").await;
    crate::common::eventually_some("probes sent without a page still ban", async || {
        (server.get("/api/v1/posts", None).await.code() == "ip_banned").then_some(())
    })
    .await;
}
