//! Accounts and tokens under attack: refresh reuse, revocation, lockout, enumeration, key
//! rotation, privilege changes, TOTP, sessions, admin network limits, audit.

use blogd::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestServer};

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Author).await;
    let (_, first_refresh) = server.login_pair(&username).await;

    let rotated = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_access = rotated.body["access_token"].as_str().unwrap().to_string();
    let new_refresh = rotated.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, first_refresh);
    assert_eq!(
        server
            .get("/api/v1/auth/me", Some(&new_access))
            .await
            .status,
        StatusCode::OK
    );

    // An attacker replays the spent token: refused, and the legitimate holder's newer tokens die too.
    let replay = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.code(), "token_revoked");
    let newer = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": new_refresh}),
        )
        .await;
    assert_eq!(newer.code(), "token_revoked");
    let me = server.get("/api/v1/auth/me", Some(&new_access)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.code(), "token_revoked");
    server.wait_for_event("refresh_token_reuse").await;

    let forged = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "f".repeat(64)}),
        )
        .await;
    assert_eq!(
        forged.code(),
        "token_invalid",
        "a refresh token never issued"
    );
}

#[tokio::test]
async fn logout_kills_the_token_at_once_and_after_a_restart() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    let (access, refresh) = server.login_pair(&username).await;
    let (other_access, _) = server.login_pair(&username).await;

    let out = server
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    let again = server.get("/api/v1/auth/me", Some(&access)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.code(), "token_revoked");
    let refreshed = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(
        refreshed.code(),
        "token_revoked",
        "the session's refresh token died with it"
    );
    assert_eq!(
        server
            .get("/api/v1/auth/me", Some(&other_access))
            .await
            .status,
        StatusCode::OK,
        "other sessions live on"
    );

    let dir = server.stop().await;
    let server = TestServer::start_in(dir, &[]).await;
    let after_restart = server.get("/api/v1/auth/me", Some(&access)).await;
    assert_eq!(
        after_restart.code(),
        "token_revoked",
        "a restart brings nothing back to life"
    );
    assert_eq!(
        server
            .get("/api/v1/auth/me", Some(&other_access))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_with_a_refresh_token_ends_that_session_too_but_only_the_callers() {
    let server = TestServer::start().await;
    let alice = server.create_user(Role::Reader).await;
    let bob = server.create_user(Role::Reader).await;
    let (a1, _) = server.login_pair(&alice).await;
    let (a2, a2_refresh) = server.login_pair(&alice).await;
    let (b1, b1_refresh) = server.login_pair(&bob).await;
    let out = server
        .post(
            "/api/v1/auth/logout",
            Some(&a1),
            json!({"refresh_token": a2_refresh}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&a2)).await.code(),
        "token_revoked"
    );
    // Alice cannot end Bob's session by presenting his refresh token: her own session ends
    // (what she asked for), his token is ignored.
    let (a3, _) = server.login_pair(&alice).await;
    let out = server
        .post(
            "/api/v1/auth/logout",
            Some(&a3),
            json!({"refresh_token": b1_refresh}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&a3)).await.code(),
        "token_revoked"
    );
    let bob_now = server.get("/api/v1/auth/me", Some(&b1)).await;
    assert_eq!(bob_now.status, StatusCode::OK, "{}", bob_now.body);
    assert_eq!(bob_now.body["username"], bob.as_str());
    let refreshed = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": b1_refresh}),
        )
        .await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "his session goes on: {}",
        refreshed.body
    );
}

#[tokio::test]
async fn password_change_checks_and_ends_other_sessions() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Author).await;
    let (current, _) = server.login_pair(&username).await;
    let (other, _) = server.login_pair(&username).await;

    let wrong = server.post("/api/v1/auth/password", Some(&current), json!({"current_password": "nope-nope-nope", "new_password": "another-long-passphrase"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body["details"]["current_password"].is_array());
    for weak in ["short", "password123456", &format!("{username}-is-my-name")] {
        let reply = server
            .post(
                "/api/v1/auth/password",
                Some(&current),
                json!({"current_password": PASSWORD, "new_password": weak}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{weak}");
        assert!(
            reply.body["details"]["new_password"].is_array(),
            "{weak}: {}",
            reply.body
        );
    }
    let ok = server
        .post(
            "/api/v1/auth/password",
            Some(&current),
            json!({"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.body);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&current)).await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&other)).await.code(),
        "token_revoked"
    );
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .login(&username, "a-brand-new-passphrase")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Author).await;
    for attempt in 1..=5 {
        let reply = server.login(&username, "wrong-password-guess").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(reply.code(), "invalid_credentials");
    }
    let locked = server.login(&username, PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::LOCKED,
        "locked even with the right password"
    );
    assert_eq!(locked.code(), "account_locked");
    server.wait_for_event("account_locked").await;

    server.state.clock.advance(14 * 60);
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::LOCKED
    );
    server.state.clock.advance(61);
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::OK,
        "unlocked after the window"
    );
}

#[tokio::test]
async fn failures_outside_the_window_do_not_add_up() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    for _ in 0..4 {
        server.login(&username, "wrong-password-guess").await;
    }
    server.state.clock.advance(16 * 60);
    for _ in 0..4 {
        server.login(&username, "wrong-password-guess").await;
    }
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::OK
    );
    // A success resets the count.
    for _ in 0..4 {
        server.login(&username, "wrong-password-guess").await;
    }
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::OK
    );
}

/// An unknown username costs a full password check, like a known one, so the answer time
/// does not tell which accounts exist. Counted, not timed: each argon2 check takes its
/// memory (19 MiB) in one allocation, on a thread of the runtime the server runs on, and
/// only this test's runtime threads are counted.
#[test]
fn unknown_users_cost_a_full_password_check_like_known_ones() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(crate::probe::count_this_thread)
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = TestServer::start().await;
        let username = server.create_user(Role::Reader).await;
        let cost = async |who: &str| {
            let (count, bytes) = crate::probe::large_allocations();
            let reply = server.login(who, "wrong-password-guess").await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{who}");
            let (count_after, bytes_after) = crate::probe::large_allocations();
            (count_after - count, bytes_after - bytes)
        };
        let known = cost(&username).await;
        assert_eq!(
            known,
            (1, 19 * 1024 * 1024),
            "one argon2id check (m = 19 MiB) for a wrong password"
        );
        for unknown in ["nobody-at-all", "ghost-1"] {
            assert_eq!(
                cost(unknown).await,
                known,
                "the same check for a user who does not exist"
            );
        }
    });
}

#[tokio::test]
async fn weak_old_hashes_are_upgraded_on_sign_in() {
    use argon2::password_hash::PasswordHasher;
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    let name = username.clone();
    server
        .state
        .db
        .write(move |tx| {
            Ok(tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE username = ?2",
                [&weak, &name],
            )?)
        })
        .await
        .unwrap();
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::OK
    );
    let name = username.clone();
    let hash = server
        .state
        .db
        .read(move |c| blogd::db::users::by_username(c, &name))
        .await
        .unwrap()
        .password_hash;
    assert!(hash.contains("m=19456,t=2"), "{hash}");
    assert_eq!(
        server.login(&username, PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_working_until_they_expire() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    let (old_token, _) = server.login_pair(&username).await;
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    let secrets = server.dir.path().join("secrets.toml");

    blogd::secrets::rotate_jwt(&secrets, server.state.clock.now(), 930).unwrap();
    server.state.reload_keys().unwrap();
    let (new_token, _) = server.login_pair(&username).await;
    let new_kid = jsonwebtoken::decode_header(&new_token)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid, "new tokens are signed with the new key");
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&old_token)).await.status,
        StatusCode::OK,
        "old tokens still verify"
    );
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&new_token)).await.status,
        StatusCode::OK
    );

    // Once every token the old key signed has expired, the key is dropped: a token signed with
    // it now (a leaked old key) is refused.
    let old_secret = {
        let file: blogd::secrets::SecretsFile =
            toml::from_str(&std::fs::read_to_string(&secrets).unwrap()).unwrap();
        file.jwt_keys
            .iter()
            .find(|k| k.kid == old_kid)
            .unwrap()
            .secret
            .clone()
    };
    server.state.clock.advance(931);
    let now = server.state.clock.now();
    blogd::secrets::rotate_jwt(&secrets, now, 930).unwrap();
    server.state.reload_keys().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(old_kid);
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<blogd::auth::tokens::Claims>(&new_token)
            .unwrap()
            .claims;
    let mut fresh = claims.clone();
    fresh.iat = now;
    fresh.exp = now + 600;
    let forged = jsonwebtoken::encode(
        &header,
        &fresh,
        &jsonwebtoken::EncodingKey::from_secret(old_secret.as_bytes()),
    )
    .unwrap();
    let reply = server.get("/api/v1/auth/me", Some(&forged)).await;
    assert_eq!(
        reply.code(),
        "token_invalid",
        "a dropped key signs nothing any more"
    );
}

#[tokio::test]
async fn role_changes_and_deactivation_apply_at_once() {
    let server = TestServer::start().await;
    let admin = server.token(Role::Admin).await;
    let (name, token) = server.user_with_token(Role::Editor).await;
    assert_eq!(
        server
            .get("/api/v1/posts?status=draft", Some(&token))
            .await
            .status,
        StatusCode::OK
    );

    let demoted = server
        .patch(
            &format!("/api/v1/users/{name}"),
            Some(&admin),
            json!({"role": "reader"}),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    assert_eq!(demoted.body["role"], "reader");
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&token)).await.code(),
        "token_revoked",
        "the old role's token is dead"
    );
    let (reader_token, _) = server.login_pair(&name).await;
    let refused = server
        .post(
            "/api/v1/categories",
            Some(&reader_token),
            json!({"name": "X"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let off = server
        .patch(
            &format!("/api/v1/users/{name}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(off.body["active"], false);
    assert_eq!(
        server
            .get("/api/v1/auth/me", Some(&reader_token))
            .await
            .code(),
        "token_revoked"
    );
    assert_eq!(
        server.login(&name, PASSWORD).await.code(),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_deactivated() {
    let server = TestServer::start().await;
    let first = server.first_admin_password.clone().unwrap();
    let admin = server.login("admin", &first).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    for body in [json!({"role": "editor"}), json!({"active": false})] {
        let reply = server
            .patch("/api/v1/users/admin", Some(&admin), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{body}");
    }
    let second = server.create_user(Role::Admin).await;
    let reply = server
        .patch(
            "/api/v1/users/admin",
            Some(&admin),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let (second_token, _) = server.login_pair(&second).await;
    let reply = server
        .patch(
            &format!("/api/v1/users/{second}"),
            Some(&second_token),
            json!({"active": false}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CONFLICT,
        "the remaining admin cannot switch themself off"
    );
}

#[tokio::test]
async fn privilege_escalation_attempts_fail() {
    let server = TestServer::start().await;
    let (name, author) = server.user_with_token(Role::Author).await;
    let reader = server.token(Role::Reader).await;
    for token in [&author, &reader] {
        assert_eq!(
            server.get("/api/v1/users", Some(token)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            server.get("/api/v1/audit", Some(token)).await.status,
            StatusCode::FORBIDDEN
        );
        let create = server.post("/api/v1/users", Some(token), json!({"username": "evil", "email": "e@example.com", "password": "a-long-enough-secret", "role": "admin"})).await;
        assert_eq!(create.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        server.get("/api/v1/users", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let raise = server
        .patch("/api/v1/auth/me", Some(&author), json!({"role": "admin"}))
        .await;
    assert_eq!(raise.status, StatusCode::BAD_REQUEST);
    assert_eq!(raise.body["details"]["role"], json!(["Unknown field"]));
    let raise = server
        .patch(
            &format!("/api/v1/users/{name}"),
            Some(&author),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(raise.status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&author)).await.body["role"],
        "author"
    );

    let profile = server
        .patch(
            "/api/v1/auth/me",
            Some(&author),
            json!({"display_name": "Ann", "bio": "Writes."}),
        )
        .await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["bio"], "Writes.");
    assert_eq!(
        server
            .get(&format!("/api/v1/authors/{name}"), None)
            .await
            .body["display_name"],
        "Ann"
    );
}

#[tokio::test]
async fn registration_is_closed_by_default() {
    let closed = TestServer::start().await;
    let reply = closed.post("/api/v1/auth/register", None, json!({"username": "newbie", "email": "n@example.com", "password": "a-long-enough-secret"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "registration_closed");

    let open = TestServer::start_with(&[("BLOGD_AUTH_OPEN_REGISTRATION", "true")]).await;
    let reply = open.post("/api/v1/auth/register", None, json!({"username": "newbie", "email": "n@example.com", "password": "a-long-enough-secret"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["role"], "reader");
    assert!(reply.body.get("password_hash").is_none());
    let dup = open.post("/api/v1/auth/register", None, json!({"username": "NEWBIE", "email": "other@example.com", "password": "a-long-enough-secret"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let weak = open
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "other", "email": "o@example.com", "password": "iloveyou12345"}),
        )
        .await;
    assert!(weak.body["details"]["password"].is_array(), "{}", weak.body);
    let sneaky = open.post("/api/v1/auth/register", None, json!({"username": "x1x", "email": "x@example.com", "password": "a-long-enough-secret", "role": "admin"})).await;
    assert_eq!(
        sneaky.status,
        StatusCode::BAD_REQUEST,
        "no choosing your role"
    );
}

/// RFC 4648 base32 (no padding) decoding, for the secret the setup returns.
pub fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars() {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The first sign-in step of a TOTP user: a new mfa token.
async fn fresh_mfa(server: &TestServer, name: &str) -> String {
    let step = server.login(name, PASSWORD).await;
    step.body["mfa_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn totp_sign_in_with_codes_replays_and_recovery_codes() {
    let server = TestServer::start().await;
    let (name, token) = server.user_with_token(Role::Editor).await;
    let setup = server
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/totp/setup",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    assert!(
        setup.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = base32_decode(setup.body["secret"].as_str().unwrap());
    let code_now =
        |server: &TestServer| blogd::auth::totp::code_at(&secret, server.state.clock.now() / 30);

    let bad = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": "000000", "password": PASSWORD}),
        )
        .await;
    assert_eq!(bad.code(), "invalid_mfa_code");
    let confirmed = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code_now(&server), "password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.body["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    // The secret is encrypted at rest.
    let raw: String = server
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT totp_secret FROM users WHERE username = ?1",
                [&name],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    // Neither the raw bytes (as hex) nor the base32 form the API showed.
    let shown = setup.body["secret"].as_str().unwrap().to_string();
    assert!(!raw.contains(&hex::encode(&secret)), "{raw}");
    assert!(!raw.to_uppercase().contains(&shown), "{raw}");
    assert!(!raw.is_empty());

    let name = server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT username FROM users WHERE totp_enabled = 1",
                [],
                |r| r.get::<_, String>(0),
            )?)
        })
        .await
        .unwrap();
    let step_one = server.login(&name, PASSWORD).await;
    assert_eq!(step_one.status, StatusCode::OK);
    assert_eq!(step_one.body["mfa_required"], true);
    assert!(
        step_one.body.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let mfa = step_one.body["mfa_token"].as_str().unwrap().to_string();
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&mfa)).await.code(),
        "token_invalid",
        "an mfa token is not an access token"
    );

    let wrong = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": "123456"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "invalid_mfa_code");
    server.state.clock.advance(30);
    let code = code_now(&server);
    let ok = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": code}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body["access_token"].is_string());
    let replay = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": fresh_mfa(&server, &name).await, "code": code}),
        )
        .await;
    assert_eq!(replay.code(), "invalid_mfa_code", "a code works once");
    // One mfa token, one session: with a fresh code it opens nothing more.
    server.state.clock.advance(30);
    let again = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": code_now(&server)}),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    assert_eq!(again.code(), "token_revoked");

    let recovery_ok = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": fresh_mfa(&server, &name).await, "code": recovery[0]}),
        )
        .await;
    assert_eq!(recovery_ok.status, StatusCode::OK);
    let recovery_again = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": fresh_mfa(&server, &name).await, "code": recovery[0].to_uppercase()}),
        )
        .await;
    assert_eq!(
        recovery_again.code(),
        "invalid_mfa_code",
        "a recovery code works once"
    );
    server.wait_for_event("mfa_failed").await;

    // Turning it off needs the password.
    let access = ok.body["access_token"].as_str().unwrap().to_string();
    let refused = server
        .send(
            reqwest::Method::DELETE,
            "/api/v1/auth/totp",
            Some(&access),
            Some(json!({"password": "wrong-password"})),
        )
        .await;
    assert!(refused.body["details"]["password"].is_array());
    let off = server
        .send(
            reqwest::Method::DELETE,
            "/api/v1/auth/totp",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert!(server.login(&name, PASSWORD).await.body["access_token"].is_string());
}

#[tokio::test]
async fn required_totp_confines_a_user_until_set_up() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_REQUIRE_TOTP_FOR", "admin")]).await;
    let admin = server.token(Role::Admin).await;
    let editor = server.token(Role::Editor).await;
    let refused = server.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body["error"].as_str().unwrap().contains("totp"),
        "{}",
        refused.body
    );
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&admin)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/totp/setup",
                Some(&admin),
                None
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        server
            .get("/api/v1/posts?status=draft", Some(&editor))
            .await
            .status,
        StatusCode::OK,
        "other roles are free"
    );
}

#[tokio::test]
async fn sessions_can_be_listed_and_ended() {
    let server = TestServer::start().await;
    let admin = server.token(Role::Admin).await;
    let username = server.create_user(Role::Reader).await;
    let (laptop, _) = server.login_pair(&username).await;
    let (phone, phone_refresh) = server.login_pair(&username).await;
    let list = server.get("/api/v1/auth/sessions", Some(&laptop)).await;
    assert_eq!(list.body["pagination"]["total"], 2);
    let sessions = list.body["results"].as_array().unwrap();
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let laptop_sid =
        jsonwebtoken::dangerous::insecure_decode::<blogd::auth::tokens::Claims>(&laptop)
            .unwrap()
            .claims
            .sid;
    assert_eq!(
        current[0]["id"],
        laptop_sid.as_str(),
        "the token's sid is the session id"
    );
    let phone_sid = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let stranger = server.token(Role::Author).await;
    assert_eq!(
        server
            .delete(
                &format!("/api/v1/auth/sessions/{phone_sid}"),
                Some(&stranger)
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .get(
                &format!("/api/v1/auth/sessions?user={username}"),
                Some(&stranger)
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .get(
                &format!("/api/v1/auth/sessions?user={username}"),
                Some(&admin)
            )
            .await
            .body["pagination"]["total"],
        2
    );

    assert_eq!(
        server
            .delete(&format!("/api/v1/auth/sessions/{phone_sid}"), Some(&laptop))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&phone)).await.code(),
        "token_revoked"
    );
    let refresh = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": phone_refresh}),
        )
        .await;
    assert_eq!(refresh.code(), "token_revoked");
    assert_eq!(
        server
            .get("/api/v1/auth/sessions", Some(&laptop))
            .await
            .body["pagination"]["total"],
        1
    );
}

#[tokio::test]
async fn admins_sign_in_only_from_allowed_networks() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_ADMIN_ALLOW", "10.0.0.0/8")]).await;
    let admin = server.create_user(Role::Admin).await;
    let reply = server.login(&admin, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let (ip, user, _) = server.wait_for_event("admin_ip_refused").await;
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(user.as_deref(), Some(admin.as_str()));
    let editor = server.create_user(Role::Editor).await;
    assert_eq!(
        server.login(&editor, PASSWORD).await.status,
        StatusCode::OK,
        "other roles are not limited"
    );

    // An admin token minted elsewhere (or before the limit) is refused here too.
    let open = TestServer::start().await;
    let token = open.token(Role::Admin).await;
    let dir = open.stop().await;
    let limited = TestServer::start_in(dir, &[("BLOGD_AUTH_ADMIN_ALLOW", "10.0.0.0/8")]).await;
    assert_eq!(
        limited.get("/api/v1/users", Some(&token)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_from_where() {
    let server = TestServer::start().await;
    let admin = server.token(Role::Admin).await;
    let (author_name, author) = server.user_with_token(Role::Author).await;
    let created = server
        .client
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&author)
        .header("x-request-id", "trace-me-1")
        .json(&json!({"title": "Audited", "content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    server.login(&author_name, "wrong-password-guess").await;

    let log = server
        .get("/api/v1/audit?action=post.create", Some(&admin))
        .await;
    assert_eq!(log.status, StatusCode::OK);
    let item = &log.body["results"][0];
    assert_eq!(item["actor"], author_name.as_str());
    assert_eq!(item["target"], "post:audited");
    assert_eq!(item["ip"], "127.0.0.1");
    assert_eq!(item["request_id"], "trace-me-1");
    let failed = server
        .get(
            &format!("/api/v1/audit?action=auth.login_failed&actor={author_name}"),
            Some(&admin),
        )
        .await;
    assert_eq!(failed.body["pagination"]["total"], 1);
    let logins = server
        .get("/api/v1/audit?action=auth.login", Some(&admin))
        .await;
    assert!(logins.body["pagination"]["total"].as_i64().unwrap() >= 2);

    // Append-only: the database itself refuses to change what was done or when. (Only the
    // personal fields may be blanked, by an erasure.)
    for edit in [
        "UPDATE audit_log SET action = 'nothing'",
        "UPDATE audit_log SET time = 0",
    ] {
        let tampered = server
            .state
            .db
            .write(move |tx| Ok(tx.execute(edit, [])?))
            .await;
        assert!(tampered.is_err(), "{edit} must be refused");
    }
}

#[tokio::test]
async fn refusals_are_security_events() {
    let server = TestServer::start().await;
    let reader = server.token(Role::Reader).await;
    server
        .post("/api/v1/categories", Some(&reader), json!({"name": "X"}))
        .await;
    let (_, user, detail) = server.wait_for_event("access_denied").await;
    assert!(user.is_some());
    assert!(detail.contains("/api/v1/categories"), "{detail}");
    server.get("/api/v1/auth/me", Some("garbage")).await;
    server.wait_for_event("token_invalid").await;
    server.login("who-is-this", "wrong-password-guess").await;
    let (_, user, _) = server.wait_for_event("login_failed").await;
    assert_eq!(user.as_deref(), Some("who-is-this"));
}

#[tokio::test]
async fn logout_with_the_refresh_token_alone_ends_its_session() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    let login = server.login(&username, PASSWORD).await;
    assert_eq!(
        login.body["type"], "tokens",
        "the login answer's discriminator"
    );
    let (access, refresh) = server.login_pair(&username).await;
    let (other, _) = server.login_pair(&username).await;

    // The access token has run out: the refresh token alone signs out, no refresh first.
    server.state.clock.advance(16 * 60);
    let expired = server.get("/api/v1/auth/me", Some(&access)).await;
    assert_eq!(expired.code(), "token_expired");
    let out = server
        .post(
            "/api/v1/auth/logout",
            Some(&access),
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    let refreshed = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(refreshed.code(), "token_revoked");
    assert!(
        refreshed.body["error"]
            .as_str()
            .unwrap()
            .contains("refresh token"),
        "{}",
        refreshed.body
    );
    // Again, without any access token: nothing left to end, still fine.
    let again = server
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    // Other sessions live on (their access tokens are still within their time here).
    server.state.clock.advance(-16 * 60);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&other)).await.status,
        StatusCode::OK
    );

    // A refresh token the server never issued; no credentials at all.
    let unknown = server
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": "not-a-token"}),
        )
        .await;
    assert_eq!(unknown.code(), "token_invalid");
    assert_eq!(unknown.body["error"], "The refresh token is invalid");
    let nothing = server
        .send(reqwest::Method::POST, "/api/v1/auth/logout", None, None)
        .await;
    assert_eq!(nothing.code(), "unauthorized");
}

#[tokio::test]
async fn token_errors_name_the_kind_of_token() {
    let server = TestServer::start().await;
    let garbage = server.get("/api/v1/auth/me", Some("garbage")).await;
    assert_eq!(garbage.body["error"], "The access token is invalid");
    let refresh = server
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "garbage"}),
        )
        .await;
    assert_eq!(
        (refresh.code(), refresh.body["error"].as_str().unwrap()),
        ("token_invalid", "The refresh token is invalid")
    );
    let mfa = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": "garbage", "code": "123456"}),
        )
        .await;
    assert_eq!(
        (mfa.code(), mfa.body["error"].as_str().unwrap()),
        ("token_invalid", "The mfa_token is invalid")
    );
}

/// Names that look like another (a Cyrillic `а`, fullwidth letters, invisible characters)
/// are refused at every door, so `console`, `admin` and the other names the audit trail
/// relies on mean one account each.
#[tokio::test]
async fn look_alike_usernames_are_refused() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_OPEN_REGISTRATION", "true")]).await;
    let admin = server.token(Role::Admin).await;
    for name in [
        "\u{430}dmin2",
        "ｃｏｎｓｏｌｅ",
        "sys\u{200b}tem",
        "root\u{301}",
    ] {
        let body =
            json!({"username": name, "email": "l@example.com", "password": "a-long-enough-secret"});
        let registered = server
            .post("/api/v1/auth/register", None, body.clone())
            .await;
        assert_eq!(registered.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert!(registered.body["details"]["username"].is_array());
        let mut made = body;
        made["role"] = json!("reader");
        let created = server.post("/api/v1/users", Some(&admin), made).await;
        assert_eq!(created.status, StatusCode::BAD_REQUEST, "{name:?}");
        let cli = crate::common::blogd_run(
            server.dir.path(),
            &[
                "user",
                "create",
                "--username",
                name,
                "--email",
                "l@example.com",
            ],
        )
        .await;
        assert!(!cli.status.success(), "{name:?} through the shell");
    }
}

/// Binding an authenticator needs the password (a stolen access token alone cannot lock
/// the owner out) and ends the sessions opened with the password alone; for a role that
/// must use two-factor sign-in, turning it off ends the session too.
#[tokio::test]
async fn two_factor_changes_are_reauthenticated_and_end_stale_sessions() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_REQUIRE_TOTP_FOR", "admin")]).await;
    let (name, token) = server.user_with_token(Role::Editor).await;
    let (_, other_session) = server.login_pair(&name).await;
    let setup = server
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/totp/setup",
            Some(&token),
            None,
        )
        .await;
    let secret = base32_decode(setup.body["secret"].as_str().unwrap());
    let code = || blogd::auth::totp::code_at(&secret, server.state.clock.now() / 30);
    let without = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code()}),
        )
        .await;
    assert_eq!(without.status, StatusCode::BAD_REQUEST, "{}", without.body);
    let wrong = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code(), "password": "not-the-password"}),
        )
        .await;
    assert!(
        wrong.body["details"]["password"].is_array(),
        "{}",
        wrong.body
    );
    let enabled = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server
            .get("/api/v1/auth/me", Some(&other_session))
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a password-only session ends when the second factor is bound"
    );

    // An admin, who must use two-factor sign-in, turns it off: that session ends with it.
    let admin = server.create_user(Role::Admin).await;
    let pending = server.login(&admin, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let setup = server
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/totp/setup",
            Some(&pending),
            None,
        )
        .await;
    let secret = base32_decode(setup.body["secret"].as_str().unwrap());
    let code = || blogd::auth::totp::code_at(&secret, server.state.clock.now() / 30);
    let enabled = server
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&pending),
            json!({"code": code(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    server.state.clock.advance(30);
    let mfa = fresh_mfa(&server, &admin).await;
    let signed = server
        .post(
            "/api/v1/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": code()}),
        )
        .await;
    let access = signed.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        server.get("/api/v1/users", Some(&access)).await.status,
        StatusCode::OK
    );
    let off = server
        .send(
            reqwest::Method::DELETE,
            "/api/v1/auth/totp",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/api/v1/users", Some(&access)).await.status,
        StatusCode::UNAUTHORIZED,
        "no admin session outlives its second factor"
    );
}

/// The lockout counts per name and address: an attacker's wrong passwords lock the
/// attacker's address out of the account, never the owner elsewhere, and a name that
/// matches no account answers exactly like one that does (401, then 423): no weapon, no
/// oracle.
#[tokio::test]
async fn the_lockout_is_neither_a_weapon_nor_an_oracle() {
    let server = TestServer::start_with(&[
        ("BLOGD_SERVER_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("BLOGD_THROTTLE_ALLOW", "0.0.0.0/0,::/0"),
    ])
    .await;
    let owner = server.create_user(Role::Admin).await;
    let from = |ip: &'static str, name: &str, password: &str| {
        let request = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": name, "password": password}));
        async move { crate::common::reply(request.send().await.unwrap()).await }
    };
    for name in [owner.as_str(), "nobody-by-this-name"] {
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(
                from("203.0.113.66", name, "wrong-password-guess")
                    .await
                    .status,
            );
        }
        assert_eq!(
            answers,
            [401, 401, 401, 401, 401, 423].map(|s| StatusCode::from_u16(s).unwrap()),
            "{name}: known and unknown names answer alike"
        );
    }
    // The attacker's address waits; the owner, elsewhere, signs in.
    assert_eq!(
        from("203.0.113.66", &owner, PASSWORD).await.status,
        StatusCode::LOCKED
    );
    let owner_login = from("198.51.100.7", &owner, PASSWORD).await;
    assert_eq!(owner_login.status, StatusCode::OK, "{}", owner_login.body);
    // Fifteen minutes on, the attacker may try again (and is counted again).
    server.state.clock.advance(15 * 60 + 1);
    assert_eq!(
        from("203.0.113.66", &owner, "wrong-password-guess")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// Registration does not tell which half of a taken pair is taken: an e-mail address
/// is nobody else's business.
#[tokio::test]
async fn registration_does_not_reveal_a_taken_address() {
    let server = TestServer::start_with(&[("BLOGD_AUTH_OPEN_REGISTRATION", "true")]).await;
    let existing = server.create_user(Role::Reader).await;
    let body = |username: &str, email: String| json!({"username": username, "email": email, "password": "a-long-enough-secret"});
    let by_email = server
        .post(
            "/api/v1/auth/register",
            None,
            body("fresh-name", format!("{existing}@example.com")),
        )
        .await;
    let by_name = server
        .post(
            "/api/v1/auth/register",
            None,
            body(&existing, "fresh@example.com".into()),
        )
        .await;
    assert_eq!(by_email.status, StatusCode::CONFLICT);
    assert_eq!(by_name.status, StatusCode::CONFLICT);
    assert_eq!(by_email.body["error"], by_name.body["error"]);
    assert!(
        !by_email.body["error"]
            .as_str()
            .unwrap()
            .contains("email is already")
    );
}
