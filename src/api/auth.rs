//! Sign-in and the caller's own account (`/api/v1/auth`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BadRequest, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role, tokens};
use crate::clock::rfc3339;
use crate::db::{sessions, users};
use crate::error::ApiError;
use crate::http::client_ip::ClientIp;
use crate::http::json::Json;
use crate::validate::Validator;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or e-mail address.
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// JWT, valid for `expires_in` seconds. Send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque token for getting a new pair; valid 7 days by default.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// The caller's own account.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl From<users::UserRow> for Me {
    fn from(u: users::UserRow) -> Me {
        Me {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            bio: u.bio,
            avatar_url: u.avatar_url,
            role: u.role,
            created_at: rfc3339(u.created_at),
            last_login_at: u.last_login_at.map(rfc3339),
        }
    }
}

/// Sign in with username (or e-mail) and password.
///
/// Unknown users and wrong passwords get the same answer, in about the same time.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        BadRequest, Unauthorized, UnsupportedMediaType,
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let mut v = Validator::new();
    v.text("username", &body.username, 254);
    v.text("password", &body.password, crate::auth::policy::MAX_LENGTH);
    v.finish()?;

    let login = body.username.trim().to_string();
    let user = state
        .db
        .read(move |conn| users::by_login(conn, &login))
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.passwords.verify(hash, body.password).await?;
    let user = match user {
        Some(user) if password_ok && user.active => user,
        // Deactivated accounts get the same answer as wrong passwords: nothing is revealed.
        _ => return Err(ApiError::InvalidCredentials),
    };

    let now = state.clock.now();
    let access_ttl = state.config.auth.access_ttl.as_secs();
    let refresh_ttl = state.config.auth.refresh_ttl.as_secs();
    let refresh_token = tokens::new_refresh_token();
    let refresh_hash = tokens::refresh_token_hash(&refresh_token);
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect::<String>());
    let ip = ip.map(|ip| ip.to_string());
    let user_id = user.id;
    let session_id = state
        .db
        .write(move |tx| {
            let sid = sessions::create(
                tx,
                &sessions::NewSession {
                    user_id,
                    ip: ip.as_deref(),
                    user_agent: user_agent.as_deref(),
                    expires_at: now + refresh_ttl,
                },
                &refresh_hash,
                now,
            )?;
            users::touch_login(tx, user_id, now)?;
            Ok(sid)
        })
        .await?;
    let claims = tokens::Claims::new(user.id, user.role, &session_id, now, access_ttl);
    let access_token = tokens::sign(&state.keys(), &claims)?;
    Ok(axum::Json(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: access_ttl,
    }))
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me), Unauthorized))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Me>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let user = state.db.read(move |conn| users::by_id(conn, id)).await?;
    if !user.active {
        return Err(ApiError::TokenRevoked);
    }
    Ok(axum::Json(user.into()))
}
