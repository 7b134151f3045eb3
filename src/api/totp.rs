//! Two-factor sign-in setup (`/api/v1/auth/totp`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BadRequest, Conflict, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role, totp};
use crate::db::users;
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::Json;

#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32 secret, for typing into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// A current code from the authenticator app.
    pub code: String,
}

/// The answer to a confirmed TOTP setup. (Named `TotpEnabled` in the document: generators
/// name a model's local variable after it, which a property named like the model shadowed.)
#[derive(Serialize, ToSchema)]
#[schema(as = TotpEnabled)]
pub struct RecoveryCodes {
    /// Ten one-time codes for when the authenticator is lost. Shown only now.
    pub recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpDisable {
    pub password: String,
}

/// Start two-factor setup: a new secret, enabled only once a code from it is confirmed.
#[utoipa::path(post, path = "/api/v1/auth/totp/setup", operation_id = "setupTotp", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The secret to enrol", body = TotpSetup), Unauthorized, Conflict))]
pub async fn setup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<TotpSetup>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let user = state.db.read(move |c| users::by_id(c, id)).await?;
    if user.totp_enabled {
        return Err(ApiError::Conflict(
            "Two-factor sign-in is already enabled; disable it first".into(),
        ));
    }
    let secret = totp::new_secret();
    let sealed = state.sealer.seal(&secret);
    let now = state.clock.now();
    state
        .db
        .write(move |tx| users::set_totp_pending(tx, id, &sealed, now))
        .await?;
    Ok(axum::Json(TotpSetup {
        otpauth_uri: totp::otpauth_uri(&state.config.site.title, &user.username, &secret),
        secret: totp::base32(&secret),
    }))
}

/// Confirm setup with a current code: enables two-factor sign-in and returns recovery codes.
/// Sign in again to get tokens that count as two-factor.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", operation_id = "confirmTotp", tag = "auth",
    request_body = TotpConfirm,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Enabled", body = RecoveryCodes),
        BadRequest, Unauthorized, Conflict, UnsupportedMediaType,
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<TotpConfirm>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let user = state.db.read(move |c| users::by_id(c, id)).await?;
    if user.totp_enabled {
        return Err(ApiError::Conflict(
            "Two-factor sign-in is already enabled".into(),
        ));
    }
    let secret = user
        .totp_secret
        .as_deref()
        .and_then(|sealed| state.sealer.open(sealed))
        .ok_or_else(|| ApiError::field("code", "Start with POST /api/v1/auth/totp/setup"))?;
    let now = state.clock.now();
    let step = totp::verify(&secret, &body.code, now, None).ok_or(ApiError::InvalidMfaCode)?;
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
    state
        .db
        .write(move |tx| {
            users::enable_totp(tx, id, step, &hashes, now)?;
            meta.actor(id).record(
                tx,
                "auth.totp_enable",
                Some(&format!("user:{}", user.username)),
                now,
            )
        })
        .await?;
    Ok(axum::Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn two-factor sign-in off (needs the password).
#[utoipa::path(delete, path = "/api/v1/auth/totp", operation_id = "disableTotp", tag = "auth",
    request_body = TotpDisable,
    security(("bearer" = [])),
    responses((status = 204, description = "Disabled"), BadRequest, Unauthorized, UnsupportedMediaType))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<TotpDisable>,
) -> Result<StatusCode, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let user = state.db.read(move |c| users::by_id(c, id)).await?;
    if !state
        .passwords
        .verify(Some(user.password_hash.clone()), body.password)
        .await?
    {
        return Err(ApiError::field("password", "The password is wrong"));
    }
    let now = state.clock.now();
    state
        .db
        .write(move |tx| {
            users::disable_totp(tx, id, now)?;
            meta.actor(id).record(
                tx,
                "auth.totp_disable",
                Some(&format!("user:{}", user.username)),
                now,
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
