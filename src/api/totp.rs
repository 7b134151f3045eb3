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
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
    /// The account's password: binding a second factor is re-authenticated, so a stolen
    /// access token alone cannot lock the owner out behind somebody else's authenticator.
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
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

/// Confirm setup with a current code and the password: enables two-factor sign-in, ends
/// every other session (they signed in with the password alone) and returns recovery codes.
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
    let me = caller.require(Role::Reader)?;
    let codes = state
        .accounts()
        .enable_totp(&meta.actor(me.id), &me.sid, body.password, &body.code)
        .await?;
    Ok(axum::Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn two-factor sign-in off (needs the password). Every other session ends; for a role
/// that must use two-factor sign-in (`auth.require_totp_for`) this one too, so no session
/// outlives the second factor it was opened with.
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
    let me = caller.require(Role::Reader)?;
    let keep = (!state.config.auth.require_totp_for.contains(&me.role)).then_some(me.sid.as_str());
    state
        .accounts()
        .disable_totp(&meta.actor(me.id), keep, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
