//! The REST API: one module per resource, each handler annotated for OpenAPI. The router and
//! the OpenAPI document are built from the same list (utoipa-axum), so the document describes
//! exactly the routes that are served.

pub mod account;
pub mod analytics;
pub mod auth;
pub mod authors;
pub mod categories;
pub mod comments;
pub mod contract;
pub mod health;
pub mod media;
pub mod posts;
pub mod privacy;
pub mod seo;

pub mod tags;
pub mod totp;
pub mod users;

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::request_id::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "blogd",
        description = "The blog REST API of blogd: posts, categories, tags, authors, comments and \
                       sign-in. Errors always have the `ErrorBody` shape. Lists take `page` \
                       (≥ 1) and `per_page` (1–100, default 20). Paths match with or without \
                       one trailing slash.",
        license(name = "MIT", identifier = "MIT")
    ),
    tags(
        (name = "posts", description = "Blog posts (Markdown source, sanitized HTML)"),
        (name = "categories", description = "Post categories"),
        (name = "tags", description = "Post tags"),
        (name = "authors", description = "Public author profiles"),
        (name = "comments", description = "Comments and their moderation"),
        (name = "auth", description = "Sign-in and the caller's own account"),
        (name = "users", description = "Accounts of others and their personal data (admins)"),
        (name = "audit", description = "The audit log (admins)"),
        (name = "media", description = "Uploaded images"),
        (name = "analytics", description = "Page views and their summary"),
        (name = "seo", description = "Sitemap, feeds and metadata"),
        (name = "health", description = "Liveness and readiness"),
    ),
    components(schemas(ErrorBody, posts::PostOrdering)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the `bearer` and `metrics_token` security schemes the handlers refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`metrics.token` from the configuration (only for GET /metrics)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::healthcheck))
        .routes(routes!(health::metrics))
        .routes(routes!(analytics::pageview))
        .routes(routes!(analytics::summary))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::login_totp))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(account::me, account::update_me, privacy::erase_me))
        .routes(routes!(privacy::export_me))
        .routes(routes!(privacy::export_user))
        .routes(routes!(account::change_password))
        .routes(routes!(account::list_sessions))
        .routes(routes!(account::end_session))
        .routes(routes!(totp::setup))
        .routes(routes!(totp::confirm))
        .routes(routes!(totp::disable))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, privacy::erase_user))
        .routes(routes!(users::audit_log))
        .routes(routes!(media::serve))
        .routes(routes!(seo::sitemap_xml))
        .routes(routes!(seo::sitemap_file))
        .routes(routes!(seo::feed_xml))
        .routes(routes!(seo::robots_txt))
        .routes(routes!(seo::post_meta))
        .merge(
            // Uploads get their own, larger body limit (5 MiB plus the multipart framing).
            OpenApiRouter::new()
                .routes(routes!(media::upload))
                .layer(DefaultBodyLimit::max(
                    crate::content::media::MAX_BYTES + 64 * 1024,
                )),
        )
        .routes(routes!(posts::list, posts::create))
        .routes(routes!(posts::get, posts::update, posts::delete))
        .routes(routes!(categories::list, categories::create))
        .routes(routes!(
            categories::get,
            categories::update,
            categories::delete
        ))
        .routes(routes!(tags::list, tags::create))
        .routes(routes!(tags::get, tags::delete))
        .routes(routes!(authors::list))
        .routes(routes!(authors::get))
        .routes(routes!(comments::list, comments::create))
        .routes(routes!(comments::get, comments::moderate, comments::delete))
}

/// The API's routes and the complete OpenAPI document describing them (with what the HTTP
/// layers add, see [`contract`]).
pub fn parts() -> (axum::Router<AppState>, serde_json::Value) {
    let (routes, generated) = router().split_for_parts();
    (routes, document(generated))
}

/// The OpenAPI document, as `GET /api/schema` serves it and `blogd openapi` prints it.
pub fn openapi() -> serde_json::Value {
    document(router().into_openapi())
}

fn document(generated: utoipa::openapi::OpenApi) -> serde_json::Value {
    let value = serde_json::to_value(generated).expect("the OpenAPI document serializes");
    contract::complete(value)
}

// Error responses, one type per status, for the `responses(...)` of each handler.

/// Invalid input: `validation_error` (with `details` per field) or `invalid_json`.
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(pub ErrorBody);

/// Missing, malformed, forged or expired credentials: `unauthorized`, `token_invalid`,
/// `token_expired`, `token_revoked`.
#[derive(IntoResponses)]
#[response(status = 401)]
pub struct Unauthorized(pub ErrorBody);

/// Signed in, but the role does not allow this: `forbidden`.
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(pub ErrorBody);

/// No such resource, or one the caller may not see: `not_found`.
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(pub ErrorBody);

/// The slug (or username) is already taken: `conflict`.
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(pub ErrorBody);

/// `If-Match` names an older version: `precondition_failed`. Nothing was changed.
#[derive(IntoResponses)]
#[response(status = 412)]
pub struct PreconditionFailed(pub ErrorBody);

/// The body is larger than 1 MiB: `payload_too_large`.
#[derive(IntoResponses)]
#[response(status = 413)]
pub struct PayloadTooLarge(pub ErrorBody);

/// The body is not `application/json`: `unsupported_media_type`.
#[derive(IntoResponses)]
#[response(status = 415)]
pub struct UnsupportedMediaType(pub ErrorBody);

/// The database is not answering: `unavailable`.
#[derive(IntoResponses)]
#[response(status = 503)]
pub struct Unavailable(pub ErrorBody);
