//! Signing in and out (`/api/v1/auth`): register, login (with its TOTP step), refresh, logout.

use axum::extract::State;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::Account;
use super::{BadRequest, Conflict, Forbidden, Unauthorized, UnsupportedMediaType};
use crate::accounts::NewAccount;
use crate::app::AppState;
use crate::auth::{Caller, Role, lockout, password, policy, tokens, totp};
use crate::cidr;
use crate::db::users::{self, UserRow};
use crate::db::{StoreError, sessions};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::{Json, OptionalJson};
use crate::security::audit::Actor;
use crate::security::{EventKind, SecurityEvent};
use crate::throttle::Class;
use crate::validate::Validator;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or e-mail address.
    #[schema(min_length = 1, max_length = 254)]
    pub username: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// A signed-in session's tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// Always `tokens`: tells this answer of `POST /api/v1/auth/login` from an `MfaChallenge`.
    #[serde(rename = "type")]
    pub kind: TokenPairType,
    /// JWT, valid for `expires_in` seconds. Send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque, single-use: `POST /api/v1/auth/refresh` spends it for a new pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// The `type` of a [`TokenPair`].
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum TokenPairType {
    Tokens,
}

/// The `type` of an [`MfaChallenge`].
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum MfaChallengeType {
    MfaChallenge,
}

/// The answer to a correct password of an account with two-factor sign-in.
#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `mfa_challenge`: tells this answer from a `TokenPair`.
    #[serde(rename = "type")]
    pub kind: MfaChallengeType,
    /// Always true.
    pub mfa_required: bool,
    /// Give it to `POST /api/v1/auth/login/totp` with a code, within 5 minutes.
    pub mfa_token: String,
}

/// The answer to a correct password: tokens, or (accounts with two-factor sign-in) the
/// challenge for `POST /api/v1/auth/login/totp`. `type` tells which.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "type", mapping(
    ("tokens" = "#/components/schemas/TokenPair"),
    ("mfa_challenge" = "#/components/schemas/MfaChallenge")
)))]
pub enum LoginResponse {
    Tokens(TokenPair),
    Mfa(MfaChallenge),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpLoginRequest {
    #[schema(min_length = 1, max_length = 4096)]
    pub mfa_token: String,
    /// A 6-digit TOTP code, or one of the recovery codes.
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// A refresh token of the session to end (with an access token: another session of the
    /// caller's that ends too).
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(
        min_length = 3,
        max_length = 150,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    pub username: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect())
}

fn event(
    state: &AppState,
    meta: &Meta,
    kind: EventKind,
    user: Option<&str>,
    detail: impl Into<String>,
) {
    state.security.emit(SecurityEvent {
        kind,
        time: state.clock.now(),
        ip: meta.ip(),
        user: user.map(|u| u.chars().take(64).collect()),
        detail: detail.into(),
    });
}

/// Opens a session for a user who proved who they are: one transaction stores the session
/// and its first refresh token, resets failed attempts and writes the audit record.
async fn sign_in(
    state: &AppState,
    meta: &Meta,
    headers: &HeaderMap,
    user: &UserRow,
    mfa: bool,
) -> Result<TokenPair, ApiError> {
    let now = state.clock.now();
    let refresh_ttl = state.config.auth.refresh_ttl.as_secs();
    let refresh_token = tokens::new_refresh_token();
    let refresh_hash = tokens::refresh_token_hash(&refresh_token);
    let ip = meta.ip().map(|ip| ip.to_string());
    let ua = user_agent(headers);
    let actor = meta.actor(user.id);
    let user_id = user.id;
    let session_id = state
        .db
        .write(move |tx| {
            let session = sessions::NewSession {
                user_id,
                mfa,
                ip: ip.as_deref(),
                user_agent: ua.as_deref(),
                expires_at: now + refresh_ttl,
            };
            let sid = sessions::create(tx, &session, &refresh_hash, now)?;
            users::touch_login(tx, user_id, now)?;
            actor.record(tx, "auth.login", Some(&format!("session:{sid}")), now)?;
            Ok(sid)
        })
        .await?;
    state
        .lockouts
        .succeeded(&lockout::Target::Account(user.id), meta.ip());
    token_pair(state, user, &session_id, mfa, refresh_token)
}

/// Who a sign-in attempt is for, as the lockout counts it: the account, or the typed name.
fn lock_target(user: Option<&UserRow>, typed: &str) -> lockout::Target {
    match user {
        Some(user) => lockout::Target::Account(user.id),
        None => lockout::Target::Unknown(typed.to_lowercase()),
    }
}

/// Counts a failed sign-in against that name from this address, records it and reports it.
async fn sign_in_failed(
    state: &AppState,
    meta: &Meta,
    user: Option<&UserRow>,
    typed: &str,
    kind: EventKind,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    event(state, meta, kind, Some(typed), "wrong credentials");
    let actor = Actor::named(
        user.map_or_else(|| typed.chars().take(64).collect(), |u| u.username.clone()),
        meta.origin(),
    );
    state
        .db
        .write(move |tx| actor.record(tx, "auth.login_failed", None, now))
        .await?;
    if state
        .lockouts
        .failed(&lock_target(user, typed), meta.ip(), now)
    {
        event(
            state,
            meta,
            EventKind::AccountLocked,
            Some(typed),
            format!(
                "locked after {} failures from this address",
                lockout::MAX_FAILURES
            ),
        );
    }
    Ok(())
}

/// 423 while this address must wait before trying this name again (known or not: the
/// answer is the same).
fn refuse_if_locked(
    state: &AppState,
    meta: &Meta,
    target: &lockout::Target,
    typed: &str,
) -> Result<(), ApiError> {
    if state
        .lockouts
        .is_locked(target, meta.ip(), state.clock.now())
    {
        event(
            state,
            meta,
            EventKind::AccountLocked,
            Some(typed),
            "sign-in attempt while locked",
        );
        return Err(ApiError::AccountLocked);
    }
    Ok(())
}

/// Admins may sign in only from `auth.admin_allow` (when set).
fn refuse_admin_from_elsewhere(
    state: &AppState,
    meta: &Meta,
    user: &UserRow,
) -> Result<(), ApiError> {
    let allow = &state.config.auth.admin_allow;
    if user.role == Role::Admin
        && !allow.is_empty()
        && !meta.ip().is_some_and(|ip| cidr::any_contains(allow, ip))
    {
        event(
            state,
            meta,
            EventKind::AdminIpRefused,
            Some(&user.username),
            "admin sign-in from outside auth.admin_allow",
        );
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// Sign in with username (or e-mail) and password.
///
/// Unknown users and wrong passwords get the same answer in about the same time. After 5
/// failures in 15 minutes the account is locked for 15 minutes (423, even with the right
/// password). Accounts with two-factor sign-in get an `mfa_token` instead of tokens.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or the TOTP step is next", body = LoginResponse),
        BadRequest, Unauthorized, Forbidden, UnsupportedMediaType,
        (status = 423, description = "The account is locked for a while: `account_locked`", body = crate::http::request_id::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<axum::Json<LoginResponse>, ApiError> {
    let mut v = Validator::new();
    v.text("username", &body.username, 254);
    v.text("password", &body.password, policy::MAX_LENGTH);
    v.finish()?;
    // Per address, before any hashing; every attempt counts, successful or not.
    state.enforce(Class::Login, &meta, None)?;
    let user = authenticate(&state, &meta, body.username.trim(), body.password).await?;
    refuse_admin_from_elsewhere(&state, &meta, &user)?;
    if user.totp_enabled {
        let mfa_token = tokens::sign_mfa(&state.keys(), user.id, state.clock.now())?;
        return Ok(axum::Json(LoginResponse::Mfa(MfaChallenge {
            kind: MfaChallengeType::MfaChallenge,
            mfa_required: true,
            mfa_token,
        })));
    }
    let pair = sign_in(&state, &meta, &headers, &user, false).await?;
    Ok(axum::Json(LoginResponse::Tokens(pair)))
}

/// The account a name (or e-mail) and password prove, or `invalid_credentials` (the same
/// answer, in about the same time, for unknown names, wrong passwords and deactivated
/// accounts) and a counted failure. Upgrades a weaker password hash on the way.
async fn authenticate(
    state: &AppState,
    meta: &Meta,
    login: &str,
    password: String,
) -> Result<UserRow, ApiError> {
    let lookup = login.to_string();
    let user = state
        .db
        .read(move |conn| users::by_login(conn, &lookup))
        .await?;
    refuse_if_locked(state, meta, &lock_target(user.as_ref(), login), login)?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.passwords.verify(hash, password.clone()).await?;
    let user = match user {
        Some(user) if password_ok && user.active => user,
        other => {
            let kind = EventKind::LoginFailed;
            sign_in_failed(state, meta, other.as_ref(), login, kind).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if password::needs_rehash(&user.password_hash) {
        let hash = state.passwords.hash(password).await?;
        let (id, now) = (user.id, state.clock.now());
        state
            .db
            .write(move |tx| users::set_password_hash(tx, id, &hash, now))
            .await?;
    }
    Ok(user)
}

/// Second sign-in step for accounts with TOTP: a current code or an unused recovery code.
#[utoipa::path(post, path = "/api/v1/auth/login/totp", operation_id = "loginWithTotp", tag = "auth",
    request_body = TotpLoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        BadRequest, Unauthorized, Forbidden, UnsupportedMediaType,
        (status = 423, description = "The account is locked for a while: `account_locked`", body = crate::http::request_id::ErrorBody),
    ))]
pub async fn login_totp(
    State(state): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    Json(body): Json<TotpLoginRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let mut v = Validator::new();
    v.text("mfa_token", &body.mfa_token, 4096);
    v.text("code", &body.code, 64);
    v.finish()?;
    state.enforce(Class::Login, &meta, None)?;
    let (ticket, user) = mfa_ticket_holder(&state, body.mfa_token.trim()).await?;
    let target = lockout::Target::Account(user.id);
    refuse_if_locked(&state, &meta, &target, &user.username)?;
    refuse_admin_from_elsewhere(&state, &meta, &user)?;
    if !second_factor_ok(&state, &user, &body.code).await? {
        let kind = EventKind::MfaFailed;
        sign_in_failed(&state, &meta, Some(&user), &user.username, kind).await?;
        return Err(ApiError::InvalidMfaCode);
    }
    // One token, one session: spent now, so a copy of it (or a second code) opens nothing.
    let spent = state
        .db
        .write(move |tx| sessions::spend_token(tx, &ticket.jti, ticket.expires_at))
        .await?;
    if !spent {
        return Err(ApiError::MfaTokenRevoked);
    }
    Ok(axum::Json(
        sign_in(&state, &meta, &headers, &user, true).await?,
    ))
}

/// The valid, unspent mfa token's ticket and the account it continues (still active, with
/// two-factor sign-in on). A spent token is refused before any code is looked at (or spent).
async fn mfa_ticket_holder(
    state: &AppState,
    token: &str,
) -> Result<(tokens::MfaTicket, UserRow), ApiError> {
    let ticket =
        tokens::verify_mfa(&state.keys(), token, state.clock.now()).map_err(|e| match e {
            ApiError::TokenExpired => ApiError::MfaTokenExpired,
            _ => ApiError::MfaTokenInvalid,
        })?;
    let (jti, user_id) = (ticket.jti.clone(), ticket.user_id);
    if state.db.read(move |c| sessions::is_spent(c, &jti)).await? {
        return Err(ApiError::MfaTokenRevoked);
    }
    let user = state
        .db
        .read(move |c| users::by_id(c, user_id))
        .await
        .map_err(|_| ApiError::MfaTokenInvalid)?;
    if !user.active || !user.totp_enabled {
        return Err(ApiError::MfaTokenRevoked);
    }
    Ok((ticket, user))
}

/// Checks a TOTP or recovery code and spends it, atomically: neither works twice.
async fn second_factor_ok(state: &AppState, user: &UserRow, code: &str) -> Result<bool, ApiError> {
    let (id, now) = (user.id, state.clock.now());
    if totp::looks_like_recovery_code(code) {
        let hash = totp::recovery_hash(code);
        return Ok(state
            .db
            .write(move |tx| users::use_recovery_code(tx, id, &hash, now))
            .await?);
    }
    let secret = user
        .totp_secret
        .as_deref()
        .and_then(|sealed| state.sealer.open(sealed))
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "the TOTP secret of user {id} cannot be opened"
            ))
        })?;
    match totp::verify(&secret, code, now, user.totp_last_step) {
        Some(step) => Ok(state
            .db
            .write(move |tx| users::use_totp_step(tx, id, step))
            .await?),
        None => Ok(false),
    }
}

/// Trade a refresh token for a new pair. The presented token is spent; presenting a spent one
/// again ends its whole session (it was stolen or replayed) and is a `refresh_token_reuse`
/// security event.
#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "refreshTokens", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "A new pair", body = TokenPair), BadRequest, Unauthorized, UnsupportedMediaType))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: Meta,
    Json(body): Json<RefreshRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let mut v = Validator::new();
    v.text("refresh_token", &body.refresh_token, 256);
    v.finish()?;
    let now = state.clock.now();
    let presented = tokens::refresh_token_hash(body.refresh_token.trim());
    let successor = tokens::new_refresh_token();
    let successor_hash = tokens::refresh_token_hash(&successor);
    let ip = meta.ip().map(|ip| ip.to_string());
    let outcome = state
        .db
        .write(move |tx| sessions::refresh(tx, &presented, &successor_hash, ip.as_deref(), now))
        .await?;
    let (user_id, session_id, mfa) = rotated(&state, &meta, outcome)?;
    // The role comes from the database, not the old token: a demotion applies at refresh.
    let user = state.db.read(move |c| users::by_id(c, user_id)).await?;
    Ok(axum::Json(token_pair(
        &state,
        &user,
        &session_id,
        mfa,
        successor,
    )?))
}

/// The session a refresh rotated, or why there is none. A spent token presented again ends
/// its whole session (it was stolen or replayed): a `refresh_token_reuse` security event.
fn rotated(
    state: &AppState,
    meta: &Meta,
    outcome: sessions::Refresh,
) -> Result<(i64, String, bool), ApiError> {
    match outcome {
        sessions::Refresh::Rotated {
            user_id,
            session_id,
            mfa,
        } => Ok((user_id, session_id, mfa)),
        sessions::Refresh::Reused {
            user_id,
            session_id,
        } => {
            state.revocations.sessions_revoked([session_id.clone()]);
            let detail = format!("user {user_id}: session {session_id} revoked");
            event(state, meta, EventKind::RefreshTokenReuse, None, detail);
            Err(ApiError::RefreshTokenRevoked)
        }
        sessions::Refresh::Unknown => Err(ApiError::RefreshTokenInvalid),
        sessions::Refresh::Revoked => Err(ApiError::RefreshTokenRevoked),
        sessions::Refresh::Expired => Err(ApiError::RefreshTokenExpired),
    }
}

/// A new access token for `user`'s session, with the refresh token that goes with it.
fn token_pair(
    state: &AppState,
    user: &UserRow,
    session_id: &str,
    mfa: bool,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let access_ttl = state.config.auth.access_ttl.as_secs();
    let now = state.clock.now();
    let mut claims = tokens::Claims::new(user.id, user.role, session_id, now, access_ttl);
    claims.mfa = mfa;
    Ok(TokenPair {
        kind: TokenPairType::Tokens,
        access_token: tokens::sign(&state.keys(), &claims)?,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: access_ttl,
    })
}

/// Sign out. With a valid access token: that token and its session stop working at once (also
/// after a restart), and `refresh_token`, if given, ends that session of the caller's too. With
/// `refresh_token` alone (no access token, or one that has expired or been revoked): that
/// token's session ends, with every access token issued in it, so a client whose access token
/// ran out need not refresh just to sign out. Ending a session that has already ended is not an
/// error.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional with an access token; required without one"),
    security((), ("bearer" = [])),
    responses((status = 204, description = "Signed out"), BadRequest, Unauthorized, UnsupportedMediaType))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    meta: Meta,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    let presented = body.and_then(|b| b.refresh_token);
    if let Some(token) = &presented {
        let mut v = Validator::new();
        v.text("refresh_token", token, 256);
        v.finish()?;
    }
    let refresh_hash = presented.map(|t| tokens::refresh_token_hash(t.trim()));
    match (caller, refresh_hash) {
        (Ok(Caller::User(user)), other) => logout_signed_in(&state, &meta, user, other).await,
        // The refresh token is the credential: an access token that has run out (or was
        // revoked, or is garbage) does not stand in its way.
        (Ok(Caller::Anonymous) | Err(_), Some(hash)) => {
            logout_by_refresh_token(&state, &meta, hash).await
        }
        (Ok(Caller::Anonymous), None) => Err(ApiError::Unauthorized),
        (Err(err), None) => Err(err),
    }
}

async fn logout_signed_in(
    state: &AppState,
    meta: &Meta,
    user: crate::auth::AuthUser,
    other: Option<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let actor = meta.actor(user.id);
    let (jti, exp) = (user.jti.clone(), user.exp);
    let ended = state
        .db
        .write(move |tx| {
            sessions::revoke_token(tx, &user.jti, user.exp)?;
            let mut ended = vec![user.sid.clone()];
            sessions::revoke(tx, &user.sid, now)?;
            if let Some(hash) = other {
                // Only the caller's own sessions: a stranger's refresh token is ignored.
                if let Some((sid, _)) =
                    sessions::of_refresh_token(tx, &hash)?.filter(|(_, owner)| *owner == user.id)
                {
                    sessions::revoke(tx, &sid, now)?;
                    ended.push(sid);
                }
            }
            actor.record(
                tx,
                "auth.logout",
                Some(&format!("session:{}", user.sid)),
                now,
            )?;
            Ok::<_, StoreError>(ended)
        })
        .await?;
    state.revocations.token_revoked(jti, exp);
    state.revocations.sessions_revoked(ended);
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_by_refresh_token(
    state: &AppState,
    meta: &Meta,
    hash: String,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let meta = meta.clone();
    let ended = state
        .db
        .write(move |tx| {
            let Some((sid, owner)) = sessions::of_refresh_token(tx, &hash)? else {
                return Ok(None);
            };
            if sessions::revoke(tx, &sid, now)? {
                let actor = meta.actor(owner);
                actor.record(tx, "auth.logout", Some(&format!("session:{sid}")), now)?;
            }
            Ok::<_, StoreError>(Some(sid))
        })
        .await?
        .ok_or(ApiError::RefreshTokenInvalid)?;
    state.revocations.sessions_revoked([ended]);
    Ok(StatusCode::NO_CONTENT)
}

/// Create an account (role `reader`), when `auth.open_registration` allows it.
#[utoipa::path(post, path = "/api/v1/auth/register", operation_id = "register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = Account),
        BadRequest, Conflict, UnsupportedMediaType,
        (status = 403, description = "Registration is closed: `registration_closed`", body = crate::http::request_id::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    meta: Meta,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, ApiError> {
    if !state.config.auth.open_registration {
        return Err(ApiError::RegistrationClosed);
    }
    state.enforce(Class::Register, &meta, None)?;

    let account = NewAccount {
        username: body.username,
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        role: Role::Reader,
    };
    let user = state.accounts().create(&meta.anonymous(), account).await?;
    Ok((StatusCode::CREATED, axum::Json(Account::from(user))).into_response())
}
