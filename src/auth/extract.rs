//! The extractor that turns an `Authorization: Bearer …` header into a [`Caller`].
//!
//! No header means an anonymous caller; a header that is present but wrong is an error, never
//! a silent downgrade to anonymous (a client with a broken token should hear about it).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{Role, tokens};
use crate::app::AppState;
use crate::error::ApiError;

/// A signed-in user, as the access token describes them.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub role: Role,
    /// The session (refresh-token family) of the token.
    pub sid: String,
    /// The token's own id.
    pub jti: String,
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let value = value.to_str().map_err(|_| ApiError::TokenInvalid)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::TokenInvalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::TokenInvalid);
        }
        let claims = tokens::verify(&state.keys(), token.trim(), state.clock.now())?;
        // The accounts issue adds the revocation check (jti and sid) here.
        let id = claims.sub.parse().map_err(|_| ApiError::TokenInvalid)?;
        let caller = Caller::User(AuthUser {
            id,
            role: claims.role,
            sid: claims.sid,
            jti: claims.jti,
        });
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}
