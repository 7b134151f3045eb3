//! The JSON body extractor. Unlike axum's, it answers in API.md's terms:
//! unparseable → 400 `invalid_json`; wrong types, missing or unknown fields → 400
//! `validation_error` naming the field; wrong Content-Type → 415; too big → 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is_json = essence.eq_ignore_ascii_case("application/json")
            || (essence.starts_with("application/") && essence.ends_with("+json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidJson("The request body could not be read".into())
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// A JSON body that may be absent altogether (no bytes): `None` then.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared_empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        let has_type = req.headers().contains_key(CONTENT_TYPE);
        if declared_empty || !has_type {
            // No body, or a body without a type: only an empty one is accepted as "none".
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|_| ApiError::PayloadTooLarge)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| OptionalJson(Some(v)))
    }
}

/// Parses a JSON document into `T`, mapping errors to the API's.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object; serde would otherwise read `[…]` as a struct's fields.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::field("body", "Expected a JSON object")),
            Err(_) => Err(ApiError::InvalidJson("The body is not valid JSON".into())),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => data_error(&path, &inner),
            Category::Syntax | Category::Eof | Category::Io => ApiError::InvalidJson(format!(
                "Malformed JSON at line {}, column {}",
                inner.line(),
                inner.column()
            )),
        }
    })?;
    de.end()
        .map_err(|_| ApiError::InvalidJson("Unexpected data after the JSON document".into()))?;
    Ok(value)
}

/// A data error becomes a validation error on the field it concerns.
fn data_error(path: &str, err: &serde_json::Error) -> ApiError {
    let full = err.to_string();
    // serde_json appends " at line L column C"; the field name says where already.
    let message = full.split(" at line ").next().unwrap_or(&full);
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let at = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted("unknown field `") {
        // The path already ends at the unknown key itself.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            at(&name)
        };
        return ApiError::field(&field, "Unknown field");
    }
    if let Some(name) = quoted("missing field `") {
        return ApiError::field(&at(&name), "This field is required");
    }
    ApiError::field(path, capitalize(message))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// For optional fields of a PATCH that may be cleared: absent → `None` (leave alone),
/// `null` → `Some(None)` (clear), a value → `Some(Some(v))`. Use with `#[serde(default)]`.
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// For optional fields that may be left out but not set to `null` (a title cannot be cleared).
/// Use with `#[serde(default)]`.
pub fn non_null<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("this field may not be null")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Body {
        pub title: String,
        pub count: Option<u32>,
    }

    fn details(err: ApiError) -> std::collections::BTreeMap<String, Vec<String>> {
        match err {
            ApiError::Validation(d) => d,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn maps_each_kind_of_error() {
        assert!(matches!(
            parse::<Body>(b"{\"title\": "),
            Err(ApiError::InvalidJson(_))
        ));
        assert!(matches!(
            parse::<Body>(b"not json"),
            Err(ApiError::InvalidJson(_))
        ));
        let d = details(parse::<Body>(b"{\"title\": \"x\", \"role\": \"admin\"}").unwrap_err());
        assert_eq!(d["role"], ["Unknown field"]);
        let d = details(parse::<Body>(b"{}").unwrap_err());
        assert_eq!(d["title"], ["This field is required"]);
        let d = details(parse::<Body>(b"{\"title\": 5}").unwrap_err());
        assert!(d["title"][0].starts_with("Invalid type"), "{d:?}");
        let d = details(parse::<Body>(b"{\"title\": \"x\", \"count\": -1}").unwrap_err());
        assert!(d.contains_key("count"), "{d:?}");
        let d = details(parse::<Body>(b"[1]").unwrap_err());
        assert!(d.contains_key("body"), "{d:?}");
        assert!(parse::<Body>(b"{\"title\": \"x\"} trailing").is_err());
        let ok = parse::<Body>(b"{\"title\": \"x\", \"count\": 2}").unwrap();
        assert_eq!((ok.title.as_str(), ok.count), ("x", Some(2)));
    }
}
