//! Scheduled publication is an event: when a scheduled post's time comes the front end is
//! told (`post.published`), exactly once, across restarts, however many fall due together.

use blogd::auth::Role;
use blogd::content::revalidation::Revalidation;
use blogd::content::schedule::announce_due;
use serde_json::json;

use crate::common::{TestServer, slugs};

/// (event, slug) of every queued revalidation delivery, oldest first.
async fn events(server: &TestServer) -> Vec<(String, String)> {
    let rows = server
        .state
        .db
        .read(|c| blogd::db::outbox::list(c, None, 1000))
        .await
        .unwrap();
    let mut events: Vec<(String, String, i64)> = rows
        .into_iter()
        .filter(|d| d.channel == "revalidate")
        .map(|d| (d.event, d.slug, d.id))
        .collect();
    events.sort_by_key(|e| e.2);
    events.into_iter().map(|(e, s, _)| (e, s)).collect()
}

async fn wait_for_events(server: &TestServer, count: usize) -> Vec<(String, String)> {
    crate::common::eventually_some("the announcements", async || {
        let now = events(server).await;
        (now.len() >= count).then_some(now)
    })
    .await
}

fn published(slug: &str) -> (String, String) {
    ("post.published".into(), slug.into())
}

#[tokio::test]
async fn a_scheduled_post_is_announced_once_when_due_even_across_a_restart() {
    // Deliveries fail (nothing listens there: the port is bound, not listening, so nobody
    // else takes it): the outbox keeps every row to count.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/revalidate", closed.local_addr().unwrap());
    let env = [("BLOGD_WEBHOOKS_REVALIDATE_URL", url.as_str())];
    let server = TestServer::start_with(&env).await;
    let author = server.token(Role::Author).await;
    let at = blogd::clock::rfc3339(server.state.clock.now() + 60);
    for title in ["Morning one", "Morning two"] {
        server
            .create_post(
                &author,
                json!({"title": title, "content": "x", "status": "scheduled", "published_at": at}),
            )
            .await;
    }
    server
        .create_post(
            &author,
            json!({"title": "Now", "content": "x", "status": "published"}),
        )
        .await;
    assert_eq!(events(&server).await, [published("now")]);
    assert_eq!(slugs(&server.get("/api/v1/posts", None).await), ["now"]);

    // Their time comes (both in the same second): the job announces each once.
    server.state.clock.advance(61);
    let seen = wait_for_events(&server, 3).await;
    assert_eq!(
        seen,
        [
            published("now"),
            published("morning-one"),
            published("morning-two")
        ]
    );
    let listed = slugs(&server.get("/api/v1/posts", None).await);
    assert_eq!(listed.len(), 3, "public at once: {listed:?}");
    let revalidation = Revalidation::new(&server.state.config);
    assert!(
        announce_due(&server.state.db, &server.state.clock, &revalidation)
            .await
            .unwrap()
            .is_empty(),
        "nothing is announced twice"
    );

    // A restart (its clock at the real time again, then past the publication) announces
    // nothing more.
    let dir = server.stop().await;
    let again = TestServer::start_in(dir, &env).await;
    again.state.clock.advance(120);
    assert!(
        announce_due(&again.state.db, &again.state.clock, &revalidation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(events(&again).await.len(), 3);

    // Moved to a later time: it leaves the public pages now and is announced again then.
    let editor = again.token(Role::Editor).await;
    let later = blogd::clock::rfc3339(again.state.clock.now() + 3600);
    let moved = again
        .patch(
            "/api/v1/posts/morning-one",
            Some(&editor),
            json!({"published_at": later}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    again.state.clock.advance(3601);
    let seen = wait_for_events(&again, 5).await;
    assert_eq!(
        seen[3..],
        [
            ("post.deleted".to_string(), "morning-one".to_string()),
            published("morning-one")
        ]
    );
}
