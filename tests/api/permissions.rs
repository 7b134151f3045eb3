//! Every role against every write: a table of who may do what (API.md "Roles").

use std::sync::atomic::{AtomicUsize, Ordering};

use blogd::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestServer;

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, Clone, Copy)]
enum Action {
    CreatePost,
    EditOthersPublished,
    EditOthersDraft,
    DeleteOthersPublished,
    DeleteOthersDraft,
    CreateCategory,
    UpdateCategory,
    DeleteCategory,
    CreateTag,
    DeleteTag,
    ModerateComment,
    DeleteComment,
}

struct World {
    server: TestServer,
    admin: String,
    /// The author who owns the posts others try to change.
    owner: String,
}

impl World {
    /// Builds fresh resources for one attempt, so every attempt meets the same state.
    async fn request(&self, action: Action) -> (Method, String, Option<Value>) {
        let s = &self.server;
        let post =
            |status: &str| json!({"title": unique("Post"), "content": "Body", "status": status});
        match action {
            Action::CreatePost => (Method::POST, "/api/v1/posts".into(), Some(post("draft"))),
            Action::EditOthersPublished
            | Action::DeleteOthersPublished
            | Action::EditOthersDraft
            | Action::DeleteOthersDraft => {
                let status =
                    if matches!(action, Action::EditOthersDraft | Action::DeleteOthersDraft) {
                        "draft"
                    } else {
                        "published"
                    };
                let created = s.create_post(&self.owner, post(status)).await;
                let path = format!("/api/v1/posts/{}", created["slug"].as_str().unwrap());
                if matches!(
                    action,
                    Action::EditOthersPublished | Action::EditOthersDraft
                ) {
                    (Method::PATCH, path, Some(json!({"title": "Changed"})))
                } else {
                    (Method::DELETE, path, None)
                }
            }
            Action::CreateCategory => (
                Method::POST,
                "/api/v1/categories".into(),
                Some(json!({"name": unique("Cat")})),
            ),
            Action::UpdateCategory | Action::DeleteCategory => {
                let cat = s.create_category(&self.admin, &unique("Cat")).await;
                let path = format!("/api/v1/categories/{}", cat["slug"].as_str().unwrap());
                match action {
                    Action::UpdateCategory => {
                        (Method::PATCH, path, Some(json!({"description": "New"})))
                    }
                    _ => (Method::DELETE, path, None),
                }
            }
            Action::CreateTag => (
                Method::POST,
                "/api/v1/tags".into(),
                Some(json!({"name": unique("Tag")})),
            ),
            Action::DeleteTag => {
                let tag = s
                    .post(
                        "/api/v1/tags",
                        Some(&self.admin),
                        json!({"name": unique("Tag")}),
                    )
                    .await;
                (
                    Method::DELETE,
                    format!("/api/v1/tags/{}", tag.body["slug"].as_str().unwrap()),
                    None,
                )
            }
            Action::ModerateComment | Action::DeleteComment => {
                let created = s.create_post(&self.owner, post("published")).await;
                let slug = created["slug"].as_str().unwrap();
                let comment = s
                    .post(
                        &format!("/api/v1/posts/{slug}/comments"),
                        None,
                        json!({"author_name": "V", "author_email": "v@example.com", "body": "Hi"}),
                    )
                    .await;
                assert_eq!(comment.status, StatusCode::CREATED);
                let path = format!("/api/v1/comments/{}", comment.body["id"]);
                match action {
                    Action::ModerateComment => {
                        (Method::PATCH, path, Some(json!({"status": "approved"})))
                    }
                    _ => (Method::DELETE, path, None),
                }
            }
        }
    }
}

#[tokio::test]
async fn every_role_against_every_write() {
    let server = TestServer::start().await;
    let admin = server.token(Role::Admin).await;
    let owner = server.token(Role::Author).await;
    let callers: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("reader", Some(server.token(Role::Reader).await)),
        ("other author", Some(server.token(Role::Author).await)),
        ("editor", Some(server.token(Role::Editor).await)),
        ("admin", Some(server.token(Role::Admin).await)),
    ];
    let world = World {
        server,
        admin,
        owner,
    };

    use Action::*;
    // Expected status for: anonymous, reader, another author, editor, admin.
    let table: &[(Action, [u16; 5])] = &[
        (CreatePost, [401, 403, 201, 201, 201]),
        (EditOthersPublished, [401, 403, 403, 200, 200]),
        (EditOthersDraft, [401, 404, 404, 200, 200]),
        (DeleteOthersPublished, [401, 403, 403, 204, 204]),
        (DeleteOthersDraft, [401, 404, 404, 204, 204]),
        (CreateCategory, [401, 403, 403, 201, 201]),
        (UpdateCategory, [401, 403, 403, 200, 200]),
        (DeleteCategory, [401, 403, 403, 204, 204]),
        (CreateTag, [401, 403, 403, 201, 201]),
        (DeleteTag, [401, 403, 403, 204, 204]),
        (ModerateComment, [401, 403, 403, 200, 200]),
        (DeleteComment, [401, 403, 403, 204, 204]),
    ];
    for (action, expected) in table {
        for ((who, token), want) in callers.iter().zip(expected) {
            let (method, path, body) = world.request(*action).await;
            let reply = world
                .server
                .send(method, &path, token.as_deref(), body)
                .await;
            assert_eq!(
                reply.status.as_u16(),
                *want,
                "{action:?} as {who}: {}",
                reply.body
            );
            let code = match want {
                401 => Some("unauthorized"),
                403 => Some("forbidden"),
                404 => Some("not_found"),
                _ => None,
            };
            if let Some(code) = code {
                assert_eq!(reply.code(), code, "{action:?} as {who}");
            }
        }
    }
}

#[tokio::test]
async fn authors_own_their_posts_and_only_theirs() {
    let server = TestServer::start().await;
    let a = server.token(Role::Author).await;
    let b = server.token(Role::Author).await;
    let draft = server
        .create_post(&b, json!({"title": "B's secret draft", "content": "x"}))
        .await;
    let slug = draft["slug"].as_str().unwrap();
    let path = format!("/api/v1/posts/{slug}");

    // B sees and changes their own draft.
    assert_eq!(server.get(&path, Some(&b)).await.status, StatusCode::OK);
    assert_eq!(
        server
            .patch(&path, Some(&b), json!({"content": "edited"}))
            .await
            .status,
        StatusCode::OK
    );
    // A cannot see it, by id or in lists, nor learn it exists.
    assert_eq!(
        server.get(&path, Some(&a)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.get(&path, None).await.status, StatusCode::NOT_FOUND);
    let a_drafts = server.get("/api/v1/posts?status=draft", Some(&a)).await;
    assert!(!crate::common::slugs(&a_drafts).contains(&slug.to_string()));
    let b_drafts = server.get("/api/v1/posts?status=draft", Some(&b)).await;
    assert_eq!(crate::common::slugs(&b_drafts), [slug]);
    assert_eq!(
        server
            .get(&format!("{path}/comments"), Some(&a))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Once published, A can read it but still not change or delete it.
    assert_eq!(
        server
            .patch(&path, Some(&b), json!({"status": "published"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(server.get(&path, Some(&a)).await.status, StatusCode::OK);
    assert_eq!(
        server
            .patch(&path, Some(&a), json!({"title": "Mine now"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.delete(&path, Some(&a)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.get(&path, None).await.body["title"],
        "B's secret draft"
    );
    // B deletes it.
    assert_eq!(
        server.delete(&path, Some(&b)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get(&path, Some(&b)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn editors_see_everyones_drafts() {
    let server = TestServer::start().await;
    let author = server.token(Role::Author).await;
    let editor = server.token(Role::Editor).await;
    let reader = server.token(Role::Reader).await;
    server
        .create_post(&author, json!({"title": "Draft one", "content": "x"}))
        .await;
    let editor_view = server
        .get("/api/v1/posts?status=draft", Some(&editor))
        .await;
    assert_eq!(crate::common::slugs(&editor_view), ["draft-one"]);
    // Readers and anonymous callers: the status filter is ignored; they get published posts.
    for token in [Some(reader.as_str()), None] {
        let view = server.get("/api/v1/posts?status=draft", token).await;
        assert_eq!(view.status, StatusCode::OK);
        assert!(crate::common::slugs(&view).is_empty());
    }
}
