//! The cache of anonymous public answers: never stale after a write, never a role-specific
//! answer to anyone else, scheduled posts on time, writes by other processes noticed, memory
//! bounded.

use blogd::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use serde_json::json;

use crate::common::{TestServer, eventually_some, slugs};

#[tokio::test]
async fn a_read_after_a_write_never_shows_the_old_value() {
    let server = TestServer::start().await;
    let token = server.token(Role::Editor).await;
    let post = server
        .create_post(
            &token,
            json!({"title": "Version 0", "content": "x", "status": "published"}),
        )
        .await;
    let slug = post["slug"].as_str().unwrap().to_string();
    let path = format!("/api/v1/posts/{slug}");
    // Another client, with its own connections.
    let other = reqwest::Client::new();
    for n in 1..=25 {
        // Warm the cache, from both clients.
        let before = server.get(&path, None).await;
        assert_eq!(before.status, StatusCode::OK);
        let list = server.get("/api/v1/posts", None).await;
        assert_eq!(
            list.body["results"][0]["title"],
            format!("Version {}", n - 1)
        );

        let title = format!("Version {n}");
        let updated = server
            .patch(&path, Some(&token), json!({"title": title}))
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);

        let same = server.get(&path, None).await;
        assert_eq!(same.body["title"], title, "same client, round {n}");
        let fresh: serde_json::Value = other
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(fresh["title"], title, "other client, round {n}");
        let list = server.get("/api/v1/posts", None).await;
        assert_eq!(list.body["results"][0]["title"], title, "list, round {n}");
    }
    // Deleted: gone at once.
    server.delete(&path, Some(&token)).await;
    assert_eq!(server.get(&path, None).await.status, StatusCode::NOT_FOUND);
    assert!(slugs(&server.get("/api/v1/posts", None).await).is_empty());
}

#[tokio::test]
async fn cached_answers_are_served_and_revalidated() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    server
        .create_post(
            &token,
            json!({"title": "Cached", "content": "x", "status": "published"}),
        )
        .await;
    let first = server.get("/api/v1/posts?page=1&per_page=5", None).await;
    let etag = first.header("etag").unwrap().to_string();
    let entries = server.state.public_cache.entry_count();
    assert!(entries >= 1);
    // The same request with parameters in another order is the same entry.
    let second = server.get("/api/v1/posts?per_page=5&page=1", None).await;
    assert_eq!(second.body, first.body);
    assert_eq!(server.state.public_cache.entry_count(), entries);
    let not_modified = server
        .client
        .get(server.url("/api/v1/posts?page=1&per_page=5"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers()[ETAG], etag.as_str());
    // Outer layers still run on a cached answer.
    assert!(second.header("x-request-id").is_some());
    assert!(second.header("x-content-type-options").is_some());
}

#[tokio::test]
async fn role_specific_answers_never_reach_anonymous_readers() {
    let server = TestServer::start().await;
    let (_, author) = server.user_with_token(Role::Author).await;
    let editor = server.token(Role::Editor).await;
    let draft = server
        .create_post(
            &author,
            json!({"title": "Secret", "content": "x", "status": "draft"}),
        )
        .await;
    let draft_path = format!("/api/v1/posts/{}", draft["slug"].as_str().unwrap());
    let public = server
        .create_post(
            &author,
            json!({"title": "Public", "content": "x", "status": "published"}),
        )
        .await;
    let slug = public["slug"].as_str().unwrap();
    server
        .post(
            &format!("/api/v1/posts/{slug}/comments"),
            None,
            json!({"author_name": "Pending", "author_email": "p@example.com", "body": "wait"}),
        )
        .await;
    let comments = format!("/api/v1/posts/{slug}/comments");

    // Signed-in reads first (they would poison a careless cache), anonymous ones after.
    for _ in 0..2 {
        assert_eq!(
            server.get(&draft_path, Some(&author)).await.status,
            StatusCode::OK
        );
        let all = server.get(&comments, Some(&editor)).await;
        assert_eq!(all.body["results"].as_array().unwrap().len(), 1);
        let drafts = server
            .get("/api/v1/posts?status=draft", Some(&author))
            .await;
        assert_eq!(slugs(&drafts), [draft["slug"].as_str().unwrap()]);

        assert_eq!(
            server.get(&draft_path, None).await.status,
            StatusCode::NOT_FOUND
        );
        let seen = server.get(&comments, None).await;
        assert!(seen.body["results"].as_array().unwrap().is_empty());
        let anonymous = server.get("/api/v1/posts?status=draft", None).await;
        assert_eq!(slugs(&anonymous), [slug]);
        // A bad token is not anonymous: it gets its 401, not a cached page.
        let forged = server.get("/api/v1/posts", Some("not-a-token")).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }
    // Approving the comment shows it to everyone at once.
    let id = server.get(&comments, Some(&editor)).await.body["results"][0]["id"].clone();
    server
        .patch(
            &format!("/api/v1/comments/{id}"),
            Some(&editor),
            json!({"status": "approved"}),
        )
        .await;
    let seen = server.get(&comments, None).await;
    assert_eq!(seen.body["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_scheduled_post_appears_on_time_without_any_write() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 120);
    let soon = server
        .create_post(
            &token,
            json!({"title": "Soon", "content": "x", "status": "scheduled", "published_at": at}),
        )
        .await;
    let path = format!("/api/v1/posts/{}", soon["slug"].as_str().unwrap());
    assert!(slugs(&server.get("/api/v1/posts", None).await).is_empty());
    assert_eq!(server.get(&path, None).await.status, StatusCode::NOT_FOUND);
    server.state.clock.advance(121);
    assert_eq!(slugs(&server.get("/api/v1/posts", None).await).len(), 1);
    assert_eq!(server.get(&path, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn writes_by_another_process_are_noticed() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let post = server
        .create_post(
            &token,
            json!({"title": "Before", "content": "x", "status": "published"}),
        )
        .await;
    let path = format!("/api/v1/posts/{}", post["slug"].as_str().unwrap());
    assert_eq!(server.get(&path, None).await.body["title"], "Before");
    // Like `blogd …` run from a shell on the same file: a connection of its own.
    let db = server.state.config.database_path();
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute("UPDATE posts SET title = 'After'", [])
            .unwrap();
    })
    .await
    .unwrap();
    // (The wait only guards against a hang.)
    eventually_some("the outside write seen", async || {
        (server.get(&path, None).await.body["title"] == "After").then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_cache_memory_is_bounded() {
    let server = TestServer::start_with(&[("BLOGD_SERVER_RESPONSE_CACHE", "64KB")]).await;
    let token = server.token(Role::Author).await;
    for i in 0..5 {
        server
            .create_post(
                &token,
                json!({"title": format!("Post {i}"), "content": "word ".repeat(400), "status": "published"}),
            )
            .await;
    }
    // Many distinct keys: every page size, search words, pages.
    for n in 1..=100 {
        let reply = server
            .get(&format!("/api/v1/posts?per_page={n}&q=word"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let size = server.state.public_cache.weighted_size();
    assert!(size > 0 && size <= 64 * 1024, "cache holds {size} bytes");
}

#[tokio::test]
async fn public_reads_say_how_long_caches_may_keep_them_and_personal_answers_say_no_store() {
    let server = TestServer::start_with(&[
        ("BLOGD_CACHE_MAX_AGE", "10s"),
        ("BLOGD_CACHE_S_MAXAGE", "5m"),
        ("BLOGD_CACHE_STALE_WHILE_REVALIDATE", "0s"),
    ])
    .await;
    let token = server.token(Role::Editor).await;
    let post = server
        .create_post(
            &token,
            json!({"title": "Cached", "content": "x", "status": "published"}),
        )
        .await;
    let path = format!("/api/v1/posts/{}", post["slug"].as_str().unwrap());
    let public = "public, max-age=10, s-maxage=300";
    for route in [path.as_str(), "/api/v1/posts", "/api/v1/categories"] {
        let anonymous = server.get(route, None).await;
        assert_eq!(anonymous.status, StatusCode::OK);
        assert_eq!(anonymous.header("cache-control"), Some(public), "{route}");
        assert!(
            anonymous
                .headers
                .get_all("vary")
                .iter()
                .any(|v| v.to_str().unwrap_or("").contains("Authorization")),
            "{route}"
        );
        // The same read with credentials is personal (drafts, roles): never kept.
        let personal = server.get(route, Some(&token)).await;
        assert_eq!(
            personal.header("cache-control"),
            Some("no-store"),
            "{route}"
        );
    }
    // A revalidation keeps the policy.
    let etag = server
        .get(&path, None)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let revalidated = server
        .client
        .get(server.url(&path))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.headers()["cache-control"], public);
    // Errors, writes, health and accounts: no-store.
    for (reply, what) in [
        (
            server.get("/api/v1/posts/no-such-post", None).await,
            "a 404",
        ),
        (server.get("/api/healthcheck", None).await, "health"),
        (server.get("/api/v1/auth/me", Some(&token)).await, "me"),
        (
            server
                .post("/api/v1/categories", Some(&token), json!({"name": "N"}))
                .await,
            "a write",
        ),
    ] {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    }
    // Defaults: browsers ask each time, CDNs keep a minute and may serve stale meanwhile.
    let defaults = TestServer::start().await;
    assert_eq!(
        defaults
            .get("/api/v1/posts", None)
            .await
            .header("cache-control"),
        Some("public, max-age=0, s-maxage=60, stale-while-revalidate=30")
    );
}
