//! The request id: the client's `X-Request-ID` when it is safe to log and echo, else a new
//! UUID. It is held inline (no heap string): it is copied into the request meta, the access
//! line, an error body and the response header, on every request.

use std::fmt;

use axum::http::{HeaderMap, HeaderValue};

/// Kept at its old path: the API's documentation names `request_id::ErrorBody`.
pub use super::error_body::ErrorBody;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest id accepted from a client.
const MAX_LEN: usize = 64;

/// The id of the request being served: 1–64 characters of `[A-Za-z0-9._-]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

/// An incoming id is kept when it is 1–64 characters of `[A-Za-z0-9._-]`: safe to log and to
/// echo. Anything else is replaced, so a client cannot inject into logs through it.
fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl RequestId {
    /// A new random id (a UUID v4, hyphenated).
    pub fn generate() -> RequestId {
        let mut bytes = [0u8; MAX_LEN];
        let len = uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut bytes)
            .len();
        RequestId {
            len: len as u8,
            bytes,
        }
    }

    /// The client's id if acceptable, else a new one; with the header value to answer with
    /// when the client's can be echoed as it came (no copy).
    pub fn of_request(headers: &HeaderMap) -> (RequestId, Option<HeaderValue>) {
        if let Some(value) = headers.get(REQUEST_ID_HEADER)
            && acceptable(value.as_bytes())
        {
            let mut bytes = [0u8; MAX_LEN];
            bytes[..value.len()].copy_from_slice(value.as_bytes());
            let id = RequestId {
                len: value.len() as u8,
                bytes,
            };
            return (id, Some(value.clone()));
        }
        (RequestId::generate(), None)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked or generated above).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The response header's value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.bytes[..usize::from(self.len)])
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        let ok = |s: &str| acceptable(s.as_bytes());
        assert!(ok("abc-123_x.y"));
        assert!(ok(&"a".repeat(64)));
        assert!(!ok(&"a".repeat(65)));
        assert!(!ok(""));
        assert!(!ok("a b"));
        assert!(!ok("a\nb"));
        assert!(!ok("<script>"));
    }

    #[test]
    fn kept_or_made() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("trace-1"));
        let (id, echo) = RequestId::of_request(&headers);
        assert_eq!(id.as_str(), "trace-1");
        assert_eq!(echo.unwrap(), "trace-1");
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("bad id"));
        let (id, echo) = RequestId::of_request(&headers);
        assert!(echo.is_none());
        assert_eq!(id.as_str().len(), 36, "a UUID: {id}");
        assert_eq!(id.header_value(), id.as_str());
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
