//! `/api/v1/analytics`: signed page views in, a summary out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};

use super::{BadRequest, Forbidden, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::db::pageviews::{self, Summary};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json;
use crate::ops::analytics::PageView;
use crate::security::{EventKind, SecurityEvent};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageViewBody {
    /// The page's path on the front end, e.g. `/blog/my-post`.
    #[schema(max_length = 2000)]
    pub path: String,
    /// Where the visitor came from; only its origin (`https://example.com`) is kept.
    #[schema(max_length = 2000)]
    pub referrer: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// How many days back, 1–365 (default 7).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
}

/// Whether `X-Signature: sha256=<hex>` is an HMAC-SHA256 of `body` under one of `secrets`,
/// compared in constant time.
fn signature_ok(header: Option<&str>, body: &[u8], secrets: &[&str]) -> bool {
    let Some(given) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    secrets.iter().any(|secret| {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}

/// Whether the body is declared as JSON or as plain text (a beacon's string).
fn json_or_text(headers: &HeaderMap) -> bool {
    let essence = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/plain"
}

/// `https://example.com/a?b` → `https://example.com`: enough for "top referrers", and no
/// personal data from the referring page's path or query.
fn origin_of(referrer: &str) -> Option<String> {
    let (scheme, rest) = referrer.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?.rsplit('@').next()?;
    (matches!(scheme, "http" | "https") && !host.is_empty())
        .then(|| format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// Record a page view. The body must be signed: `X-Signature: sha256=<hex HMAC-SHA256 of the
/// raw body with the analytics secret>`. Accepted views are written in batches.
///
/// The body is JSON, sent as `application/json` or as `text/plain` (what
/// `navigator.sendBeacon` sends for a string, so a front end's beacon endpoint can forward the
/// beacon's bytes unchanged and sign exactly those). Other types (forms, multipart, none) are
/// refused with 415: their bytes are not the JSON that was signed.
#[utoipa::path(post, path = "/api/v1/analytics/pageview", operation_id = "recordPageView", tag = "analytics",
    request_body(description = "`{path, referrer?}` as JSON", content(
        (PageViewBody = "application/json"),
        (String = "text/plain"),
    )),
    params(("X-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    responses(
        (status = 202, description = "Accepted"),
        BadRequest,
        (status = 403, description = "Missing or wrong signature: `invalid_signature`", body = crate::http::request_id::ErrorBody),
        UnsupportedMediaType,
        (status = 503, description = "The queue of views waiting to be written is full: `unavailable`", body = crate::http::request_id::ErrorBody),
    ))]
pub async fn pageview(
    State(state): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    check_signature(&state, &meta, &headers, &body, now)?;
    if !json_or_text(&headers) {
        return Err(ApiError::UnsupportedMediaType(
            "Send the signed JSON as application/json or text/plain".into(),
        ));
    }
    let view = parse_view(&body)?;
    let slug = state
        .config
        .site
        .post_path
        .slug_of(&view.path)
        .map(str::to_string);
    let referrer = view.referrer.as_deref().and_then(origin_of);
    let view = PageView {
        time: now,
        path: view.path,
        slug,
        referrer,
    };
    // A full queue refuses rather than waits: the writer is behind, and a beacon can be lost.
    let accepted = state.analytics.offer(view).is_ok();
    let outcome = if accepted { "accepted" } else { "queue_full" };
    metrics::counter!("analytics_pageviews_total", "outcome" => outcome).increment(1);
    if accepted {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::Unavailable)
    }
}

/// The signature first, before the body is even parsed: an unsigned flood costs one HMAC per
/// request, and each miss is a security event (the alert rule counts them).
fn check_signature(
    state: &AppState,
    meta: &Meta,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let secrets = state.shared_secrets();
    let header = headers.get("x-signature").and_then(|v| v.to_str().ok());
    if signature_ok(header, body, &secrets.analytics.accepted(now)) {
        return Ok(());
    }
    metrics::counter!("analytics_pageviews_total", "outcome" => "bad_signature").increment(1);
    let detail = match header {
        Some(_) => "pageview with a wrong signature",
        None => "pageview without a signature",
    };
    state.security.emit(SecurityEvent {
        kind: EventKind::InvalidSignature,
        time: now,
        ip: meta.ip(),
        user: None,
        detail: detail.into(),
    });
    Err(ApiError::InvalidSignature)
}

/// The view as sent: a path of this site (not a URL) and an optional referrer.
fn parse_view(body: &[u8]) -> Result<PageViewBody, ApiError> {
    let view: PageViewBody = json::parse(body)?;
    let mut v = crate::validate::Validator::new();
    v.max_len("path", &view.path, 2000);
    if !view.path.starts_with('/') {
        v.add("path", "Must be a path starting with /");
    }
    v.optional_text("referrer", view.referrer.as_deref(), 2000);
    v.finish()?;
    Ok(view)
}

/// Views per post, per day and by referrer (editors and above).
#[utoipa::path(get, path = "/api/v1/analytics/summary", operation_id = "getAnalyticsSummary", tag = "analytics",
    params(SummaryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The summary", body = Summary), BadRequest, Unauthorized, Forbidden))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    params: crate::http::pagination::ListParams,
) -> Result<axum::Json<Summary>, ApiError> {
    caller.require(Role::Editor)?;
    let days = match params.get("days") {
        None => 7,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| ApiError::field("days", "Must be a whole number from 1 to 365"))?,
    };
    let now = state.clock.now();
    Ok(axum::Json(
        state
            .db
            .read(move |c| pageviews::summary(c, days, now))
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_origins() {
        let body = br#"{"path":"/blog/x"}"#;
        let good = crate::ops::webhooks::signature("k", body);
        assert!(signature_ok(Some(&good), body, &["k"]));
        assert!(
            signature_ok(Some(&good), body, &["new", "k"]),
            "the previous secret during its grace"
        );
        assert!(!signature_ok(Some(&good), body, &["other"]));
        assert!(
            !signature_ok(Some(&good[..good.len() - 2]), body, &["k"]),
            "truncated"
        );
        assert!(!signature_ok(None, body, &["k"]));
        assert!(!signature_ok(Some("sha1=abc"), body, &["k"]));
        assert_eq!(
            origin_of("https://News.Example.com/a/b?c=d").as_deref(),
            Some("https://news.example.com")
        );
        assert_eq!(
            origin_of("https://user:pw@example.com/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
    }
}
