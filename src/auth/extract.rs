//! The extractor that turns an `Authorization: Bearer …` header into a [`Caller`].
//!
//! No header means an anonymous caller; a header that is present but wrong is an error, never
//! a silent downgrade to anonymous (a client with a broken token should hear about it). Every
//! refusal is a security event.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::Role;
use super::tokens::{self, Claims};
use crate::app::AppState;
use crate::cidr;
use crate::error::ApiError;
use crate::http::context::RequestMeta;
use crate::security::{EventKind, SecurityEvent};

/// A signed-in user, as the access token describes them.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub role: Role,
    /// The session (refresh-token family) of the token.
    pub sid: String,
    /// The token's own id, and when it expires (to revoke it until then).
    pub jti: String,
    pub exp: i64,
}

/// Whoever is making the request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(AuthUser),
}

impl Caller {
    pub fn user(&self) -> Option<&AuthUser> {
        match self {
            Caller::User(u) => Some(u),
            Caller::Anonymous => None,
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        self.user().map(|u| u.id)
    }

    pub fn role(&self) -> Option<Role> {
        self.user().map(|u| u.role)
    }

    pub fn is_at_least(&self, role: Role) -> bool {
        self.role().is_some_and(|r| r >= role)
    }

    /// The signed-in user if their role is at least `role`: 401 for anonymous callers,
    /// 403 for a role too low.
    pub fn require(&self, role: Role) -> Result<&AuthUser, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::Unauthorized),
            Caller::User(u) if u.role >= role => Ok(u),
            Caller::User(_) => Err(ApiError::Forbidden),
        }
    }
}

/// Paths a user who must set up TOTP can still reach.
const MFA_SETUP_PATHS: &[&str] = &[
    "/api/v1/auth/me",
    "/api/v1/auth/totp/setup",
    "/api/v1/auth/totp/confirm",
    "/api/v1/auth/logout",
    "/api/v1/auth/password",
];

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let meta = parts.extensions.get::<Arc<RequestMeta>>().cloned();
        let refuse = |err: ApiError, detail: &str| {
            let kind = match err {
                ApiError::TokenExpired => EventKind::TokenExpired,
                ApiError::TokenRevoked => EventKind::TokenRevoked,
                ApiError::Forbidden | ApiError::MfaSetupRequired => EventKind::AdminIpRefused,
                _ => EventKind::TokenInvalid,
            };
            state.security.emit(SecurityEvent {
                kind,
                time: state.clock.now(),
                ip: meta.as_ref().and_then(|m| m.ip),
                user: None,
                detail: format!("{} {}: {detail}", parts.method, parts.uri.path()),
            });
            err
        };
        let claims = match authenticate(state, value.to_str().ok()).await {
            Ok(claims) => claims,
            Err(err) => return Err(refuse(err, "bad access token")),
        };
        let id: i64 = claims.sub.parse().map_err(|_| ApiError::TokenInvalid)?;
        if claims.role == Role::Admin && !state.config.auth.admin_allow.is_empty() {
            let allowed = meta
                .as_ref()
                .and_then(|m| m.ip)
                .is_some_and(|ip| cidr::any_contains(&state.config.auth.admin_allow, ip));
            if !allowed {
                return Err(refuse(
                    ApiError::Forbidden,
                    &format!("admin token of user {id} from outside auth.admin_allow"),
                ));
            }
        }
        if !claims.mfa
            && state.config.auth.require_totp_for.contains(&claims.role)
            && !MFA_SETUP_PATHS.contains(&parts.uri.path())
        {
            return Err(ApiError::MfaSetupRequired);
        }
        if let Some(meta) = &meta {
            meta.set_user(id, claims.role);
        }
        let caller = Caller::User(AuthUser {
            id,
            role: claims.role,
            sid: claims.sid,
            jti: claims.jti,
            exp: claims.exp,
        });
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// Checks the header's token: scheme, signature and claims, then revocation.
async fn authenticate(state: &AppState, header: Option<&str>) -> Result<Claims, ApiError> {
    let header = header.ok_or(ApiError::TokenInvalid)?;
    let (scheme, token) = header.split_once(' ').ok_or(ApiError::TokenInvalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::TokenInvalid);
    }
    let now = state.clock.now();
    let claims = tokens::verify(&state.keys(), token.trim(), now)?;
    if state
        .revocations
        .is_revoked(&state.db, &claims.jti, &claims.sid, now)
        .await?
    {
        return Err(ApiError::TokenRevoked);
    }
    Ok(claims)
}
