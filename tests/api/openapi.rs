//! The OpenAPI document describes exactly what the router serves, and the docs pages are
//! served from the binary itself.

use reqwest::{Method, StatusCode};

use crate::common::{TestServer, reply};

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let server = TestServer::start().await;
    let doc = server.openapi().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{}", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = server.client.request(method.clone(), server.url(&concrete));
            if matches!(method, Method::POST | Method::PATCH) {
                req = req.json(&serde_json::json!({}));
            }
            let r = reply(req.send().await.unwrap()).await;
            assert_ne!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            assert_ne!(
                r.body["error"], "No route matches this path",
                "{method} {path} is documented but not routed"
            );
            // Every documented operation documents the status it just answered with.
            let documented = &doc["paths"][path][method.as_str().to_lowercase()]["responses"];
            assert!(
                documented.get(r.status.as_str()).is_some(),
                "{method} {path} answered {} which is not documented",
                r.status
            );
            operations += 1;
        }
    }
    assert!(operations >= 25, "{operations}");
}

#[tokio::test]
async fn an_unrouted_path_is_not_documented_either() {
    // The reverse direction: the probe above would catch a documented route that is missing;
    // this checks the probe can tell the difference at all.
    let server = TestServer::start().await;
    let r = server.get("/api/v1/not-a-resource", None).await;
    assert_eq!(r.body["error"], "No route matches this path");
    let r = server.get("/api/v1/posts/not-a-post", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_ne!(r.body["error"], "No route matches this path");
}

#[tokio::test]
async fn served_document_equals_the_generated_one_and_uses_the_seed_tags() {
    let server = TestServer::start().await;
    let served = server.openapi().await;
    let generated = serde_json::to_value(blogd::api::openapi()).unwrap();
    assert_eq!(served, generated);
    let tags: Vec<&str> = served["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tag in [
        "posts",
        "categories",
        "tags",
        "authors",
        "comments",
        "auth",
        "analytics",
        "seo",
        "health",
    ] {
        assert!(tags.contains(&tag), "missing tag {tag}");
    }
    assert!(served["components"]["schemas"]["ErrorBody"].is_object());
    assert!(served["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn docs_pages_are_self_contained() {
    let server = TestServer::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (bare, slashed) in [("/api/docs", "/api/docs/"), ("/api/redoc", "/api/redoc/")] {
        let r = no_redirects.get(server.url(bare)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{bare}");
        assert_eq!(r.headers()["location"], slashed);
    }
    let swagger = server.text("/api/docs/").await;
    assert!(swagger.contains("swagger-ui"), "{swagger}");
    let init = server.text("/api/docs/swagger-initializer.js").await;
    assert!(init.contains("/api/schema"), "{init}");
    let redoc = server.text("/api/redoc/").await;
    assert!(
        redoc.contains("/api/redoc/redoc.standalone.js")
            && redoc.contains("spec-url=\"/api/schema\"")
    );
    let js = server
        .client
        .get(server.url("/api/redoc/redoc.standalone.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.bytes().await.unwrap().len() > 500_000);
    for page in [&swagger, &init, &redoc] {
        assert!(
            !page.contains("https://") && !page.contains("http://"),
            "the docs pages load nothing from elsewhere:\n{page}"
        );
    }
    assert_eq!(
        server
            .get("/api/redoc/..%2F..%2Fsecrets.toml", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
