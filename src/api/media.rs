//! Media: image uploads (`POST /api/v1/media`) and serving them (`GET /media/{name}`).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::media::{self};
use crate::error::ApiError;
use crate::http::context::Meta;

/// Served images may not run or load anything, even if a browser were tricked into
/// rendering one as a document.
const MEDIA_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    /// Where the file is served, e.g. `/media/<sha256>.png`.
    pub url: String,
    pub sha256: String,
    /// Decided from the file's bytes: image/jpeg, image/png, image/gif or image/webp.
    pub content_type: String,
    pub size: i64,
}

/// The multipart form of an upload (for the OpenAPI document).
#[derive(ToSchema)]
pub struct UploadForm {
    /// The image: JPEG, PNG, GIF or WebP, at most 5 MiB.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
}

/// Upload an image (authors and above). Its type comes from its bytes, not its name; it is
/// stored under its SHA-256, so the same image uploaded twice is stored once.
#[utoipa::path(post, path = "/api/v1/media", operation_id = "uploadMedia", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = Uploaded, headers(("Location" = String))),
        BadRequest, Unauthorized, Forbidden, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let user = caller.require(Role::Author)?.id;
    let mut form = form.map_err(|_| {
        ApiError::UnsupportedMediaType(
            "Send the file as multipart/form-data in a field named `file`".into(),
        )
    })?;
    let bytes = the_file(&mut form).await?;
    let dir = media::media_dir(&state.config.storage.data_dir);
    let stored = state
        .content()
        .store_image(&meta.actor(user), user, dir, bytes)
        .await?;
    let url = format!("/media/{}.{}", stored.sha256, stored.extension);
    let body = Uploaded {
        url: url.clone(),
        sha256: stored.sha256,
        content_type: stored.content_type,
        size: stored.size,
    };
    Ok((StatusCode::CREATED, [(LOCATION, url)], axum::Json(body)).into_response())
}

/// The one field `file` of the form, at most `media::MAX_BYTES` long.
async fn the_file(form: &mut Multipart) -> Result<Vec<u8>, ApiError> {
    let mut file: Option<Vec<u8>> = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            return Err(ApiError::field(
                field.name().unwrap_or("field"),
                "Unknown field: send only `file`",
            ));
        }
        if file.is_some() {
            return Err(ApiError::field("file", "Send one file per request"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if bytes.len() + chunk.len() > media::MAX_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        file = Some(bytes);
    }
    file.ok_or_else(|| ApiError::field("file", "This field is required"))
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::field("file", "The multipart body could not be read")
    }
}

/// An uploaded image, with a long cache lifetime (its name is its content hash).
#[utoipa::path(get, path = "/media/{name}", operation_id = "getMedia", tag = "media",
    params(("name" = String, Path, description = "`<sha256>.<ext>` as returned by the upload"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag from an earlier answer: 304")),
    responses(
        (status = 200, description = "The image", content_type = "image/*", headers(("ETag" = String), ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`: the name is the content hash"))),
        (status = 304, description = "Not modified", headers(("ETag" = String), ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`: the name is the content hash"))),
        NotFound,
    ))]
pub async fn serve(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (hash, kind) = media::parse_name(&name).ok_or(ApiError::NotFound)?;
    let etag = format!("\"{hash}\"");
    let path = media::media_dir(&state.config.storage.data_dir)
        .join(format!("{hash}.{}", kind.extension()));
    let cache = [
        (
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            ETAG,
            HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
        ),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(MEDIA_CSP)),
    ];
    if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::NotFound)?;
    Ok((
        cache,
        [(CONTENT_TYPE, HeaderValue::from_static(kind.content_type()))],
        bytes,
    )
        .into_response())
}
