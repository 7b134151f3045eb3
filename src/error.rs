//! The one error type of the HTTP API and its single mapping to API.md's JSON error body.
//!
//! Handlers and extractors return [`ApiError`]. Its `IntoResponse` only records *what* went
//! wrong (an [`ErrorPayload`] in the response extensions); the request-id layer in
//! `http::request_id` renders every error body, because only it knows the request id that
//! the body must repeat. Responses that axum or tower produce on their own (405, 413, a
//! timeout) carry no payload and are mapped from their status there, so every error a client
//! sees has the same shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::db::StoreError;

pub use crate::field_errors::FieldErrors;

/// The `details` of an error body: what went wrong per field (`validation_error`), or where
/// to go instead (`read_only_replica`: `{"primary": URL}`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorDetails {
    /// Field name → messages (`validation_error`).
    Fields(#[schema(inline)] FieldErrors),
    /// `read_only_replica`: the primary, where writes go.
    Primary {
        /// The primary's URL (`replication.primary_url`).
        primary: String,
    },
}

/// Everything that can go wrong in a request, in the API's terms.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Validation failed")]
    Validation(FieldErrors),
    #[error("{0}")]
    InvalidJson(String),
    #[error("Authentication credentials were not provided")]
    Unauthorized,
    #[error("Invalid username or password")]
    InvalidCredentials,
    #[error("The access token is invalid")]
    TokenInvalid,
    #[error("The access token has expired")]
    TokenExpired,
    #[error("The access token has been revoked (signed out, or its session was ended)")]
    TokenRevoked,
    #[error("The refresh token is invalid")]
    RefreshTokenInvalid,
    #[error("The refresh token has expired: sign in again")]
    RefreshTokenExpired,
    #[error("The refresh token has been revoked (spent, signed out, or its session was ended)")]
    RefreshTokenRevoked,
    #[error("The mfa_token is invalid")]
    MfaTokenInvalid,
    #[error("The mfa_token has expired: sign in again")]
    MfaTokenExpired,
    #[error("The mfa_token is no longer valid for this account: sign in again")]
    MfaTokenRevoked,
    #[error("The two-factor code is wrong or was used already")]
    InvalidMfaCode,
    #[error("You do not have permission to perform this action")]
    Forbidden,
    #[error("Registration is closed")]
    RegistrationClosed,
    #[error(
        "Two-factor sign-in is required for your role: set it up with POST /api/v1/auth/totp/setup"
    )]
    MfaSetupRequired,
    #[error("Not found")]
    NotFound,
    /// Exists, but the caller may not know that: answered exactly like `NotFound`, and
    /// recorded as an `access_denied` security event.
    #[error("Not found")]
    Hidden,
    #[error("No route matches this path")]
    NoRoute,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("The resource has changed since it was read (If-Match does not match)")]
    PreconditionFailed,
    #[error("The request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("The account is temporarily locked")]
    AccountLocked,
    #[error("Too many requests")]
    Throttled { retry_after: u64 },
    #[error("This address is banned for a while after repeated abuse")]
    IpBanned,
    #[error("The request signature is missing or wrong")]
    InvalidSignature,
    #[error("The service is temporarily unavailable")]
    Unavailable,
    /// The disk is full: the write was not made; reads go on.
    #[error("The server's disk is full: nothing was written; try again later")]
    StorageFull,
    /// A write sent to a read-only replica: it belongs to the primary (its URL).
    #[error("This server is a read-only replica: send writes to the primary")]
    ReadOnlyReplica(String),
    #[error("The request took too long")]
    RequestTimeout,
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// One validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut details = FieldErrors::new();
        details.insert(field.to_string(), vec![message.into()]);
        ApiError::Validation(details)
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Validation(_) | InvalidJson(_) => StatusCode::BAD_REQUEST,
            Unauthorized | InvalidCredentials | TokenInvalid | TokenExpired | TokenRevoked
            | RefreshTokenInvalid | RefreshTokenExpired | RefreshTokenRevoked | MfaTokenInvalid
            | MfaTokenExpired | MfaTokenRevoked | InvalidMfaCode => StatusCode::UNAUTHORIZED,
            Forbidden | RegistrationClosed | MfaSetupRequired | IpBanned | InvalidSignature
            | ReadOnlyReplica(_) => StatusCode::FORBIDDEN,
            NotFound | Hidden | NoRoute => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict(_) => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AccountLocked => StatusCode::LOCKED,
            Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Unavailable | StorageFull => StatusCode::SERVICE_UNAVAILABLE,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `code` of API.md's error list.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            Validation(_) => "validation_error",
            InvalidJson(_) => "invalid_json",
            Unauthorized => "unauthorized",
            InvalidCredentials => "invalid_credentials",
            TokenInvalid | RefreshTokenInvalid | MfaTokenInvalid => "token_invalid",
            TokenExpired | RefreshTokenExpired | MfaTokenExpired => "token_expired",
            TokenRevoked | RefreshTokenRevoked | MfaTokenRevoked => "token_revoked",
            InvalidMfaCode => "invalid_mfa_code",
            Forbidden | MfaSetupRequired => "forbidden",
            RegistrationClosed => "registration_closed",
            NotFound | Hidden | NoRoute => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict(_) => "conflict",
            PreconditionFailed => "precondition_failed",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            AccountLocked => "account_locked",
            Throttled { .. } => "throttled",
            IpBanned => "ip_banned",
            InvalidSignature => "invalid_signature",
            Unavailable => "unavailable",
            StorageFull => "storage_full",
            ReadOnlyReplica(_) => "read_only_replica",
            RequestTimeout => "request_timeout",
            Internal(_) => "internal_error",
        }
    }

    /// The error for a bare status that axum or tower produced without an `ApiError`.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => ApiError::field("request", "The request could not be understood"),
            401 => ApiError::Unauthorized,
            403 => ApiError::Forbidden,
            404 => ApiError::NotFound,
            405 => ApiError::MethodNotAllowed,
            409 => ApiError::Conflict("Conflict".into()),
            412 => ApiError::PreconditionFailed,
            413 => ApiError::PayloadTooLarge,
            415 => ApiError::UnsupportedMediaType("Unsupported media type".into()),
            429 => ApiError::Throttled { retry_after: 1 },
            408 => ApiError::RequestTimeout,
            503 | 504 => ApiError::Unavailable,
            _ => ApiError::Internal(anyhow::anyhow!("unmapped status {status}")),
        }
    }
}

/// `Retry-After` of a `storage_full` answer.
pub const STORAGE_FULL_RETRY_SECS: u64 = 30;

/// What the request-id layer needs to render an error body; travels in response extensions.
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<ErrorDetails>,
    pub retry_after: Option<u64>,
    /// A 404 that hides something from this caller (a security event).
    pub hidden: bool,
}

impl From<&ApiError> for ErrorPayload {
    fn from(err: &ApiError) -> Self {
        ErrorPayload {
            status: err.status(),
            code: err.code(),
            message: err.to_string(),
            details: match err {
                ApiError::Validation(d) => Some(ErrorDetails::Fields(d.clone())),
                ApiError::ReadOnlyReplica(primary) => Some(ErrorDetails::Primary {
                    primary: primary.clone(),
                }),
                _ => None,
            },
            retry_after: match err {
                ApiError::Throttled { retry_after } => Some(*retry_after),
                // Space comes back when the operator frees some: a short, steady retry.
                ApiError::StorageFull => Some(STORAGE_FULL_RETRY_SECS),
                _ => None,
            },
            hidden: matches!(err, ApiError::Hidden),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // The cause goes to the log (with the request id from the span), never to the client.
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let payload = ErrorPayload::from(&self);
        let mut response = payload.status.into_response();
        response.extensions_mut().insert(payload);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        crate::domain::Error::from(err).into()
    }
}

/// The domain's refusals in the API's terms: the one place they become HTTP answers.
impl From<crate::domain::Error> for ApiError {
    fn from(err: crate::domain::Error) -> Self {
        use crate::domain::Error;
        match err {
            Error::NotFound(_) => ApiError::NotFound,
            Error::Hidden => ApiError::Hidden,
            Error::Invalid(details) => ApiError::Validation(details),
            Error::Conflict(what) => ApiError::Conflict(what),
            Error::LastAdmin => {
                ApiError::Conflict("This is the last active admin: make another admin first".into())
            }
            Error::Refused(why) => ApiError::Conflict(why),
            Error::InvalidCode => ApiError::InvalidMfaCode,
            Error::PreconditionFailed => ApiError::PreconditionFailed,
            Error::Forbidden => ApiError::Forbidden,
            Error::ReadOnlyReplica(primary) => ApiError::ReadOnlyReplica(primary),
            Error::StorageFull => ApiError::StorageFull,
            Error::Unsupported(why) => ApiError::UnsupportedMediaType(why),
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::Unavailable
            }
            Error::Internal(cause) => ApiError::Internal(cause),
        }
    }
}
