//! The length and count limits the OpenAPI document states are the ones the server enforces:
//! for every `maxLength`, `minLength` and `maxItems` of every request body, a value just past
//! the limit is refused with a `validation_error` naming the field, and a value exactly at the
//! limit is not refused for that reason. A front end generating forms or clients from the
//! document (and schemathesis, which generates "valid" bodies from it) can rely on them.

use blogd::auth::Role;
use blogd::ops::webhooks::signature;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::common::{Reply, TestServer, reply};

/// Who sends a request body.
#[derive(Clone, Copy)]
enum Sender {
    Anonymous,
    Reader,
    Editor,
    Admin,
    /// Anonymous, with the body signed with the analytics secret.
    Signed,
}

/// One operation taking a JSON body: the schema it documents and a body that is valid
/// without the field under test.
struct Case {
    schema: &'static str,
    method: Method,
    path: String,
    sender: Sender,
    base: Value,
}

/// Characters that every text field accepts (slugs and usernames included).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `n` characters of the alphabet, different for every `seq`, never with two hyphens.
fn filler(n: usize, seq: u64) -> String {
    let mut x = seq
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// A value of exactly `n` characters shaped for `field` (an e-mail address, a URL, a path…),
/// so that only its length can be wrong.
fn text_of(field: &str, n: usize, seq: u64) -> String {
    let shaped = |prefix: &str, suffix: &str| {
        let fixed = prefix.len() + suffix.len();
        if n < fixed {
            filler(n, seq)
        } else {
            format!("{prefix}{}{suffix}", filler(n - fixed, seq))
        }
    };
    match field {
        "author_email" | "email" => shaped("", "@example.com"),
        "canonical_url" | "avatar_url" | "featured_image" | "referrer" => {
            shaped("https://example.com/", "")
        }
        "path" => shaped("/", ""),
        _ => filler(n, seq),
    }
}

fn items_of(n: usize, seq: u64) -> Value {
    Value::Array(
        (0..n)
            .map(|i| Value::String(format!("{}-{i}", filler(8, seq))))
            .collect(),
    )
}

/// The schema of a component, with `$ref`s of its properties left as they are.
fn properties<'a>(doc: &'a Value, schema: &str) -> &'a Map<String, Value> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema} has no properties in the document"))
}

async fn send(server: &TestServer, case: &Case, token: Option<&str>, body: &Value) -> Reply {
    let raw = body.to_string();
    let mut req = server
        .client
        .request(case.method.clone(), server.url(&case.path))
        .header("content-type", "application/json");
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if matches!(case.sender, Sender::Signed) {
        let secret = server.state.shared_secrets().analytics.current.clone();
        req = req.header("x-signature", signature(&secret, raw.as_bytes()));
    }
    reply(req.body(raw).send().await.unwrap()).await
}

fn messages(reply: &Reply, field: &str) -> Vec<String> {
    reply.body["details"][field]
        .as_array()
        .map(|m| m.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn documented_limits_are_the_enforced_ones() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_OPEN_REGISTRATION", "true")]).await;
    let doc = server.openapi().await;
    let reader = server.token(Role::Reader).await;
    let editor = server.token(Role::Editor).await;
    let admin = server.token(Role::Admin).await;
    // Two posts: the one UpdatePost renames, and one that keeps its slug for the comments.
    let mut slugs = Vec::new();
    for title in ["Limits", "Comments"] {
        let post = server
            .create_post(
                &editor,
                json!({"title": title, "content": "Body", "status": "published"}),
            )
            .await;
        slugs.push(post["slug"].as_str().unwrap().to_string());
    }
    let (post, commented) = (&slugs[0], &slugs[1]);
    let category = server.create_category(&editor, "Limits").await;
    let category = category["slug"].as_str().unwrap();
    let target = server.create_user(Role::Author).await;

    let case = |schema, method, path: &str, sender, base| Case {
        schema,
        method,
        path: path.to_string(),
        sender,
        base,
    };
    let mut cases = [
        case(
            "CreatePost",
            Method::POST,
            "/api/v1/posts",
            Sender::Editor,
            json!({"title": "T", "content": "C"}),
        ),
        case(
            "UpdatePost",
            Method::PATCH,
            &format!("/api/v1/posts/{post}"),
            Sender::Editor,
            json!({}),
        ),
        case(
            "CreateCategory",
            Method::POST,
            "/api/v1/categories",
            Sender::Editor,
            json!({"name": "N"}),
        ),
        case(
            "UpdateCategory",
            Method::PATCH,
            &format!("/api/v1/categories/{category}"),
            Sender::Editor,
            json!({}),
        ),
        case(
            "CreateTag",
            Method::POST,
            "/api/v1/tags",
            Sender::Editor,
            json!({"name": "N"}),
        ),
        case(
            "CreateComment",
            Method::POST,
            &format!("/api/v1/posts/{commented}/comments"),
            Sender::Anonymous,
            json!({"author_name": "A", "author_email": "a@example.com", "body": "B"}),
        ),
        case(
            "LoginRequest",
            Method::POST,
            "/api/v1/auth/login",
            Sender::Anonymous,
            json!({"username": "nobody", "password": "wrong"}),
        ),
        case(
            "TotpLoginRequest",
            Method::POST,
            "/api/v1/auth/login/totp",
            Sender::Anonymous,
            json!({"mfa_token": "t", "code": "123456"}),
        ),
        case(
            "RefreshRequest",
            Method::POST,
            "/api/v1/auth/refresh",
            Sender::Anonymous,
            json!({"refresh_token": "r"}),
        ),
        case(
            "RegisterRequest",
            Method::POST,
            "/api/v1/auth/register",
            Sender::Anonymous,
            json!({"username": "", "email": "", "password": ""}),
        ),
        case(
            "UpdateMe",
            Method::PATCH,
            "/api/v1/auth/me",
            Sender::Reader,
            json!({}),
        ),
        case(
            "ChangePassword",
            Method::POST,
            "/api/v1/auth/password",
            Sender::Reader,
            json!({"current_password": "wrong", "new_password": "a-long-enough-passphrase"}),
        ),
        case(
            "CreateUser",
            Method::POST,
            "/api/v1/users",
            Sender::Admin,
            json!({"username": "", "email": "", "password": "", "role": "reader"}),
        ),
        case(
            "UpdateUser",
            Method::PATCH,
            &format!("/api/v1/users/{target}"),
            Sender::Admin,
            json!({}),
        ),
        case(
            "PageViewBody",
            Method::POST,
            "/api/v1/analytics/pageview",
            Sender::Signed,
            json!({"path": "/blog"}),
        ),
    ];

    let mut seq = 0u64;
    let mut checked = 0;
    for case in &mut cases {
        let token = match case.sender {
            Sender::Anonymous | Sender::Signed => None,
            Sender::Reader => Some(reader.as_str()),
            Sender::Editor => Some(editor.as_str()),
            Sender::Admin => Some(admin.as_str()),
        };
        for (field, schema) in properties(&doc, case.schema) {
            let limits = [("maxLength", 1i64), ("minLength", -1), ("maxItems", 1)];
            for (keyword, past) in limits {
                let Some(limit) = schema.get(keyword).and_then(Value::as_u64) else {
                    continue;
                };
                let mut value_of = |n: usize| {
                    seq += 1;
                    if keyword == "maxItems" {
                        items_of(n, seq)
                    } else {
                        Value::String(text_of(field, n, seq))
                    }
                };
                let outside = (limit as i64 + past) as usize;
                let mut body = case.base.clone();
                body[field.as_str()] = value_of(outside);
                let refused = send(&server, case, token, &body).await;
                let why = messages(&refused, field);
                assert!(
                    refused.status == StatusCode::BAD_REQUEST
                        && refused.code() == "validation_error"
                        && !why.is_empty(),
                    "{} {}: {field} of {outside} (past {keyword} {limit}) was not refused \
                     for it: {} {}",
                    case.method,
                    case.schema,
                    refused.status,
                    refused.body
                );
                body[field.as_str()] = value_of(limit as usize);
                let at = send(&server, case, token, &body).await;
                // The probe must have reached validation (a 404 or 403 would say nothing),
                // and not be refused for this field.
                let validated = at.status.is_success()
                    || at.code() == "validation_error"
                    || (matches!(case.sender, Sender::Anonymous)
                        && at.status == StatusCode::UNAUTHORIZED);
                assert!(
                    validated,
                    "{} {}: the probe of {field} at its limit never reached validation: {} {}",
                    case.method, case.schema, at.status, at.body
                );
                let again = messages(&at, field);
                assert!(
                    why.iter().all(|m| !again.contains(m)),
                    "{} {}: {field} of exactly {keyword} {limit} was refused as if past it: {}",
                    case.method,
                    case.schema,
                    at.body
                );
                // A new slug moves the resource: follow it.
                if field == "slug" && case.method == Method::PATCH && at.status == StatusCode::OK {
                    let parent = case.path.rsplit_once('/').unwrap().0.to_string();
                    case.path = format!("{parent}/{}", at.body["slug"].as_str().unwrap());
                }
                checked += 1;
            }
        }
    }
    // Every documented limit above was probed; this many exist today.
    assert!(checked >= 70, "only {checked} limits documented");
}

#[tokio::test]
async fn documented_query_bounds_are_the_enforced_ones() {
    let server = TestServer::start().await;
    let doc = server.openapi().await;
    let admin = server.token(Role::Admin).await;
    let post = server
        .create_post(
            &admin,
            json!({"title": "Bounds", "content": "Body", "status": "published"}),
        )
        .await;
    let post = post["slug"].as_str().unwrap().to_string();

    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let concrete = path.replace("{slug}", &post);
        if concrete.contains('{') {
            continue;
        }
        for param in get["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "query" {
                continue;
            }
            let name = param["name"].as_str().unwrap();
            let schema = &param["schema"];
            let bounds = [
                (schema.get("minimum").and_then(Value::as_i64), -1i64),
                (schema.get("maximum").and_then(Value::as_i64), 1),
            ];
            for (bound, past) in bounds {
                let Some(bound) = bound else { continue };
                let ask = |value: i64| {
                    let url = server.url(&format!("{concrete}?{name}={value}"));
                    let req = server.client.get(url).bearer_auth(&admin);
                    async move { reply(req.send().await.unwrap()).await }
                };
                let refused = ask(bound + past).await;
                assert!(
                    refused.status == StatusCode::BAD_REQUEST
                        && refused.code() == "validation_error"
                        && !messages(&refused, name).is_empty(),
                    "GET {path}?{name}={} (past {bound}) was not refused for it: {} {}",
                    bound + past,
                    refused.status,
                    refused.body
                );
                let at = ask(bound).await;
                assert_eq!(
                    at.status,
                    StatusCode::OK,
                    "GET {path}?{name}={bound} (at the bound) answered {}",
                    at.body
                );
                checked += 1;
            }
        }
    }
    // page and per_page on every list, and the analytics window.
    assert!(checked >= 20, "only {checked} bounds documented");
}
