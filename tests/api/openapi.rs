//! The OpenAPI document describes exactly what the router serves, and the docs pages are
//! served from the binary itself.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestServer, blogd_run, reply};

/// Headers with no API meaning for a client: transport, and the security headers API.md lists
/// once for every response. Everything else the server sends must be declared.
const UNDECLARED_OK: &[&str] = &[
    "content-type",
    "content-length",
    "date",
    "vary",
    "content-security-policy",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
];

/// Follows `$ref`s inside the document.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    while let Some(target) = node["$ref"].as_str() {
        node = doc
            .pointer(target.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{target} resolves"));
    }
    node
}

/// The headers a documented response declares, lower-cased.
fn declared_headers(doc: &Value, response: &Value) -> BTreeSet<String> {
    resolve(doc, response)["headers"]
        .as_object()
        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

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
            // Every documented operation documents the status it just answered with, and
            // every header it sent.
            let documented = &doc["paths"][path][method.as_str().to_lowercase()]["responses"];
            let response = documented.get(r.status.as_str()).unwrap_or_else(|| {
                panic!(
                    "{method} {path} answered {} which is not documented",
                    r.status
                )
            });
            let declared = declared_headers(&doc, response);
            for name in r.headers.keys() {
                assert!(
                    UNDECLARED_OK.contains(&name.as_str()) || declared.contains(name.as_str()),
                    "{method} {path} → {}: header {name} is not declared",
                    r.status
                );
            }
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

/// Every `$ref` under `node`.
fn refs<'a>(node: &'a Value, found: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// The JSON pointer of the first place where `a` and `b` differ (with both values there).
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            let next = format!("{at}/{k}");
            match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, next),
                (p, q) => Some(format!("{next}: {p:?} vs {q:?}")),
            }
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[tokio::test]
async fn served_document_is_the_binarys_and_says_what_the_api_is() {
    let server = TestServer::start().await;
    let served = server.openapi().await;
    // The binary's own copy, from another process.
    let dir = tempfile::tempdir().unwrap();
    let printed = blogd_run(&dir.path().join("data"), &["openapi"]).await;
    assert!(printed.status.success());
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    if let Some(at) = first_difference(&served, &printed, String::new()) {
        panic!("the served and printed documents differ at {at}");
    }

    // What the document must say, written down here rather than taken from the generator.
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["title"], "blogd");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
    let bearer = json!([{"bearer": []}]);
    let optional = json!([{}, {"bearer": []}]);
    for (path, method, operation_id, security) in [
        ("/api/v1/posts", "get", "listPosts", &optional),
        ("/api/v1/posts", "post", "createPost", &bearer),
        ("/api/v1/posts/{slug}", "patch", "updatePost", &bearer),
        ("/api/v1/posts/{slug}", "delete", "deletePost", &bearer),
        ("/api/v1/auth/login", "post", "login", &Value::Null),
        (
            "/api/v1/auth/refresh",
            "post",
            "refreshTokens",
            &Value::Null,
        ),
        // (The refresh token alone signs out too.)
        ("/api/v1/auth/logout", "post", "logout", &optional),
        ("/api/v1/categories", "get", "listCategories", &Value::Null),
        ("/api/v1/comments/{id}", "patch", "moderateComment", &bearer),
        ("/api/healthcheck", "get", "getHealthReport", &Value::Null),
    ] {
        let operation = &served["paths"][path][method];
        assert_eq!(
            operation["operationId"], operation_id,
            "{method} {path}: {operation}"
        );
        assert_eq!(&operation["security"], security, "{method} {path}");
    }
    let created = &served["paths"]["/api/v1/posts"]["post"]["responses"]["201"];
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Post"
    );
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /api/v1/auth/login"
        })
    );
    let required: BTreeSet<&str> = served["components"]["schemas"]["ErrorBody"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["error", "code", "status", "timestamp", "request_id"] {
        assert!(required.contains(field), "ErrorBody requires {field}");
    }

    // Across the whole document: declared tags, references that resolve, and every error
    // answer an ErrorBody (but the health reports' 503, which carry the report).
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
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for tag in operation["tags"].as_array().unwrap() {
                assert!(
                    tags.contains(&tag.as_str().unwrap()),
                    "{method} {path}: undeclared tag {tag}"
                );
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.as_str() < "400" {
                    continue;
                }
                let schema = &resolve(&served, response)["content"]["application/json"]["schema"];
                let expected = match (path.as_str(), status.as_str()) {
                    ("/api/healthcheck", "503") => "#/components/schemas/HealthReport",
                    ("/readyz", "503") => "#/components/schemas/Readiness",
                    _ => "#/components/schemas/ErrorBody",
                };
                assert_eq!(schema["$ref"], expected, "{method} {path} → {status}");
            }
        }
    }
    let mut targets = Vec::new();
    refs(&served, &mut targets);
    assert!(targets.len() > 100, "{}", targets.len());
    for target in targets {
        assert!(
            target.starts_with("#/") && served.pointer(&target[1..]).is_some(),
            "{target} does not resolve"
        );
    }
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

#[tokio::test]
async fn operation_ids_are_unique_readable_method_names() {
    let doc = blogd::api::openapi();
    let mut seen = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            // camelCase, verb first: what generators turn into `listPosts()` / `list_posts()`.
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{id} ({method} {path}) is not a camelCase name"
            );
            let verb = id.split(|c: char| c.is_ascii_uppercase()).next().unwrap();
            assert!(
                [
                    "list", "get", "create", "update", "delete", "moderate", "login", "logout",
                    "refresh", "register", "record", "change", "setup", "confirm", "disable",
                    "export", "upload"
                ]
                .contains(&verb),
                "{id} does not start with a known verb"
            );
            if let Some(other) = seen.insert(id.to_string(), format!("{method} {path}")) {
                panic!("operationId {id} is used by {other} and {method} {path}");
            }
        }
    }
    assert!(seen.len() >= 55, "{}", seen.len());
}

#[tokio::test]
async fn no_undocumented_method_is_served_on_a_documented_path() {
    // The API router and the document are built from one list (utoipa-axum); this holds the
    // routes added beside it (the docs pages, /api/schema) and any plain `.route()` to it too.
    let server = TestServer::start().await;
    let doc = server.openapi().await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if item.get(method.as_str().to_lowercase()).is_some() {
                continue;
            }
            let r = server
                .client
                .request(method.clone(), server.url(&concrete))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert!(
                matches!(
                    r.status(),
                    StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
                ),
                "{method} {path} is served ({}) but not documented",
                r.status()
            );
        }
    }
    for documented in ["/api/schema", "/api/docs/", "/api/redoc/"] {
        assert!(doc["paths"][documented]["get"].is_object(), "{documented}");
    }
}

#[tokio::test]
async fn the_layers_statuses_and_headers_are_documented_everywhere_they_apply() {
    let doc = blogd::api::openapi();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            let probe = path == "/healthz" || path == "/readyz";
            for status in ["408", "500"] {
                assert!(responses.get(status).is_some(), "{method} {path}: {status}");
            }
            if !probe {
                let throttled = resolve(&doc, &responses["429"]);
                assert!(
                    throttled["headers"]["Retry-After"].is_object(),
                    "{method} {path}: 429 with Retry-After"
                );
                assert!(responses.get("403").is_some(), "{method} {path}: ip_banned");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.get("413").is_some(), "{method} {path}: 413");
            }
            for (status, response) in responses.as_object().unwrap() {
                let headers = declared_headers(&doc, response);
                assert!(
                    headers.contains("x-request-id"),
                    "{method} {path} {status}: X-Request-ID"
                );
                assert!(
                    probe || headers.contains("ratelimit-remaining"),
                    "{method} {path} {status}: RateLimit-*"
                );
            }
        }
    }
    // Conditional reads: every route the response cache serves takes If-None-Match.
    for route in blogd::http::public_cache::store::CACHED_ROUTES {
        let op = &doc["paths"][route]["get"];
        assert!(op["responses"]["304"].is_object(), "{route}: 304");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "If-None-Match"),
            "{route}: If-None-Match"
        );
    }
}

#[tokio::test]
async fn response_schemas_say_what_is_always_there() {
    let doc = blogd::api::openapi();
    let schemas = &doc["components"]["schemas"];
    // Nullable fields of answers are required (present as null), timestamps are date-times.
    for (schema, field) in [
        ("PostSummary", "excerpt"),
        ("PostSummary", "published_at"),
        ("PostSummary", "canonical_url"),
        ("Pagination", "next"),
        ("Author", "bio"),
        ("Account", "avatar_url"),
        ("SessionInfo", "last_used_at"),
        ("Category", "description"),
    ] {
        let required = schemas[schema]["required"].as_array().unwrap();
        assert!(
            required.iter().any(|r| r == field),
            "{schema}.{field} is required"
        );
    }
    assert_eq!(
        schemas["PostSummary"]["properties"]["created_at"]["format"],
        "date-time"
    );
    assert_eq!(
        schemas["Paginated_PostSummary"]["properties"]["results"]["items"]["$ref"],
        "#/components/schemas/PostSummary"
    );
    assert!(schemas.get("BTreeMap").is_none());
    assert_eq!(
        schemas["OpenGraph"]["properties"]["article:tag"]["type"],
        "array"
    );
    assert!(
        schemas["HealthChecks"]["required"]
            .as_array()
            .unwrap()
            .len()
            >= 7
    );
    assert_eq!(
        schemas["LoginResponse"]["discriminator"]["propertyName"],
        "type"
    );
    assert!(doc["servers"].as_array().is_some_and(|s| !s.is_empty()));
    let ordering = doc["paths"]["/api/v1/posts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ordering")
        .unwrap();
    let ordering = resolve(&doc, &ordering["schema"]);
    assert_eq!(ordering["enum"].as_array().unwrap().len(), 4);
}

/// What a schema requires is in answers that leave out everything optional: an error with no
/// details, the health check with replication off. (Both were once declared required, and
/// generated clients refused these answers.)
#[tokio::test]
async fn what_the_document_requires_is_in_answers_that_leave_optional_parts_out() {
    let doc = blogd::api::openapi();
    let schemas = &doc["components"]["schemas"];
    let server = TestServer::start().await;
    let missing = |schema: &str, body: &Value| -> Vec<String> {
        schemas[schema]["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| body.get(*name).is_none())
            .map(str::to_string)
            .collect()
    };
    let refused = server.get("/api/v1/auth/me", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.get("details").is_none(), "{}", refused.body);
    assert_eq!(missing("ErrorBody", &refused.body), Vec::<String>::new());
    let health = server.get("/api/healthcheck", None).await;
    assert!(health.body["checks"].get("replication").is_none());
    assert_eq!(
        missing("HealthChecks", &health.body["checks"]),
        Vec::<String>::new()
    );
}
