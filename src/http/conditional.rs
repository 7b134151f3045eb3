//! Strong ETags and conditional requests (`If-None-Match` → 304, `If-Match` → 412).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A strong ETag for a representation: the first 128 bits of its SHA-256, quoted.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..16]))
}

/// The ETag of a value's JSON serialization: the same bytes a GET would send.
pub fn etag_of_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    Ok(etag_of(
        &serde_json::to_vec(value).map_err(ApiError::internal)?,
    ))
}

/// A generated document, ready to send.
#[derive(Debug)]
pub struct Doc {
    pub body: axum::body::Bytes,
    pub etag: String,
    /// When this content was generated (it changed at or before then).
    pub last_modified: i64,
    pub content_type: &'static str,
}

impl Doc {
    pub fn new(body: String, content_type: &'static str, now: i64) -> Doc {
        let etag = etag_of(body.as_bytes());
        Doc {
            body: body.into(),
            etag,
            last_modified: now,
            content_type,
        }
    }
}

fn tags(header: &str) -> impl Iterator<Item = &str> {
    header.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// Whether `If-None-Match` names the current representation (weak comparison, RFC 9110).
fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(tags)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// `If-Match`: absent, `*`, or naming the current representation with a strong tag.
pub fn check_if_match(if_match: Option<&str>, current: &str) -> Result<(), ApiError> {
    match if_match {
        None => Ok(()),
        Some(header) if tags(header).any(|t| t == "*" || t == current) => Ok(()),
        Some(_) => Err(ApiError::PreconditionFailed),
    }
}

/// The `If-Match` header of a request, if any.
pub fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\"unreadable\"").to_string())
}

/// A JSON response with its ETag, or 304 when the client already has it.
pub fn json_with_etag<T: Serialize>(headers: &HeaderMap, value: &T) -> Result<Response, ApiError> {
    json_bytes_with_etag(
        headers,
        serde_json::to_vec(value).map_err(ApiError::internal)?,
    )
}

/// A generated document (sitemap, feed, robots.txt) with `ETag` and `Last-Modified`, or 304
/// when the client's copy is current: `If-None-Match` decides when present, else
/// `If-Modified-Since` (RFC 9110 §13.2.2). `no-cache`: caches keep it but ask each time,
/// which costs a 304 while nothing changed.
pub fn document(headers: &HeaderMap, doc: &Doc) -> Response {
    let etag = HeaderValue::from_str(&doc.etag).unwrap_or(HeaderValue::from_static("\"x\""));
    let modified = HeaderValue::from_str(&crate::clock::http_date(doc.last_modified))
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    let fresh = if headers.contains_key(IF_NONE_MATCH) {
        none_match_hits(headers, &doc.etag)
    } else {
        headers
            .get(IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::clock::parse_http_date)
            .is_some_and(|since| doc.last_modified <= since)
    };
    let common = [
        (ETAG, etag),
        (LAST_MODIFIED, modified),
        (CACHE_CONTROL, HeaderValue::from_static("public, no-cache")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(CONTENT_TYPE, HeaderValue::from_static(doc.content_type))],
        doc.body.clone(),
    )
        .into_response()
}

/// JSON already serialized, with its ETag, or 304 when the client already has it.
pub fn json_bytes_with_etag(headers: &HeaderMap, body: Vec<u8>) -> Result<Response, ApiError> {
    let etag = etag_of(&body);
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    if none_match_hits(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag_value),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_rules() {
        let tag = etag_of(b"x");
        assert!(check_if_match(None, &tag).is_ok());
        assert!(check_if_match(Some("*"), &tag).is_ok());
        assert!(check_if_match(Some(&format!("\"old\", {tag}")), &tag).is_ok());
        assert!(check_if_match(Some("\"old\""), &tag).is_err());
        assert!(
            check_if_match(Some(&format!("W/{tag}")), &tag).is_err(),
            "weak tags never match If-Match"
        );
    }

    #[test]
    fn if_none_match_weak_comparison() {
        let tag = etag_of(b"x");
        let mut h = HeaderMap::new();
        h.insert(
            IF_NONE_MATCH,
            HeaderValue::from_str(&format!("W/{tag}")).unwrap(),
        );
        assert!(none_match_hits(&h, &tag));
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!none_match_hits(&h, &tag));
    }
}
