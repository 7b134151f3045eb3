//! List parameters (`page`, `per_page` and the filters) and the list response shape.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header::HOST;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;
/// The highest page number: the document says `page` is an int32 (what clients generated from
/// it hold), so the server must not accept more than that type can carry.
pub const MAX_PAGE: u32 = i32::MAX as u32;

/// The query string of a list request, with `page` and `per_page` validated.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub page: u32,
    pub per_page: u32,
    pairs: Vec<(String, String)>,
    /// `scheme://host/path` when the host is trusted, else just `/path`.
    link_base: String,
}

/// Documents `page` and `per_page` for every list operation (`params(PageQuery, …)`);
/// [`ListParams`] reads and checks them. The bounds are [`MAX_PER_PAGE`]'s (attributes take
/// literals only: 2147483647 is [`MAX_PAGE`]; `tests/api/limits.rs` holds the document to what
/// is enforced).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// `{"results": [...], "pagination": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub results: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
    pub total_pages: i64,
    /// URL of the next page, or null on the last one.
    pub next: Option<String>,
    /// URL of the previous page, or null on the first one.
    pub previous: Option<String>,
}

fn parse_bounded(name: &str, value: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            name,
            format!("Must be a whole number from 1 to {max}"),
        )),
    }
}

impl ListParams {
    pub fn from_query(query: &str, link_base: String) -> Result<ListParams, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let page = parse_bounded("page", first("page"), 1, MAX_PAGE)?;
        let per_page = parse_bounded(
            "per_page",
            first("per_page"),
            DEFAULT_PER_PAGE,
            MAX_PER_PAGE,
        )?;
        Ok(ListParams {
            page,
            per_page,
            pairs,
            link_base,
        })
    }

    /// The first value of a query parameter, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }

    /// Wraps one page of results with its pagination block.
    pub fn respond<T>(&self, results: Vec<T>, total: i64) -> Paginated<T> {
        let per_page = i64::from(self.per_page);
        let total_pages = (total + per_page - 1) / per_page;
        let next = (i64::from(self.page) < total_pages).then(|| self.link(self.page + 1));
        let previous = (self.page > 1).then(|| self.link(self.page - 1));
        Paginated {
            results,
            pagination: Pagination {
                page: self.page,
                per_page: self.per_page,
                total,
                total_pages,
                next,
                previous,
            },
        }
    }

    /// This list's URL with another page number, other parameters kept in order.
    fn link(&self, page: u32) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("page", &page.to_string());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "page") {
            query.append_pair(k, v);
        }
        format!("{}?{}", self.link_base, query.finish())
    }
}

impl FromRequestParts<AppState> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = link_origin(state, parts).unwrap_or_default();
        let base = format!("{origin}{}", parts.uri.path());
        ListParams::from_query(parts.uri.query().unwrap_or(""), base)
    }
}

/// The `scheme://host[:port]` for links to the API: the request's host when it is one we
/// answer as, else `site.base_url` (the front end, which may proxy the API), else none
/// (relative links).
fn link_origin(state: &AppState, parts: &Parts) -> Option<String> {
    request_origin(state, parts).or_else(|| state.config.site.base_url.0.clone())
}

/// The `scheme://host[:port]` the request came to, when that host is one we answer as (a
/// configured host name, localhost, a loopback address, or the very address the connection
/// arrived at). A forged `Host` — any other name or IP literal — gives none, never a link to
/// somewhere else that a cache upstream would keep.
pub fn request_origin(state: &AppState, parts: &Parts) -> Option<String> {
    origin_from(state, &parts.uri, &parts.headers, &parts.extensions)
}

/// [`request_origin`] from a request's URI, headers and extensions.
pub fn origin_from(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<String> {
    trusted_authority(state, uri, headers, extensions)
        .map(|authority| format!("{}://{authority}", state.public_scheme()))
}

/// The authority (`host[:port]`) the request was sent to, when absolute links may be made
/// with it: a well-formed localhost, configured hostname, loopback address or the very
/// address the connection arrived at.
pub fn trusted_authority<'a>(
    state: &AppState,
    uri: &'a axum::http::Uri,
    headers: &'a axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<&'a str> {
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(HOST)?.to_str().ok())?;
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return None;
    }
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let host: std::borrow::Cow<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        host.to_ascii_lowercase().into()
    } else {
        host.into()
    };
    let trusted = match host.parse::<IpAddr>() {
        Ok(ip) => {
            let arrived_at = extensions
                .get::<super::server::LocalAddr>()
                .map(|local| local.0.ip().to_canonical());
            ip.is_loopback() || Some(ip.to_canonical()) == arrived_at
        }
        Err(_) => host == "localhost" || state.config.server.hostnames.iter().any(|h| h.0 == host),
    };
    trusted.then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Result<ListParams, ApiError> {
        ListParams::from_query(q, "/api/v1/posts".into())
    }

    #[test]
    fn defaults_and_bounds() {
        let p = params("").unwrap();
        assert_eq!((p.page, p.per_page), (1, 20));
        assert!(params("page=0").is_err());
        assert!(params("page=-1").is_err());
        assert!(params("page=abc").is_err());
        assert!(params("per_page=0").is_err());
        assert!(params("per_page=101").is_err());
        assert!(params("per_page=1000").is_err());
        assert_eq!(params("per_page=100").unwrap().per_page, 100);
    }

    #[test]
    fn links_keep_filters_and_stop_at_the_ends() {
        let p = params("tag=rust&page=2&per_page=10").unwrap();
        let page = p.respond(vec![0; 10], 35);
        assert_eq!(page.pagination.total_pages, 4);
        assert_eq!(
            page.pagination.next.as_deref(),
            Some("/api/v1/posts?page=3&tag=rust&per_page=10")
        );
        assert_eq!(
            page.pagination.previous.as_deref(),
            Some("/api/v1/posts?page=1&tag=rust&per_page=10")
        );
        let last = params("page=4&per_page=10")
            .unwrap()
            .respond(vec![0; 5], 35);
        assert_eq!(last.pagination.next, None);
        let empty = params("").unwrap().respond(Vec::<u8>::new(), 0);
        assert_eq!(
            (
                empty.pagination.total_pages,
                empty.pagination.next,
                empty.pagination.previous
            ),
            (0, None, None)
        );
    }
}
