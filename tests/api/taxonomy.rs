//! Categories, tags and authors.

use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestServer, slugs};

#[tokio::test]
async fn categories_round_trip() {
    let server = TestServer::start().await;
    let editor = server.token(Role::Editor).await;
    let created = server
        .post(
            "/api/v1/categories",
            Some(&editor),
            json!({"name": "Web Dev", "description": "All things web"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/categories/web-dev")
    );
    assert_eq!(created.body["slug"], "web-dev");
    let clash = server
        .post(
            "/api/v1/categories",
            Some(&editor),
            json!({"name": "Other", "slug": "web-dev"}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);

    let author = server.token(Role::Author).await;
    server
        .create_post(
            &author,
            json!({"title": "P", "content": "x", "status": "published", "categories": ["web-dev"]}),
        )
        .await;
    server
        .create_post(
            &author,
            json!({"title": "D", "content": "x", "categories": ["web-dev"]}),
        )
        .await;
    let read = server.get("/api/v1/categories/web-dev", None).await;
    assert_eq!(read.body["post_count"], 1, "drafts are not counted");
    assert!(read.header("etag").is_some());

    let renamed = server
        .patch(
            "/api/v1/categories/web-dev",
            Some(&editor),
            json!({"slug": "web", "description": null}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert!(renamed.body["description"].is_null());
    assert_eq!(
        server.get("/api/v1/categories/web-dev", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        slugs(&server.get("/api/v1/posts?category=web", None).await),
        ["p"]
    );

    assert_eq!(
        server
            .delete("/api/v1/categories/web", Some(&editor))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .delete("/api/v1/categories/web", Some(&editor))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let post = server.get("/api/v1/posts/p", None).await;
    assert_eq!(
        post.body["categories"],
        json!([]),
        "posts survive their category"
    );

    let bad = server
        .post("/api/v1/categories", Some(&editor), json!({"name": "!!!"}))
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "a name with no letters needs an explicit slug"
    );
}

#[tokio::test]
async fn tags_round_trip() {
    let server = TestServer::start().await;
    let editor = server.token(Role::Editor).await;
    let created = server
        .post("/api/v1/tags", Some(&editor), json!({"name": "Rust Lang"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["slug"], "rust-lang");
    assert_eq!(
        server
            .post("/api/v1/tags", Some(&editor), json!({"name": "Rust Lang"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let list = server.get("/api/v1/tags", None).await;
    assert_eq!(slugs(&list), ["rust-lang"]);
    assert_eq!(
        server.get("/api/v1/tags/rust-lang", None).await.body["name"],
        "Rust Lang"
    );
    assert_eq!(
        server
            .delete("/api/v1/tags/rust-lang", Some(&editor))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get("/api/v1/tags/rust-lang", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn authors_are_public_profiles_only() {
    let server = TestServer::start().await;
    let (name, token) = server.user_with_token(Role::Author).await;
    server.create_user(Role::Reader).await;
    server
        .create_post(
            &token,
            json!({"title": "One", "content": "x", "status": "published"}),
        )
        .await;
    server
        .create_post(&token, json!({"title": "Two", "content": "x"}))
        .await;
    let list = server.get("/api/v1/authors", None).await;
    let usernames: Vec<&str> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert!(usernames.contains(&name.as_str()));
    assert!(usernames.contains(&"admin"), "admins write too");
    assert!(
        !usernames.iter().any(|u| u.starts_with("reader")),
        "readers are not authors"
    );
    let one = server.get(&format!("/api/v1/authors/{name}"), None).await;
    assert_eq!(one.body["post_count"], 1);
    let text = one.body.to_string();
    for secret in ["email", "password", "role", "argon2"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(one.body["bio"].is_null());
    assert_eq!(
        server.get("/api/v1/authors/nobody", None).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A tag only drafts or scheduled posts carry does not exist for the public, as those posts
/// do not: not listed, not readable, and its feed answers like an unknown tag's.
#[tokio::test]
async fn tags_of_drafts_and_scheduled_posts_do_not_leak() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let editor = server.token(Role::Editor).await;
    server
        .create_post(
            &author,
            json!({"title": "Draft", "content": "x", "tags": ["secret-subject"]}),
        )
        .await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 3600);
    server
        .create_post(
            &author,
            json!({"title": "Later", "content": "x", "status": "scheduled", "published_at": at, "tags": ["coming-soon"]}),
        )
        .await;
    let made = server
        .post("/api/v1/tags", Some(&editor), json!({"name": "On purpose"}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);

    let listed: Vec<String> = server.get("/api/v1/tags", None).await.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        ["on-purpose"],
        "made on purpose is listed; drafts' are not"
    );
    for hidden in ["secret-subject", "coming-soon"] {
        let unknown = server.get("/api/v1/tags/no-such-tag", None).await;
        let tag = server.get(&format!("/api/v1/tags/{hidden}"), None).await;
        assert_eq!(tag.status, unknown.status, "{hidden}");
        assert_eq!(tag.code(), unknown.code());
        let unknown_feed = server
            .client
            .get(server.url("/feed.xml?tag=no-such-tag"))
            .send()
            .await
            .unwrap();
        let feed = server
            .client
            .get(server.url(&format!("/feed.xml?tag={hidden}")))
            .send()
            .await
            .unwrap();
        assert_eq!(feed.status(), unknown_feed.status(), "{hidden} feed");
        assert_eq!(feed.status(), StatusCode::NOT_FOUND);
    }
    // Its time comes: the scheduled post is public, and so is its tag.
    server.state.clock.advance(3601);
    let tag = server.get("/api/v1/tags/coming-soon", None).await;
    assert_eq!(tag.status, StatusCode::OK);
    assert_eq!(tag.body["post_count"], 1);
    let feed = server
        .client
        .get(server.url("/feed.xml?tag=coming-soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    assert_eq!(
        server.get("/api/v1/tags/secret-subject", None).await.status,
        StatusCode::NOT_FOUND,
        "the draft's stays hidden"
    );
    assert_eq!(
        slugs(&server.get("/api/v1/posts?tag=secret-subject", None).await).len(),
        0
    );
}
