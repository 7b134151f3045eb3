//! Comments: anyone writes, moderators approve, the public sees approved ones only.

use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestServer;

#[tokio::test]
async fn comments_wait_for_moderation_and_hide_emails() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let editor = server.token(Role::Editor).await;
    server
        .create_post(
            &author,
            json!({"title": "Post", "content": "x", "status": "published"}),
        )
        .await;

    let body = "<b>Nice</b> post'); DROP TABLE comments;--";
    let created = server
        .post(
            "/api/v1/posts/post/comments",
            None,
            json!({"author_name": "Visitor", "author_email": "v@example.com", "body": body}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["body"], body, "plain text comes back verbatim");
    assert!(created.body.get("author_email").is_none());
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/comments/{id}").as_str())
    );

    assert_eq!(
        server.get("/api/v1/posts/post/comments", None).await.body["results"],
        json!([])
    );
    assert_eq!(
        server
            .get(&format!("/api/v1/comments/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let moderated = server
        .get("/api/v1/posts/post/comments", Some(&editor))
        .await;
    assert_eq!(
        moderated.body["results"][0]["author_email"], "v@example.com",
        "moderators see e-mails"
    );

    let approved = server
        .patch(
            &format!("/api/v1/comments/{id}"),
            Some(&editor),
            json!({"status": "approved"}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK);
    let public = server.get("/api/v1/posts/post/comments", None).await;
    assert_eq!(public.body["results"][0]["body"], body);
    assert!(
        !public.body.to_string().contains("v@example.com"),
        "public lists never show e-mails"
    );

    let bad = server
        .patch(
            &format!("/api/v1/comments/{id}"),
            Some(&editor),
            json!({"status": "deleted"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        server
            .patch(
                "/api/v1/comments/abc",
                Some(&editor),
                json!({"status": "spam"})
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/comments/{id}"), Some(&editor))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/comments/{id}"), Some(&editor))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn comment_input_rules() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let (reader_name, reader) = server.user_with_token(Role::Reader).await;
    server
        .create_post(
            &author,
            json!({"title": "Post", "content": "x", "status": "published"}),
        )
        .await;
    server
        .create_post(&author, json!({"title": "Draft", "content": "x"}))
        .await;

    let anon = server
        .post("/api/v1/posts/post/comments", None, json!({"body": "hi"}))
        .await;
    assert_eq!(anon.status, StatusCode::BAD_REQUEST);
    assert!(
        anon.body["details"]["author_name"].is_array()
            && anon.body["details"]["author_email"].is_array()
    );
    let bad_email = server
        .post(
            "/api/v1/posts/post/comments",
            None,
            json!({"author_name": "V", "author_email": "nope", "body": "hi"}),
        )
        .await;
    assert!(bad_email.body["details"]["author_email"].is_array());
    let too_long = server
        .post(
            "/api/v1/posts/post/comments",
            None,
            json!({"author_name": "V", "author_email": "v@example.com", "body": "x".repeat(5001)}),
        )
        .await;
    assert!(too_long.body["details"]["body"].is_array());

    // Signed-in readers need no name or e-mail.
    let signed = server
        .post(
            "/api/v1/posts/post/comments",
            Some(&reader),
            json!({"body": "from a reader"}),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED);
    assert_eq!(signed.body["author_name"], format!("The {reader_name}"));

    // Drafts cannot be commented on by those who cannot see them.
    let hidden = server
        .post(
            "/api/v1/posts/draft/comments",
            None,
            json!({"author_name": "V", "author_email": "v@example.com", "body": "hi"}),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}
