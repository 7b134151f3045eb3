//! Sitemap, feeds, robots.txt and the SEO metadata endpoint. The sitemap is checked against
//! the sitemaps.org XSD with xmllint and the feed with Python's feedparser; both are skipped
//! (with a notice) when the tool is missing, unless CI_REQUIRE_XML_TOOLS is set (CI sets it).

use std::process::{Command, Stdio};

use blogd::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{ETAG, HOST, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde_json::{Value, json};

use crate::common::TestServer;

/// A raw (non-JSON) answer.
struct Raw {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    fn header(&self, name: impl reqwest::header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn fetch(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = server.client.get(server.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = req.send().await.unwrap();
    Raw {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

fn tool_missing(tool: &str, install: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var_os("CI_REQUIRE_XML_TOOLS").is_some() {
            panic!("{tool} is required ({install})");
        }
        eprintln!("skipping a check: {tool} is not installed ({install})");
    }
    !found
}

/// Runs a program with `input` on standard input (with a deadline); returns (success,
/// stdout + stderr).
fn run_with_input(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut command = Command::new(program);
    command.args(args);
    let out = crate::common::run_to_end(command, Some(input.as_bytes()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Validates a sitemap against the sitemaps.org XSD shipped as test data.
fn assert_valid_sitemap(xml: &str) {
    if tool_missing("xmllint", "apt-get install libxml2-utils") {
        return;
    }
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sitemap.xsd");
    let (ok, output) = run_with_input("xmllint", &["--noout", "--schema", xsd, "-"], xml);
    assert!(ok, "the sitemap does not validate:\n{output}");
}

/// Parses a feed with feedparser; returns its JSON summary, or None when skipped.
fn parse_feed(xml: &str) -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys
try:
    import feedparser
except ImportError:
    print("MISSING")
    sys.exit(0)
d = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
    "bozo": bool(d.bozo), "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version, "title": d.feed.get("title"),
    "entries": [{"title": e.get("title"), "link": e.get("link"), "id": e.get("id"),
                 "author": e.get("author"), "published": e.get("published"),
                 "tags": [t["term"] for t in e.get("tags", [])],
                 "content": [c["value"] for c in e.get("content", [])]} for e in d.entries]}))
"#;
    let (ok, output) = run_with_input("python3", &["-c", SCRIPT], xml);
    assert!(ok, "python3 failed: {output}");
    if output.trim() == "MISSING" {
        if std::env::var_os("CI_REQUIRE_XML_TOOLS").is_some() {
            panic!("feedparser is required (python3 -m pip install feedparser)");
        }
        eprintln!("skipping a check: feedparser is not installed (pip install feedparser)");
        return None;
    }
    Some(serde_json::from_str(&output).unwrap())
}

async fn publish(server: &TestServer, token: &str, body: Value) -> String {
    let mut body = body;
    if body.get("status").is_none() {
        body["status"] = json!("published");
    }
    server.create_post(token, body).await["slug"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_sitemap_lists_public_pages_only_and_validates() {
    let server = TestServer::start().await;
    let (author, token) = server.user_with_token(Role::Editor).await;
    server.create_category(&token, "Rust Things").await;
    let public = publish(
        &server,
        &token,
        json!({"title": "Public one", "content": "x", "categories": ["rust-things"]}),
    )
    .await;
    let draft = publish(
        &server,
        &token,
        json!({"title": "Secret draft", "content": "x", "status": "draft"}),
    )
    .await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 3600);
    let scheduled = publish(
        &server,
        &token,
        json!({"title": "Coming later", "content": "x", "status": "scheduled", "published_at": at}),
    )
    .await;
    // A reader has no author page.
    let (reader, _) = server.user_with_token(Role::Reader).await;

    let sitemap = fetch(&server, "/sitemap.xml", &[]).await;
    assert_eq!(sitemap.status, StatusCode::OK);
    assert!(
        sitemap
            .header("content-type")
            .starts_with("application/xml")
    );
    let base = &server.base;
    for url in [
        format!("{base}/"),
        format!("{base}/blog/{public}"),
        format!("{base}/category/rust-things"),
        format!("{base}/author/{author}"),
    ] {
        assert!(
            sitemap.text.contains(&format!("<loc>{url}</loc>")),
            "{url} missing from:\n{}",
            sitemap.text
        );
    }
    for hidden in [&draft, &scheduled, &reader] {
        assert!(
            !sitemap.text.contains(hidden.as_str()),
            "{hidden} leaked into the sitemap"
        );
    }
    assert!(sitemap.text.contains("<lastmod>"));
    assert_valid_sitemap(&sitemap.text);

    // The scheduled post appears once its time has come, with no write in between.
    server.state.clock.advance(3601);
    let later = fetch(&server, "/sitemap.xml", &[]).await;
    assert!(later.text.contains(&format!("/blog/{scheduled}</loc>")));
    assert_ne!(later.header(ETAG), sitemap.header(ETAG));
}

#[tokio::test]
async fn documents_are_cached_until_content_changes_and_answer_conditional_requests() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    publish(&server, &token, json!({"title": "First", "content": "x"})).await;

    for path in ["/sitemap.xml", "/feed.xml", "/robots.txt"] {
        let first = fetch(&server, path, &[]).await;
        assert_eq!(first.status, StatusCode::OK, "{path}");
        let etag = first.header(ETAG).to_string();
        let modified = first.header(LAST_MODIFIED).to_string();
        assert!(etag.starts_with('"'), "{path} has no ETag");
        assert!(modified.ends_with(" GMT"), "{path} has no Last-Modified");

        // Not regenerated per request: a later request gets the very same document.
        server.state.clock.advance(5);
        let again = fetch(&server, path, &[]).await;
        assert_eq!(again.header(ETAG), etag, "{path}");
        assert_eq!(again.header(LAST_MODIFIED), modified, "{path}");
        assert_eq!(again.text, first.text);

        let by_tag = fetch(&server, path, &[(IF_NONE_MATCH.as_str(), &etag)]).await;
        assert_eq!(by_tag.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(by_tag.text.is_empty());
        let by_date = fetch(&server, path, &[(IF_MODIFIED_SINCE.as_str(), &modified)]).await;
        assert_eq!(by_date.status, StatusCode::NOT_MODIFIED, "{path}");
        // If-None-Match wins over If-Modified-Since.
        let stale = fetch(
            &server,
            path,
            &[
                (IF_NONE_MATCH.as_str(), "\"old\""),
                (IF_MODIFIED_SINCE.as_str(), &modified),
            ],
        )
        .await;
        assert_eq!(stale.status, StatusCode::OK, "{path}");
    }

    // A change in content makes a new sitemap and feed; the old tag no longer matches.
    let before = fetch(&server, "/feed.xml", &[]).await;
    publish(&server, &token, json!({"title": "Second", "content": "y"})).await;
    let after = fetch(
        &server,
        "/feed.xml",
        &[(IF_NONE_MATCH.as_str(), before.header(ETAG))],
    )
    .await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.text.contains("<title>Second</title>"));
    assert_ne!(after.header(ETAG), before.header(ETAG));
}

#[tokio::test]
async fn the_feed_parses_with_a_real_parser_and_carries_sanitized_html() {
    let server = TestServer::start().await;
    let token = server.token(Role::Editor).await;
    server.create_category(&token, "News").await;
    let hostile_title = "Tom & \"Jerry\" <b>not bold</b> ]]> done";
    let hostile = publish(
        &server,
        &token,
        json!({"title": hostile_title, "excerpt": "Short <i>excerpt</i>",
               "content": "**bold** <script>alert(1)</script> [x](javascript:alert(1)) ]]> end",
               "categories": ["news"], "tags": ["feeds"]}),
    )
    .await;
    server.state.clock.advance(1);
    for i in 0..21 {
        publish(
            &server,
            &token,
            json!({"title": format!("Filler {i}"), "content": "x", "tags": ["filler"]}),
        )
        .await;
    }
    publish(
        &server,
        &token,
        json!({"title": "Unseen draft", "content": "x", "status": "draft", "categories": ["news"]}),
    )
    .await;

    let all = fetch(&server, "/feed.xml", &[]).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(
        all.header("content-type")
            .starts_with("application/rss+xml")
    );
    assert_eq!(all.text.matches("<item>").count(), 20, "the latest 20");
    assert!(!all.text.contains("Unseen draft"));

    let news = fetch(&server, "/feed.xml?category=news", &[]).await;
    assert_eq!(news.status, StatusCode::OK);
    assert_eq!(news.text.matches("<item>").count(), 1);
    assert!(!news.text.contains("Unseen draft"));
    assert!(!news.text.contains("Filler"));
    assert!(!news.text.contains("<script"));
    assert!(!news.text.contains("javascript:"));
    let tagged = fetch(&server, "/feed.xml?tag=filler", &[]).await;
    assert_eq!(tagged.text.matches("<item>").count(), 20);
    assert!(!tagged.text.contains(&hostile));

    let unknown = server.get("/feed.xml?category=nope", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "not_found");
    let both = server.get("/feed.xml?category=news&tag=filler", None).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.code(), "validation_error");

    if tool_missing("xmllint", "apt-get install libxml2-utils") {
        return;
    }
    let (ok, output) = run_with_input("xmllint", &["--noout", "-"], &all.text);
    assert!(ok, "the feed is not well-formed XML: {output}");

    let Some(parsed) = parse_feed(&news.text) else {
        return;
    };
    assert_eq!(parsed["bozo"], false, "{}", parsed["bozo_exception"]);
    assert_eq!(parsed["version"], "rss20");
    assert_eq!(parsed["title"], "blogd: News");
    let entry = &parsed["entries"][0];
    // The title comes back exactly as written (escaped in XML, not HTML-interpreted).
    assert_eq!(entry["title"], hostile_title);
    assert_eq!(entry["link"], format!("{}/blog/{hostile}", server.base));
    assert_eq!(entry["tags"], json!(["News"]));
    let content = entry["content"][0].as_str().unwrap();
    assert!(content.contains("<strong>bold</strong>"), "{content}");
    assert!(
        content.contains("]]> end") || content.contains("]]&gt; end"),
        "{content}"
    );
    assert!(!content.contains("<script"), "{content}");
    assert!(!content.contains("javascript:"), "{content}");
}

#[tokio::test]
async fn robots_names_the_sitemap_and_keeps_crawlers_out_of_the_api() {
    let server = TestServer::start().await;
    let robots = fetch(&server, "/robots.txt", &[]).await;
    assert_eq!(robots.status, StatusCode::OK);
    assert!(robots.header("content-type").starts_with("text/plain"));
    let lines: Vec<&str> = robots.text.lines().collect();
    assert!(lines.contains(&"User-agent: *"));
    assert!(lines.contains(&"Disallow: /api/"));
    assert!(lines.contains(&"Allow: /api/docs"));
    assert!(lines.contains(&"Allow: /api/redoc"));
    assert!(lines.contains(&format!("Sitemap: {}/sitemap.xml", server.base).as_str()));

    // A forged Host cannot make us advertise another site.
    let forged = fetch(&server, "/robots.txt", &[(HOST.as_str(), "evil.example")]).await;
    assert!(!forged.text.contains("evil.example"), "{}", forged.text);
    let forged = fetch(&server, "/sitemap.xml", &[(HOST.as_str(), "evil.example")]).await;
    assert!(!forged.text.contains("evil.example"), "{}", forged.text);
}

/// An IP literal in `Host` is trusted only when it is the address the connection arrived
/// at (or loopback): `Host: 6.6.6.6` must not put another address into robots.txt, the
/// sitemap, feeds or pagination links, which a cache upstream would then keep.
#[tokio::test]
async fn a_foreign_ip_literal_in_host_never_becomes_a_link() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    for i in 0..3 {
        server
            .create_post(
                &author,
                json!({"title": format!("Post {i}"), "content": "x", "status": "published"}),
            )
            .await;
    }
    for path in [
        "/robots.txt",
        "/sitemap.xml",
        "/feed.xml",
        "/api/v1/posts?per_page=1",
    ] {
        for host in ["6.6.6.6", "6.6.6.6:80", "[2001:db8::66]"] {
            let forged = fetch(&server, path, &[(HOST.as_str(), host)]).await;
            assert!(
                !forged.text.contains("6.6.6.6") && !forged.text.contains("2001:db8::66"),
                "{path} with Host {host}: {}",
                forged.text
            );
        }
        // The address the request really came to still gives absolute links.
        let honest = fetch(&server, path, &[]).await;
        assert!(
            path.starts_with("/api") || honest.text.contains(&server.base),
            "{path}: {}",
            honest.text
        );
    }
}

/// With `site.base_url` set, every absolute URL of the SEO metadata (the image too) is on
/// the site, whatever `Host` the request carried.
#[tokio::test]
async fn seo_images_come_from_the_site_url_not_the_request() {
    let server = TestServer::start_with(&[("BLOGD_SITE_BASE_URL", "https://blog.example")]).await;
    let author = server.token(Role::Author).await;
    server
        .create_post(
            &author,
            json!({"title": "Pictured", "content": "x", "status": "published",
                   "featured_image": "/media/cover.png"}),
        )
        .await;
    let meta = fetch(
        &server,
        "/api/v1/seo/posts/pictured",
        &[(HOST.as_str(), "localhost")],
    )
    .await;
    let meta: Value = serde_json::from_str(&meta.text).unwrap();
    assert_eq!(
        meta["open_graph"]["og:image"],
        "https://blog.example/media/cover.png"
    );
}

#[tokio::test]
async fn the_configured_site_url_and_paths_are_used() {
    let server = TestServer::start_with(&[
        ("BLOGD_SITE_BASE_URL", "https://blog.example/"),
        ("BLOGD_SITE_POST_PATH", "/posts/{slug}/"),
        ("BLOGD_SITE_CATEGORY_PATH", "/topics/{slug}"),
        ("BLOGD_SITE_AUTHOR_PATH", "/people/{slug}"),
    ])
    .await;
    let (author, token) = server.user_with_token(Role::Editor).await;
    server.create_category(&token, "Go").await;
    let slug = publish(
        &server,
        &token,
        json!({"title": "Hello", "content": "x", "categories": ["go"]}),
    )
    .await;
    let sitemap = fetch(&server, "/sitemap.xml", &[]).await;
    for loc in [
        "https://blog.example/".to_string(),
        format!("https://blog.example/posts/{slug}/"),
        "https://blog.example/topics/go".to_string(),
        format!("https://blog.example/people/{author}"),
    ] {
        assert!(sitemap.text.contains(&format!("<loc>{loc}</loc>")), "{loc}");
    }
    assert!(!sitemap.text.contains("127.0.0.1"));
    let robots = fetch(&server, "/robots.txt", &[]).await;
    assert!(
        robots
            .text
            .contains("Sitemap: https://blog.example/sitemap.xml")
    );
    let feed = fetch(&server, "/feed.xml?category=go", &[]).await;
    assert!(
        feed.text
            .contains(&format!("<link>https://blog.example/posts/{slug}/</link>"))
    );
    assert!(
        feed.text
            .contains("href=\"https://blog.example/feed.xml?category=go\" rel=\"self\"")
    );
}

#[tokio::test]
async fn a_site_past_fifty_thousand_urls_gets_a_sitemap_index() {
    let server = TestServer::start().await;
    let author = server.create_user(Role::Author).await;
    let now = server.state.clock.now();
    server
        .state
        .db
        .write(move |tx| {
            let id: i64 =
                tx.query_row("SELECT id FROM users WHERE username = ?1", [&author], |r| {
                    r.get(0)
                })?;
            let mut insert = tx.prepare(
                "INSERT INTO posts (slug, title, content, content_html, status, published_at,
                                    author_id, created_at, updated_at)
                 VALUES (?1, 'Bulk', 'x', '<p>x</p>', 'published', ?2, ?3, ?2, ?2)",
            )?;
            for i in 0..50_001 {
                insert.execute(rusqlite::params![format!("bulk-{i}"), now - 10, id])?;
            }
            Ok(())
        })
        .await
        .unwrap();

    let index = fetch(&server, "/sitemap.xml", &[]).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(
        index.text.contains("<sitemapindex"),
        "{}",
        &index.text[..200]
    );
    assert_eq!(index.text.matches("<sitemap>").count(), 2);
    assert!(
        index
            .text
            .contains(&format!("<loc>{}/sitemaps/2.xml</loc>", server.base))
    );
    let first = fetch(&server, "/sitemaps/1.xml", &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.text.matches("<url>").count(), 50_000);
    let second = fetch(&server, "/sitemaps/2.xml", &[]).await;
    // 50,001 posts + the home page + one author page, 50,000 of them in the first file.
    assert_eq!(second.text.matches("<url>").count(), 3);
    assert_valid_sitemap(&second.text);
    let beyond = server.get("/sitemaps/3.xml", None).await;
    assert_eq!(beyond.status, StatusCode::NOT_FOUND);
    let junk = server.get("/sitemaps/..%2f..%2fetc%2fpasswd", None).await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn seo_metadata_is_derived_from_the_post_and_cannot_break_out_of_a_script() {
    let server = TestServer::start_with(&[("BLOGD_SITE_BASE_URL", "https://blog.example")]).await;
    let (author, token) = server.user_with_token(Role::Editor).await;
    server.create_category(&token, "Security").await;
    let title = "</script><script>alert('x')</script> & more";
    let post = server
        .create_post(
            &token,
            json!({"title": title, "content": "Some **text** here.", "status": "published",
                   "excerpt": "An <excerpt>", "categories": ["security"], "tags": ["xss"],
                   "featured_image": "https://cdn.example/cover.png"}),
        )
        .await;
    let slug = post["slug"].as_str().unwrap();

    let response = server
        .client
        .get(server.url(&format!("/api/v1/seo/posts/{slug}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[ETAG].to_str().unwrap().to_string();
    let raw = response.text().await.unwrap();
    assert!(!raw.contains("</script"), "{raw}");
    assert!(!raw.contains('<'), "{raw}");
    let meta: Value = serde_json::from_str(&raw).unwrap();
    let canonical = format!("https://blog.example/blog/{slug}");
    assert_eq!(meta["title"], title);
    assert_eq!(meta["description"], "An <excerpt>");
    assert_eq!(meta["canonical_url"], canonical);
    assert_eq!(meta["open_graph"]["og:type"], "article");
    assert_eq!(meta["open_graph"]["og:title"], title);
    assert_eq!(meta["open_graph"]["og:url"], canonical);
    assert_eq!(
        meta["open_graph"]["og:image"],
        "https://cdn.example/cover.png"
    );
    assert_eq!(meta["open_graph"]["article:section"], "Security");
    assert_eq!(meta["open_graph"]["article:tag"], json!(["xss"]));
    assert_eq!(meta["twitter"]["card"], "summary_large_image");
    let ld = &meta["json_ld"];
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["@type"], "BlogPosting");
    assert_eq!(ld["headline"], title);
    assert_eq!(ld["author"]["name"], format!("The {author}"));
    assert_eq!(
        ld["author"]["url"],
        format!("https://blog.example/author/{author}")
    );
    assert_eq!(ld["datePublished"], post["published_at"]);
    assert_eq!(ld["dateModified"], post["updated_at"]);
    assert_eq!(ld["image"], "https://cdn.example/cover.png");
    // The ready-to-embed form is the same object, with nothing that can end a script.
    let script = meta["json_ld_script"].as_str().unwrap();
    assert!(!script.contains('<') && !script.contains('>'));
    assert_eq!(&serde_json::from_str::<Value>(script).unwrap(), ld);

    // Conditional GET.
    let again = server
        .client
        .get(server.url(&format!("/api/v1/seo/posts/{slug}")))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // meta_title / meta_description / canonical_url win when set.
    server
        .patch(
            &format!("/api/v1/posts/{slug}"),
            Some(&token),
            json!({"meta_title": "Better title", "meta_description": "Better description",
                   "canonical_url": "https://elsewhere.example/original"}),
        )
        .await;
    let meta = server
        .get(&format!("/api/v1/seo/posts/{slug}"), None)
        .await
        .body;
    assert_eq!(meta["title"], "Better title");
    assert_eq!(meta["json_ld"]["headline"], "Better title");
    assert_eq!(meta["description"], "Better description");
    assert_eq!(meta["canonical_url"], "https://elsewhere.example/original");
}

#[tokio::test]
async fn drafts_and_scheduled_posts_have_no_seo_metadata_even_for_their_author() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let draft = publish(
        &server,
        &token,
        json!({"title": "Draft", "content": "x", "status": "draft"}),
    )
    .await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 600);
    let scheduled = publish(
        &server,
        &token,
        json!({"title": "Soon", "content": "x", "status": "scheduled", "published_at": at}),
    )
    .await;
    for slug in [&draft, &scheduled] {
        let reply = server
            .get(&format!("/api/v1/seo/posts/{slug}"), Some(&token))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{slug}");
        assert_eq!(reply.code(), "not_found");
    }
    let missing = server.get("/api/v1/seo/posts/no-such-post", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Without excerpt or meta_description, the description is the start of the text.
    let slug = publish(
        &server,
        &token,
        json!({"title": "Plain", "content": "First *words* of the post.\n\nMore."}),
    )
    .await;
    let meta = server
        .get(&format!("/api/v1/seo/posts/{slug}"), None)
        .await
        .body;
    assert_eq!(meta["description"], "First words of the post. More.");
    assert_eq!(meta["twitter"]["card"], "summary");
}
