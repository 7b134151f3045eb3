//! Posts: visibility, filters, search, ordering, pagination, slugs, conditional requests,
//! and hostile input.

use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestServer, slugs};

#[tokio::test]
async fn create_read_and_list_shapes() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let reply = server
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "Hello World", "content": "# Hi\n\nText", "status": "published"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("location"), Some("/api/v1/posts/hello-world"));
    assert!(reply.header("etag").unwrap().starts_with('"'));
    assert_eq!(reply.body["content_html"], "<h1>Hi</h1>\n<p>Text</p>\n");
    assert_eq!(reply.body["categories"], json!([]));
    assert!(
        reply.body["excerpt"].is_null(),
        "absent optional fields are null"
    );

    let read = server.get("/api/v1/posts/hello-world", None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["title"], "Hello World");
    assert_eq!(
        read.body["author"]["username"],
        reply.body["author"]["username"]
    );
    assert!(read.body["author"].get("email").is_none());

    let list = server.get("/api/v1/posts", None).await;
    let item = &list.body["results"][0];
    assert_eq!(item["slug"], "hello-world");
    assert!(
        item.get("content").is_none() && item.get("content_html").is_none(),
        "lists omit the body"
    );
    assert_eq!(list.body["pagination"]["total"], 1);

    // With or without one trailing slash.
    assert_eq!(
        server.get("/api/v1/posts/", None).await.body["pagination"]["total"],
        1
    );
    assert_eq!(
        server.get("/api/v1/posts/hello-world/", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn anonymous_sees_only_published_and_scheduled_posts_appear_on_time() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    server
        .create_post(&token, json!({"title": "Draft", "content": "x"}))
        .await;
    server
        .create_post(
            &token,
            json!({"title": "Live", "content": "x", "status": "published"}),
        )
        .await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 3600);
    let scheduled = server
        .create_post(
            &token,
            json!({"title": "Later", "content": "x", "status": "scheduled", "published_at": at}),
        )
        .await;
    assert_eq!(scheduled["status"], "scheduled");

    // Scheduling needs a date.
    let reply = server
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "T", "content": "x", "status": "scheduled"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["details"]["published_at"].is_array());

    assert_eq!(slugs(&server.get("/api/v1/posts", None).await), ["live"]);
    assert_eq!(
        server.get("/api/v1/posts/later", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/api/v1/posts/draft", None).await.status,
        StatusCode::NOT_FOUND
    );

    server.state.clock.advance(3601);
    assert_eq!(
        slugs(&server.get("/api/v1/posts", None).await),
        ["later", "live"]
    );
    let later = server.get("/api/v1/posts/later", None).await;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(later.body["status"], "published");
}

#[tokio::test]
async fn filters_search_and_ordering() {
    let server = TestServer::start().await;
    let editor = server.token(Role::Editor).await;
    let (other_name, other) = server.user_with_token(Role::Author).await;
    server.create_category(&editor, "Rust").await;
    server.create_category(&editor, "Cooking").await;
    let publish = |title: &str, cats: &[&str], tags: &[&str], content: &str| json!({"title": title, "content": content, "status": "published", "categories": cats, "tags": tags});
    server
        .create_post(
            &editor,
            publish(
                "Borrow checker",
                &["rust"],
                &["lang"],
                "lifetimes and ownership",
            ),
        )
        .await;
    server.state.clock.advance(10);
    server
        .create_post(
            &editor,
            publish(
                "Async Rust",
                &["rust"],
                &["async", "lang"],
                "futures everywhere",
            ),
        )
        .await;
    server.state.clock.advance(10);
    server
        .create_post(
            &other,
            publish("Apple pie", &["cooking"], &[], "ownership of the oven"),
        )
        .await;

    let get = async |q: &str| server.get(&format!("/api/v1/posts?{q}"), None).await;
    assert_eq!(
        slugs(&get("category=rust").await),
        ["async-rust", "borrow-checker"]
    );
    assert_eq!(slugs(&get("tag=async").await), ["async-rust"]);
    assert_eq!(
        slugs(&get("category=rust&tag=lang").await),
        ["async-rust", "borrow-checker"]
    );
    assert_eq!(
        slugs(&get(&format!("author={other_name}")).await),
        ["apple-pie"]
    );
    assert_eq!(
        slugs(&get("category=nonexistent").await),
        Vec::<String>::new()
    );
    assert_eq!(
        slugs(&get("q=ownership").await),
        ["apple-pie", "borrow-checker"]
    );
    assert_eq!(
        slugs(&get("q=OWNERSHIP+lifetimes").await),
        ["borrow-checker"]
    );
    assert_eq!(
        slugs(&get("q=async").await),
        ["async-rust"],
        "titles are searched too"
    );
    assert_eq!(
        slugs(&get("ordering=published_at").await),
        ["borrow-checker", "async-rust", "apple-pie"]
    );
    assert_eq!(
        slugs(&get("ordering=title").await),
        ["apple-pie", "async-rust", "borrow-checker"]
    );
    assert_eq!(
        slugs(&get("").await),
        ["apple-pie", "async-rust", "borrow-checker"]
    );
    server.state.clock.advance(10);
    server
        .patch(
            "/api/v1/posts/borrow-checker",
            Some(&editor),
            json!({"excerpt": "new"}),
        )
        .await;
    assert_eq!(
        slugs(&get("ordering=-updated_at").await)[0],
        "borrow-checker"
    );

    let bad = get("ordering=id;DROP").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["details"]["ordering"].is_array());
    let bad = get("status=archived").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["details"]["status"].is_array());

    // docs/frontend.md: an empty filter is no filter (a search form that sends every field).
    assert_eq!(
        slugs(&get("status=&category=&tag=&author=&q=&ordering=").await),
        ["apple-pie", "async-rust", "borrow-checker"]
    );
    assert_eq!(
        slugs(&get("category=&tag=async").await),
        ["async-rust"],
        "the filters that are given still apply"
    );
}

#[tokio::test]
async fn hostile_search_and_slugs_are_harmless() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    server
        .create_post(
            &token,
            json!({"title": "Safe post", "content": "x", "status": "published"}),
        )
        .await;
    for q in [
        "'; DROP TABLE posts; --",
        "\"unbalanced",
        "title:safe",
        "safe*",
        "NEAR(a b)",
        "a OR b AND NOT c",
        "^safe",
        "{title}: x",
        "%",
        "\\",
        ")",
        "💥",
        "' OR '1'='1",
    ] {
        let reply = server
            .client
            .get(server.url("/api/v1/posts"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "q={q}");
    }
    let reply = server
        .client
        .get(server.url("/api/v1/posts"))
        .query(&[("q", "' OR 1=1 --")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(
        body["pagination"]["total"], 0,
        "an injected OR does not match everything"
    );

    for slug in [
        "x'%20OR%20'1'='1",
        "%27%3B%20DROP%20TABLE%20posts%3B--",
        "..%2F..%2Fetc%2Fpasswd",
    ] {
        let reply = server.get(&format!("/api/v1/posts/{slug}"), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "slug {slug}");
    }
    let reply = server
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "x", "content": "x", "slug": "x'; DROP TABLE posts;--"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["details"]["slug"].is_array());
    // The table is still there.
    assert_eq!(
        server.get("/api/v1/posts", None).await.body["pagination"]["total"],
        1
    );
}

#[tokio::test]
async fn pagination_edges() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    for i in 0..5 {
        server
            .create_post(
                &token,
                json!({"title": format!("Post {i}"), "content": "x", "status": "published"}),
            )
            .await;
        server.state.clock.advance(1);
    }
    let page = server.get("/api/v1/posts?per_page=2&page=2", None).await;
    assert_eq!(slugs(&page), ["post-2", "post-1"]);
    let p = &page.body["pagination"];
    assert_eq!(
        (
            p["page"].as_u64(),
            p["per_page"].as_u64(),
            p["total"].as_u64(),
            p["total_pages"].as_u64()
        ),
        (Some(2), Some(2), Some(5), Some(3))
    );
    let next = p["next"].as_str().unwrap();
    assert!(
        next.starts_with(&server.base),
        "links are absolute for a trusted host: {next}"
    );
    assert!(next.contains("page=3") && next.contains("per_page=2"));
    let next_page = server
        .client
        .get(next)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(next_page["results"][0]["slug"], "post-0");
    assert!(next_page["pagination"]["next"].is_null());
    assert!(p["previous"].as_str().unwrap().contains("page=1"));

    let past = server.get("/api/v1/posts?page=99", None).await;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(past.body["results"], json!([]));

    for (query, param) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("per_page=0", "per_page"),
        ("per_page=1000", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=", "per_page"),
    ] {
        let reply = server.get(&format!("/api/v1/posts?{query}"), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.code(), "validation_error", "{query}");
        assert!(
            reply.body["details"][param].is_array(),
            "{query}: {}",
            reply.body
        );
    }

    // A forged Host header never ends up in links.
    let reply = server
        .client
        .get(server.url("/api/v1/posts?per_page=1"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = reply.json().await.unwrap();
    let next = body["pagination"]["next"].as_str().unwrap();
    assert!(next.starts_with("/api/v1/posts?"), "{next}");
}

#[tokio::test]
async fn slugs_are_generated_unique_and_explicit_clashes_conflict() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let first = server
        .create_post(&token, json!({"title": "Same Title", "content": "x"}))
        .await;
    let second = server
        .create_post(&token, json!({"title": "Same title!", "content": "x"}))
        .await;
    let third = server
        .create_post(&token, json!({"title": "same title", "content": "x"}))
        .await;
    assert_eq!(first["slug"], "same-title");
    assert_eq!(second["slug"], "same-title-2");
    assert_eq!(third["slug"], "same-title-3");

    let clash = server
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "Other", "content": "x", "slug": "same-title"}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(clash.code(), "conflict");
    let clash = server
        .patch(
            "/api/v1/posts/same-title-2",
            Some(&token),
            json!({"slug": "same-title"}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    let renamed = server
        .patch(
            "/api/v1/posts/same-title-2",
            Some(&token),
            json!({"slug": "renamed"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(
        server
            .get("/api/v1/posts/renamed", Some(&token))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn etags_and_if_match_prevent_lost_updates() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let created = server
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "Versioned", "content": "v1", "status": "published"}),
        )
        .await;
    let etag = created.header("etag").unwrap().to_string();
    let read = server.get("/api/v1/posts/versioned", None).await;
    assert_eq!(
        read.header("etag"),
        Some(etag.as_str()),
        "GET and POST agree on the ETag"
    );

    let not_modified = server
        .client
        .get(server.url("/api/v1/posts/versioned"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

    // A writer with the current ETag succeeds…
    let ok = server
        .client
        .patch(server.url("/api/v1/posts/versioned"))
        .bearer_auth(&token)
        .header("if-match", &etag)
        .json(&json!({"content": "v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let new_etag = ok.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    // …a second writer still holding the old one is refused, and nothing changes.
    let stale = server
        .client
        .patch(server.url("/api/v1/posts/versioned"))
        .bearer_auth(&token)
        .header("if-match", &etag)
        .json(&json!({"content": "v3 from a stale editor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let body: serde_json::Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "precondition_failed");
    assert_eq!(
        server.get("/api/v1/posts/versioned", None).await.body["content"],
        "v2"
    );
    let stale_delete = server
        .client
        .delete(server.url("/api/v1/posts/versioned"))
        .bearer_auth(&token)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        server.get("/api/v1/posts/versioned", None).await.status,
        StatusCode::OK
    );

    let old = server
        .client
        .get(server.url("/api/v1/posts/versioned"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::OK,
        "an old ETag gets the new body"
    );
}

#[tokio::test]
async fn markdown_is_sanitized_and_plain_text_comes_back_verbatim() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let title = "<script>alert('t')</script> & \"quotes\"";
    let content = "Hi <img src=x onerror=alert(1)>\n\n<script>alert(2)</script>\n\n[x](javascript:alert(3))\n\n<a href=\"javascript:alert(4)\" onclick=\"alert(5)\">y</a>";
    let post = server
        .create_post(
            &token,
            json!({"title": title, "content": content, "status": "published"}),
        )
        .await;
    assert_eq!(
        post["title"], title,
        "titles are plain text, returned exactly"
    );
    assert_eq!(
        post["content"], content,
        "the Markdown source is kept as written"
    );
    let html = post["content_html"].as_str().unwrap().to_lowercase();
    for bad in ["<script", "onerror", "onclick", "javascript:"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    // Read back as anyone reads it (fresh, then from the response cache): JSON that parses,
    // with the plain text exactly as written (nothing escaped into HTML entities) and the
    // same sanitized HTML.
    let url = server.url(&format!("/api/v1/posts/{}", post["slug"].as_str().unwrap()));
    for read in ["fresh", "cached"] {
        let raw = server.client.get(&url).send().await.unwrap();
        assert_eq!(raw.status(), StatusCode::OK, "{read}");
        assert!(
            raw.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{read}"
        );
        let text = raw.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{read}: not JSON ({e}): {text}"));
        assert_eq!(parsed["title"], title, "{read}");
        assert_eq!(parsed["content"], content, "{read}");
        assert_eq!(parsed["content_html"], post["content_html"], "{read}");
    }
}

#[tokio::test]
async fn bad_bodies_get_clear_errors_and_change_nothing() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let cases = [
        (
            json!({"title": "x", "content": "x", "author_id": 1}),
            "author_id",
        ),
        (json!({"title": 5, "content": "x"}), "title"),
        (json!({"content": "x"}), "title"),
        (json!({"title": "x"}), "content"),
        (json!({"title": "   ", "content": "x"}), "title"),
        (json!({"title": "x".repeat(201), "content": "x"}), "title"),
        (
            json!({"title": "x", "content": "x", "status": "archived"}),
            "status",
        ),
        (
            json!({"title": "x", "content": "x", "categories": ["nope"]}),
            "categories",
        ),
        (
            json!({"title": "x", "content": "x", "categories": "rust"}),
            "categories",
        ),
        (
            json!({"title": "x", "content": "x", "tags": ["Not A Slug"]}),
            "tags",
        ),
        (
            json!({"title": "x", "content": "x", "published_at": "yesterday"}),
            "published_at",
        ),
        (
            json!({"title": "x", "content": "x", "canonical_url": "javascript:alert(1)"}),
            "canonical_url",
        ),
    ];
    for (body, field) in cases {
        let reply = server
            .post("/api/v1/posts", Some(&token), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), "validation_error", "{body}");
        assert!(
            reply.body["details"][field].is_array(),
            "{body} → {}",
            reply.body
        );
    }
    let total = server
        .get("/api/v1/posts?status=draft", Some(&token))
        .await
        .body["pagination"]["total"]
        .clone();
    assert_eq!(total, 0, "no partial writes");

    server
        .create_post(&token, json!({"title": "Target", "content": "x"}))
        .await;
    for (body, field) in [
        (json!({"title": null}), "title"),
        (json!({"role": "admin"}), "role"),
        (
            json!({"categories": ["missing"], "title": "Changed"}),
            "categories",
        ),
    ] {
        let reply = server
            .patch("/api/v1/posts/target", Some(&token), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            reply.body["details"][field].is_array(),
            "{body} → {}",
            reply.body
        );
    }
    assert_eq!(
        server.get("/api/v1/posts/target", Some(&token)).await.body["title"],
        "Target",
        "a refused patch changes nothing, even its valid fields"
    );

    // Unknown tags are created, for authors too.
    let post = server
        .create_post(
            &token,
            json!({"title": "Tagged", "content": "x", "tags": ["brand-new"]}),
        )
        .await;
    assert_eq!(post["tags"][0]["slug"], "brand-new");
    // null clears optional fields.
    server
        .patch(
            "/api/v1/posts/tagged",
            Some(&token),
            json!({"excerpt": "E"}),
        )
        .await;
    let cleared = server
        .patch(
            "/api/v1/posts/tagged",
            Some(&token),
            json!({"excerpt": null}),
        )
        .await;
    assert!(cleared.body["excerpt"].is_null());
}

/// A body nested so deeply that rendering it would burn a core (40,000 nested quotes took
/// seconds, growing with the square of the depth) is refused at once with a clear error,
/// creating or updating; nothing is stored.
#[tokio::test]
async fn bodies_nested_too_deeply_are_refused_quickly() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    // A deadline against a hang, not a speed figure: the refusal costs milliseconds.
    tokio::time::timeout(
        crate::common::PATIENCE,
        refuse_deep_bodies(&server, &author),
    )
    .await
    .expect("deep bodies refused without a hang");
    assert_eq!(
        slugs(
            &server
                .get("/api/v1/posts?status=draft", Some(&author))
                .await
        ),
        ["fine"]
    );
}

async fn refuse_deep_bodies(server: &TestServer, author: &str) {
    for hostile in [
        ">".repeat(40_000) + "x",
        "- ".repeat(20_000) + "x",
        "<div>".repeat(39_000),
    ] {
        let reply = server
            .post(
                "/api/v1/posts",
                Some(author),
                json!({"title": "Deep", "content": hostile}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["details"]["content"][0]
                .as_str()
                .unwrap()
                .contains("levels deep")
        );
    }
    let fine = server
        .create_post(
            author,
            json!({"title": "Fine", "content": "> quoted\n\n- a\n  - b"}),
        )
        .await;
    let patched = server
        .patch(
            &format!("/api/v1/posts/{}", fine["slug"].as_str().unwrap()),
            Some(author),
            json!({"content": ">".repeat(40_000)}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::BAD_REQUEST);
}
