//! Personal data rights (export, erasure) and retention.

use blogd::auth::Role;
use blogd::db::users;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestServer};

/// A user with names nothing else in the database contains, signed in: (username, token).
async fn distinctive_user(server: &TestServer, tag: &str, role: Role) -> (String, String) {
    let username = format!("zq{tag}person");
    let new = users::NewUser {
        username: username.clone(),
        email: format!("{tag}.mailbox@zq-example.org"),
        display_name: format!("Zq {tag} Fullname"),
        password_hash: blogd::auth::password::hash_blocking(PASSWORD).unwrap(),
        role,
    };
    let now = server.state.clock.now();
    server
        .state
        .db
        .write(move |tx| users::insert(tx, &new, now))
        .await
        .unwrap();
    let reply = server.login(&username, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    (
        username,
        reply.body["access_token"].as_str().unwrap().to_string(),
    )
}

async fn comment(server: &TestServer, slug: &str, token: Option<&str>, body: Value) {
    let reply = server
        .post(&format!("/api/v1/posts/{slug}/comments"), token, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

fn slugs_of(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_export_holds_the_callers_data_and_nobody_elses() {
    let server = TestServer::start().await;
    let (alice, alice_token) = distinctive_user(&server, "alice", Role::Author).await;
    let (bob, bob_token) = distinctive_user(&server, "bob", Role::Author).await;
    let mine = server
        .create_post(
            &alice_token,
            json!({"title": "Alice writes", "content": "a", "status": "published"}),
        )
        .await;
    let theirs = server
        .create_post(
            &bob_token,
            json!({"title": "Bob writes", "content": "b", "status": "published"}),
        )
        .await;
    let (mine, theirs) = (
        mine["slug"].as_str().unwrap(),
        theirs["slug"].as_str().unwrap(),
    );
    comment(
        &server,
        theirs,
        Some(&alice_token),
        json!({"body": "Alice on Bob's post"}),
    )
    .await;
    comment(
        &server,
        mine,
        Some(&bob_token),
        json!({"body": "Bob on Alice's post"}),
    )
    .await;
    comment(
        &server,
        mine,
        None,
        json!({"author_name": "Stranger", "author_email": "stranger@example.net", "body": "hi"}),
    )
    .await;
    // A second session for Alice.
    server.login(&alice, PASSWORD).await;

    let export = server
        .get("/api/v1/auth/me/export", Some(&alice_token))
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let data = &export.body;
    assert_eq!(data["account"]["username"], alice.as_str());
    assert_eq!(data["account"]["email"], "alice.mailbox@zq-example.org");
    assert_eq!(slugs_of(&data["posts"]), [mine]);
    assert_eq!(data["posts"][0]["content"], "a");
    let comments = data["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["body"], "Alice on Bob's post");
    assert_eq!(data["sessions"].as_array().unwrap().len(), 2);
    assert!(
        data["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "auth.login")
    );
    // Nothing of anyone else, anywhere in the document; and no secrets of hers either.
    let text = data.to_string();
    for other in [
        bob.as_str(),
        "bob.mailbox",
        "Bob on Alice",
        "Stranger",
        "stranger@",
    ] {
        assert!(!text.contains(other), "{other} is in Alice's export");
    }
    for secret in ["password_hash", "$argon2", "totp_secret", "token_hash"] {
        assert!(!text.contains(secret), "{secret} is in the export");
    }

    // Only admins export others.
    let denied = server
        .get(&format!("/api/v1/users/{alice}/export"), Some(&bob_token))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let anonymous = server.get("/api/v1/auth/me/export", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let admin = server.token(Role::Admin).await;
    let by_admin = server
        .get(&format!("/api/v1/users/{bob}/export"), Some(&admin))
        .await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(by_admin.body["account"]["username"], bob.as_str());
    assert_eq!(slugs_of(&by_admin.body["posts"]), [theirs]);
    let missing = server
        .get("/api/v1/users/nobody-here/export", Some(&admin))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Every byte of the database and its WAL, for "no trace left" checks.
fn database_bytes(server: &TestServer) -> Vec<u8> {
    let db = server.state.config.database_path();
    let mut bytes = std::fs::read(&db).unwrap();
    for suffix in ["-wal", "-journal"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        if let Ok(more) = std::fs::read(&path) {
            bytes.extend(more);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test]
async fn erasure_leaves_no_trace_but_the_audit_record_of_itself() {
    let server = TestServer::start().await;
    let (name, token) = distinctive_user(&server, "erin", Role::Author).await;
    let email = "erin.mailbox@zq-example.org";
    let display = "Zq erin Fullname";
    let other = server.token(Role::Author).await;
    let post = server
        .create_post(
            &token,
            json!({"title": "Kept post", "content": "stays", "status": "published"}),
        )
        .await;
    let slug = post["slug"].as_str().unwrap().to_string();
    let elsewhere = server
        .create_post(
            &other,
            json!({"title": "Other post", "content": "x", "status": "published"}),
        )
        .await;
    let elsewhere = elsewhere["slug"].as_str().unwrap();
    comment(
        &server,
        elsewhere,
        Some(&token),
        json!({"body": "signed-in remark"}),
    )
    .await;
    // Also a comment left without signing in, under the same address.
    comment(
        &server,
        elsewhere,
        None,
        json!({"author_name": "E.", "author_email": email, "body": "anonymous remark"}),
    )
    .await;
    // Failed sign-ins and a second session leave security events and session rows.
    server.login(&name, "wrong password").await;
    server.login(&name, PASSWORD).await;
    // The failed sign-in is on record under the name: what the erasure below must remove.
    let (_, recorded, _) = server.wait_for_event("login_failed").await;
    assert_eq!(recorded.as_deref(), Some(name.as_str()));
    assert!(contains(&database_bytes(&server), email));

    let wrong = server
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"password": "not it"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.code(), "validation_error");
    assert!(wrong.body["details"]["password"].is_array());

    let erased = server
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);

    // Nothing of the person in any table, index, free page or the WAL. (Checked first: the
    // sign-in attempt below writes the name again, as an attempt against an unknown user.)
    let bytes = database_bytes(&server);
    for trace in [name.as_str(), email, display] {
        assert!(!contains(&bytes, trace), "{trace} is still in the database");
    }

    // The account is gone: its token and its password no longer work.
    let me = server.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let login = server.login(&name, PASSWORD).await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    // The post stays, under the placeholder author; the comments stay, anonymized.
    let kept = server.get(&format!("/api/v1/posts/{slug}"), None).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(kept.body["author"]["username"], "former-author");
    let admin = server.token(Role::Admin).await;
    let remarks = server
        .get(&format!("/api/v1/posts/{elsewhere}/comments"), Some(&admin))
        .await;
    let remarks = remarks.body["results"].as_array().unwrap().clone();
    assert_eq!(remarks.len(), 2);
    assert!(remarks.iter().all(|c| c["author_name"] == "anonymous"));

    // The erasure itself is on record (without the person's name).
    let audit = server
        .get("/api/v1/audit?action=user.erase", Some(&admin))
        .await;
    assert_eq!(audit.body["pagination"]["total"], 1, "{}", audit.body);
    let record = &audit.body["results"][0];
    assert!(
        record["target"]
            .as_str()
            .unwrap()
            .starts_with("user:erased-user-")
    );
    // Earlier actions keep their place in the trail, under the pseudonym.
    let logins = server
        .get(
            &format!("/api/v1/audit?actor={}", record["actor"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert!(logins.body["pagination"]["total"].as_i64().unwrap() >= 2);
}

#[tokio::test]
async fn admins_erase_others_but_never_the_last_admin_and_posts_may_go_too() {
    let server = TestServer::start_with(&[("BLOGD_PRIVACY_ERASE_POSTS", "delete")]).await;
    let (author, author_token) = server.user_with_token(Role::Author).await;
    let post = server
        .create_post(
            &author_token,
            json!({"title": "Goes away", "content": "x", "status": "published"}),
        )
        .await;
    let slug = post["slug"].as_str().unwrap();
    let (admin, admin_token) = server.user_with_token(Role::Admin).await;

    // Not for editors.
    let editor = server.token(Role::Editor).await;
    let refused = server
        .delete(&format!("/api/v1/users/{author}"), Some(&editor))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let erased = server
        .delete(&format!("/api/v1/users/{author}"), Some(&admin_token))
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    assert_eq!(
        server
            .get(&format!("/api/v1/posts/{slug}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let audit = server
        .get("/api/v1/audit?action=user.erase", Some(&admin_token))
        .await;
    assert_eq!(audit.body["results"][0]["actor"], admin.as_str());

    // The first admin (made at start) and this one: erase one, then the last is protected.
    let first = server
        .state
        .db
        .read(|c| Ok(users::by_id(c, 1)?.username))
        .await
        .unwrap();
    let gone = server
        .delete(&format!("/api/v1/users/{first}"), Some(&admin_token))
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let last = server
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&admin_token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    assert_eq!(last.code(), "conflict");
}

#[tokio::test]
async fn erasure_with_two_factor_needs_a_code() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token(Role::Author).await;
    let setup = server
        .send(Method::POST, "/api/v1/auth/totp/setup", Some(&token), None)
        .await;
    let secret = crate::accounts::base32_decode(setup.body["secret"].as_str().unwrap());
    let code =
        |server: &TestServer| blogd::auth::totp::code_at(&secret, server.state.clock.now() / 30);
    let confirmed = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code(&server), "password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    server.state.clock.advance(30);

    for body in [
        json!({"password": PASSWORD}),
        json!({"password": PASSWORD, "code": "000000"}),
    ] {
        let refused = server
            .send(Method::DELETE, "/api/v1/auth/me", Some(&token), Some(body))
            .await;
        assert_eq!(refused.code(), "invalid_mfa_code", "{}", refused.body);
    }
    let erased = server
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"password": PASSWORD, "code": code(&server)})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
}

#[tokio::test]
async fn retention_removes_old_records_and_says_what_it_removed() {
    let server = TestServer::start().await;
    let token = server.token(Role::Author).await;
    let post = server
        .create_post(
            &token,
            json!({"title": "Commented", "content": "x", "status": "published"}),
        )
        .await;
    let slug = post["slug"].as_str().unwrap().to_string();
    comment(
        &server,
        &slug,
        None,
        json!({"author_name": "Old", "author_email": "old@example.net", "body": "old"}),
    )
    .await;
    let now = server.state.clock.now();
    // Records from long ago, next to fresh ones.
    server
        .state
        .db
        .write(move |tx| {
            let day = 86_400;
            tx.execute(
                "INSERT INTO security_events (time, kind, detail) VALUES (?1, 'old_event', ''), (?2, 'new_event', '')",
                [now - 100 * day, now],
            )?;
            tx.execute(
                "INSERT INTO audit_log (time, actor, action) VALUES (?1, 'system', 'old.action')",
                [now - 400 * day],
            )?;
            tx.execute(
                "INSERT INTO pageviews (time, path) VALUES (?1, '/old'), (?2, '/new')",
                [now - 400 * day, now],
            )?;
            tx.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ('gone', ?1), ('live', ?2)",
                [now - 1, now + 600],
            )?;
                        // Anonymous commenters' addresses go after 90 days.
            tx.execute("UPDATE comments SET created_at = ?1", [now - 91 * day])?;
            Ok(())
        })
        .await
        .unwrap();

    let removed = blogd::ops::maintenance::run_once(
        &server.state.db,
        &server.state.clock,
        (&server.state.config.privacy).into(),
    )
    .await
    .unwrap();
    let count = |kind: &str| removed.iter().find(|(k, _)| *k == kind).unwrap().1;
    assert_eq!(count("comment e-mails"), 1);
    assert_eq!(count("security events"), 1);
    assert_eq!(count("audit records"), 1);
    assert_eq!(count("page views"), 1);
    assert_eq!(count("revoked tokens"), 1, "only the expired one");

    let left = server
        .state
        .db
        .read(|c| {
            let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok((
                q("SELECT COUNT(*) FROM comments WHERE author_email IS NOT NULL")?,
                q("SELECT COUNT(*) FROM security_events WHERE kind = 'new_event'")?,
                q("SELECT COUNT(*) FROM pageviews WHERE path = '/new'")?,
                q("SELECT COUNT(*) FROM audit_log WHERE action = 'retention.cleanup'")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(left, (0, 1, 1, 1));
    // The comment itself stays.
    let admin = server.token(Role::Admin).await;
    let comments = server
        .get(&format!("/api/v1/posts/{slug}/comments"), Some(&admin))
        .await;
    assert_eq!(comments.body["results"][0]["author_name"], "Old");

    // A second pass finds nothing more and records nothing.
    let again = blogd::ops::maintenance::run_once(
        &server.state.db,
        &server.state.clock,
        (&server.state.config.privacy).into(),
    )
    .await
    .unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

/// Security events name a person in several ways: what was typed at sign-in (any case of
/// the name or the address), `user N (role)` once signed in, `user N:` in a detail. Erasure
/// finds them all and takes the address with them.
#[tokio::test]
async fn erasure_reaches_every_way_security_events_name_a_person() {
    let server = TestServer::start().await;
    let (name, token) = distinctive_user(&server, "vera", Role::Author).await;
    let email = "vera.mailbox@zq-example.org";
    let id = server.get("/api/v1/auth/me", Some(&token)).await.body["id"]
        .as_i64()
        .unwrap();
    for typed in [
        name.to_uppercase(),
        "Vera.Mailbox@ZQ-Example.org".to_string(),
    ] {
        server.login(&typed, "wrong password").await;
    }
    // Someone else's draft: an access_denied event labelled with this user.
    let other = server.token(Role::Author).await;
    let draft = server
        .create_post(&other, json!({"title": "Hidden", "content": "x"}))
        .await;
    let hidden = server
        .get(
            &format!("/api/v1/posts/{}", draft["slug"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // A refresh token spent twice: a reuse event naming `user N:`.
    let (_, refresh) = server.login_pair(&name).await;
    for _ in 0..2 {
        server
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await;
    }
    for kind in ["login_failed", "access_denied", "refresh_token_reuse"] {
        server.wait_for_event(kind).await;
    }
    let erased = server
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);

    let label = format!("user {id}");
    let left: Vec<(String, Option<String>, Option<String>, String)> = server
        .state
        .db
        .read(|c| {
            let mut s = c.prepare("SELECT kind, username, ip, detail FROM security_events")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    for (kind, username, ip, detail) in &left {
        let named = |t: &str| {
            let t = t.to_lowercase();
            t.contains(&name.to_lowercase())
                || t.contains(email)
                || t == label
                || t.starts_with(&format!("{label} ("))
                || t.starts_with(&format!("{label}:"))
        };
        assert!(
            !username.as_deref().is_some_and(named) && !named(detail),
            "{kind} still names them: {username:?} {detail}"
        );
        if *detail == "(erased)" {
            assert_eq!(ip, &None, "{kind}: the address went with the name");
        }
    }
    let erased_rows = left.iter().filter(|r| r.3 == "(erased)").count();
    assert!(erased_rows >= 4, "{left:?}");
}
