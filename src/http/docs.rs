//! The OpenAPI document and the two documentation pages, all served from inside the binary:
//! Swagger UI from utoipa-swagger-ui's vendored copy, ReDoc from `assets/vendor/redoc`.
//! Nothing on these pages is fetched from another host, so they work air-gapped.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::Embed;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use crate::error::ApiError;

pub const SCHEMA_PATH: &str = "/api/schema";
pub const SWAGGER_PATH: &str = "/api/docs";
pub const REDOC_PATH: &str = "/api/redoc";

#[derive(Embed)]
#[folder = "assets/vendor/redoc"]
#[include = "*.js"]
struct RedocAssets;

const REDOC_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>blogd API reference</title>
</head>
<body>
  <redoc spec-url="/api/schema"></redoc>
  <script src="/api/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

/// Routes for `/api/schema`, `/api/docs/` and `/api/redoc/`.
pub fn router(openapi: serde_json::Value) -> Router<AppState> {
    Router::new()
        .merge(SwaggerUi::new(SWAGGER_PATH).external_url_unchecked(SCHEMA_PATH, openapi))
        .route(
            REDOC_PATH,
            get(|| async { Redirect::permanent("/api/redoc/") }),
        )
        .route("/api/redoc/", get(|| async { Html(REDOC_PAGE) }))
        .route("/api/redoc/{file}", get(redoc_asset))
}

async fn redoc_asset(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let asset = RedocAssets::get(&file).ok_or(ApiError::NotFound)?;
    Ok((
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        asset.data,
    )
        .into_response())
}
