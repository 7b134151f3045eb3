//! Sign-in and access tokens: what works, and every way a token can be wrong.

use std::os::unix::fs::PermissionsExt;

use blogd::auth::Role;
use blogd::auth::tokens::{AUDIENCE, Claims, ISSUER};
use blogd::secrets::SecretsFile;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestServer};

/// The server's current signing key, read from its secrets file.
fn server_key(server: &TestServer) -> (String, String) {
    let text = std::fs::read_to_string(server.dir.path().join("secrets.toml")).unwrap();
    let file: SecretsFile = toml::from_str(&text).unwrap();
    let key = file.jwt_keys.last().unwrap();
    (key.kid.clone(), key.secret.clone())
}

fn forge(kid: Option<&str>, alg: Algorithm, secret: &str, claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims_for(user_id: i64, role: &str, sid: &str, now: i64) -> serde_json::Value {
    json!({"sub": user_id.to_string(), "role": role, "jti": "j", "sid": sid,
           "exp": now + 600, "iat": now, "iss": ISSUER, "aud": AUDIENCE})
}

/// The claims of a token, unverified (to reuse its session id in forgeries).
fn peek(token: &str) -> Claims {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .unwrap()
        .claims
}

#[tokio::test]
async fn login_gives_tokens_that_open_me() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Author).await;
    let login = server.login(&username, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let refresh = login.body["refresh_token"].as_str().unwrap();
    assert!(
        refresh.len() >= 43,
        "refresh tokens carry at least 256 bits"
    );
    let token = login.body["access_token"].as_str().unwrap();

    let me = server.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], username.as_str());
    assert_eq!(me.body["role"], "author");
    assert!(me.body.get("password_hash").is_none());
    assert!(me.body["last_login_at"].is_string());

    // By e-mail too, case-insensitively.
    let by_email = server
        .login(
            &format!("{}@EXAMPLE.com", username.to_uppercase()),
            PASSWORD,
        )
        .await;
    assert_eq!(by_email.status, StatusCode::OK);

    // The refresh token is stored only as its hash.
    let refresh = refresh.to_string();
    let stored: Vec<String> = server
        .state
        .db
        .read(|c| {
            let mut s = c.prepare("SELECT token_hash FROM refresh_tokens")?;
            let rows = s.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert!(!stored.contains(&refresh));
    assert!(stored.contains(&blogd::auth::tokens::refresh_token_hash(&refresh)));
}

#[tokio::test]
async fn wrong_password_unknown_user_and_deactivated_user_look_the_same() {
    let server = TestServer::start().await;
    let username = server.create_user(Role::Reader).await;
    let wrong = server.login(&username, "not-the-right-password").await;
    let unknown = server.login("nobody-here", PASSWORD).await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.code(), "invalid_credentials");
    }
    assert_eq!(wrong.body["error"], unknown.body["error"]);

    let name = username.clone();
    let now = server.state.clock.now();
    server
        .state
        .db
        .write(move |tx| blogd::db::users::set_active(tx, &name, false, now))
        .await
        .unwrap();
    let deactivated = server.login(&username, PASSWORD).await;
    assert_eq!(deactivated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(deactivated.code(), "invalid_credentials");
}

#[tokio::test]
async fn me_needs_a_token() {
    let server = TestServer::start().await;
    let reply = server.get("/api/v1/auth/me", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused() {
    let server = TestServer::start().await;
    let (username, good) = server.user_with_token(Role::Admin).await;
    let id = server
        .state
        .db
        .read(move |c| blogd::db::users::by_username(c, &username))
        .await
        .unwrap()
        .id;
    let now = server.state.clock.now();
    let (kid, secret) = server_key(&server);
    let claims = claims_for(id, "admin", &peek(&good).sid, now);

    // Sanity: a token forged with the real key and claims is accepted, so the refusals
    // below are about the one thing each case changes.
    let genuine = forge(Some(&kid), Algorithm::HS256, &secret, &claims);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&genuine)).await.status,
        StatusCode::OK
    );

    let header_none =
        base64url(r#"{"alg":"none","typ":"JWT","kid":"KID"}"#.replace("KID", &kid).as_bytes());
    let payload = base64url(claims.to_string().as_bytes());
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("other-api");
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });

    let cases: Vec<(&str, String)> = vec![
        ("garbage", "not-a-jwt".into()),
        ("alg none", format!("{header_none}.{payload}.")),
        (
            "signed with another key",
            forge(Some(&kid), Algorithm::HS256, &"x".repeat(64), &claims),
        ),
        (
            "unknown kid",
            forge(Some("dropped-key"), Algorithm::HS256, &secret, &claims),
        ),
        ("no kid", forge(None, Algorithm::HS256, &secret, &claims)),
        (
            "HS512 with the right secret",
            forge(Some(&kid), Algorithm::HS512, &secret, &claims),
        ),
        (
            "wrong iss",
            forge(Some(&kid), Algorithm::HS256, &secret, &wrong_iss),
        ),
        (
            "wrong aud",
            forge(Some(&kid), Algorithm::HS256, &secret, &wrong_aud),
        ),
        (
            "no exp",
            forge(Some(&kid), Algorithm::HS256, &secret, &no_exp),
        ),
        ("tampered signature", tampered),
    ];
    for (what, token) in cases {
        let reply = server.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.code(), "token_invalid", "{what}");
    }

    let basic = server
        .client
        .get(server.url("/api/v1/auth/me"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    // A bad token on a public endpoint is an error too, not a silent anonymous read.
    let reply = server.get("/api/v1/posts", Some("not-a-jwt")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_expire_on_the_server_clock() {
    let server = TestServer::start().await;
    let token = server.token(Role::Reader).await;
    server.state.clock.advance(14 * 60);
    assert_eq!(
        server.get("/api/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
    server.state.clock.advance(2 * 60);
    let reply = server.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "token_expired");
}

#[tokio::test]
async fn first_start_makes_one_admin_and_keys_survive_a_restart() {
    let server = TestServer::start().await;
    let password = server
        .first_admin_password
        .clone()
        .expect("first start creates an admin");
    let login = server.login("admin", &password).await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["access_token"].as_str().unwrap().to_string();
    let me = server.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.body["role"], "admin");

    let secrets = server.dir.path().join("secrets.toml");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the secrets file is private");

    let dir = server.stop().await;
    let again = TestServer::start_in(dir, &[]).await;
    assert!(
        again.first_admin_password.is_none(),
        "no second admin on restart"
    );
    assert_eq!(
        again.get("/api/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_configured_jwt_secret_is_used_instead_of_the_file() {
    let secret = "q8Vd3kLz0Rw7NfTb5Hs2Gy9Mc4Jx6Pa1";
    let server = TestServer::start_with(&[("BLOGD_AUTH_JWT_SECRET", secret)]).await;
    let file: SecretsFile =
        toml::from_str(&std::fs::read_to_string(server.dir.path().join("secrets.toml")).unwrap())
            .unwrap();
    assert!(
        file.jwt_keys.is_empty(),
        "no key is generated when one is configured"
    );
    let token = server.token(Role::Reader).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert!(header.kid.unwrap().starts_with("cfg-"));
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    assert!(jsonwebtoken::decode::<Claims>(&token, &key, &validation).is_ok());
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
