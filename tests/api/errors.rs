//! The error contract: one JSON shape, request ids, content types and size limits.

use reqwest::StatusCode;
use serde_json::json;

use blogd::auth::Role;

use crate::common::{TestServer, reply};

#[tokio::test]
async fn every_error_has_the_same_shape_and_repeats_the_request_id() {
    let server = TestServer::start().await;
    let replies = vec![
        server.get("/no/such/route", None).await,
        server
            .send(reqwest::Method::PUT, "/api/v1/posts", None, None)
            .await,
        server.get("/api/v1/posts/missing", None).await,
        server.get("/api/v1/posts?page=0", None).await,
        server.post("/api/v1/posts", None, json!({})).await,
    ];
    for r in &replies {
        let id = r
            .header("x-request-id")
            .expect("every response has an X-Request-ID");
        assert_eq!(r.body["request_id"], id);
        assert_eq!(r.body["status"], r.status.as_u16());
        assert!(
            r.body["error"].is_string()
                && r.body["code"].is_string()
                && r.body["timestamp"].is_string()
        );
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
    }
    assert_eq!(replies[0].code(), "not_found");
    assert_eq!(replies[1].code(), "method_not_allowed");
    assert_eq!(replies[2].code(), "not_found");
    assert!(
        replies[0].body.get("details").is_none(),
        "details only on validation errors"
    );
}

#[tokio::test]
async fn incoming_request_ids_are_kept_only_when_sane() {
    let server = TestServer::start().await;
    let send = |id: &str| {
        server
            .client
            .get(server.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    let kept = send("abc-123.XYZ_9").await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123.XYZ_9");
    for hostile in ["has space", "<script>", &"a".repeat(65), "line\tbreak"] {
        let replaced = send(hostile).await.unwrap();
        let id = replaced.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 36, "a fresh UUID");
    }
}

#[tokio::test]
async fn bodies_must_be_json_and_not_too_big() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let url = server.url("/api/v1/posts");

    let form = server
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .unwrap();
    let form = reply(form).await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(form.code(), "unsupported_media_type");

    let broken = server
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    let broken = reply(broken).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(broken.code(), "invalid_json");

    // The limit is 1 MiB of JSON: a body of exactly that size gets past it (and is judged on
    // its contents: too long a post), one byte more does not.
    let sized = |bytes: usize| {
        let frame = json!({"title": "x", "content": ""}).to_string().len();
        let body = json!({"title": "x", "content": "y".repeat(bytes - frame)}).to_string();
        assert_eq!(body.len(), bytes);
        body
    };
    let send = |body: String| {
        server
            .client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let at_limit = reply(send(sized(1024 * 1024)).await.unwrap()).await;
    assert_eq!(
        (at_limit.status, at_limit.code()),
        (StatusCode::BAD_REQUEST, "validation_error"),
        "exactly 1 MiB is read whole and parsed: {}",
        at_limit.body
    );
    assert!(
        at_limit.body["details"]["content"].is_array(),
        "{}",
        at_limit.body
    );
    let too_big = reply(send(sized(1024 * 1024 + 1)).await.unwrap()).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_big.code(), "payload_too_large");

    // Chunked (no Content-Length) bodies are cut off at the limit as well.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 100 * 1024])).collect();
    let stream = reqwest::Body::wrap_stream(futures_stream(chunks));
    let chunked = reply(
        server
            .client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(stream)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(chunked.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Iter(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Iter {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(chunks.into_iter())
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let server = TestServer::start().await;
    let ready = server.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(server.get("/healthz", None).await.body["status"], "ok");

    // A schema this binary does not know (a newer blogd wrote it) is not ready.
    let path = server.state.db.path().to_path_buf();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    let not_ready = server.get("/readyz", None).await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(not_ready.body["reason"], "migrations");
}
