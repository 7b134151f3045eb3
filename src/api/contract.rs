//! Completes the generated OpenAPI document with what the HTTP layers in front of the handlers
//! add to every route they cover, so that a client generated from the document knows every
//! status, header and shape the server can send.
//!
//! The handlers' `#[utoipa::path]` attributes describe what each handler answers. The layers
//! (`http::router`) add more, the same way to every route: a request id on every response,
//! bans and throttling (403 `ip_banned`, 429 with `Retry-After`, `RateLimit-*`), the body limit
//! (413), the response cache (ETag and 304 for anonymous reads), the deadline (408) and the
//! panic guard (500). Writing those into 57 attribute lists would drift from the layers; here
//! they are derived from the same constants the layers use ([`never_throttled`],
//! [`CACHED_ROUTES`]).
//!
//! The pass also tightens what utoipa leaves loose: a response property that is `null` when
//! empty is still always present (required and nullable), timestamps are `date-time`,
//! component schemas are `$ref`-ed instead of copied inline (utoipa inlines generic
//! arguments, so `Paginated<Post>` carried its own copy of `Post`), and the documentation
//! routes (`/api/schema`, `/api/docs/`, `/api/redoc/`) are listed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::http::docs::{REDOC_PATH, SCHEMA_PATH, SWAGGER_PATH};
use crate::http::public_cache::store::CACHED_ROUTES;
use crate::http::throttle::never_throttled;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document with the layers' responses and headers, tightened schemas, and the servers.
pub fn complete(mut doc: Value) -> Value {
    doc["servers"] = json!([{
        "url": "/",
        "description": "The blogd that serves this document: every path is on its origin"
    }]);
    add_docs_routes(&mut doc);
    add_shared_components(&mut doc);
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for path in paths {
        for method in METHODS {
            if let Some(op) = doc["paths"][&path].get_mut(*method) {
                add_layer_responses(&path, method, op);
            }
        }
    }
    reference_components(&mut doc);
    no_null_request_bodies(&mut doc);
    require_nullable_response_properties(&mut doc);
    mark_timestamps(&mut doc);
    doc
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// Headers every response of an operation may carry: the request id always, the rate-limit
/// headers whenever a limit counted the request (never on the unthrottled probes).
fn common_headers(throttled: bool) -> Map<String, Value> {
    let mut headers = Map::new();
    headers.insert("X-Request-ID".into(), header_ref("X-Request-ID"));
    headers.insert("Cache-Control".into(), header_ref("Cache-Control"));
    if throttled {
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            headers.insert(name.into(), header_ref(name));
        }
    }
    headers
}

fn error_response(description: &str, extra_headers: &[&str]) -> Value {
    let mut headers = common_headers(true);
    for name in extra_headers {
        headers.insert((*name).into(), header_ref(name));
    }
    json!({
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Declares the header component `component` under the response header name `name` (two
/// components can describe one header: required on 429, optional on 503).
fn with_header_named(mut response: Value, component: &str, name: &str) -> Value {
    if let Some(headers) = response["headers"].as_object_mut()
        && let Some(reference) = headers.remove(component)
    {
        headers.insert(name.into(), reference);
    }
    response
}

fn add_shared_components(doc: &mut Value) {
    let components = &mut doc["components"];
    components["headers"] = json!({
        "X-Request-ID": {
            "description": "The request's id: a valid incoming `X-Request-ID` (1–64 characters of \
                            `[A-Za-z0-9._-]`) is kept, else a new UUID. Error bodies repeat it \
                            as `request_id`; the server's logs carry it too.",
            "required": true,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}
        },
        "RateLimit-Limit": {
            "description": "Requests allowed in the window of the limit closest to refusing \
                            this request. Sent whenever a limit counted the request (not to \
                            addresses in `throttle.allow`).",
            "schema": {"type": "integer", "minimum": 0}
        },
        "RateLimit-Remaining": {
            "description": "Requests left in that window.",
            "schema": {"type": "integer", "minimum": 0}
        },
        "RateLimit-Reset": {
            "description": "Seconds until that window frees a slot.",
            "schema": {"type": "integer", "minimum": 0}
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again (also `retry_after` in the body).",
            "required": true,
            "schema": {"type": "integer", "minimum": 0}
        },
        "Retry-After-When-Full": {
            "description": "With `storage_full` only: seconds to wait before trying again (also \
                            `retry_after` in the body).",
            "required": false,
            "schema": {"type": "integer", "minimum": 0}
        },
        "ETag": {
            "description": "Strong validator of this representation: send it back as \
                            `If-None-Match` (304 when unchanged) or, for writes to a post, as \
                            `If-Match`.",
            "schema": {"type": "string"}
        },
        "Cache-Control": {
            "description": "On every answer. Anonymous reads of public content (posts, \
                            terms, authors, comments, SEO metadata): `public, max-age=…, \
                            s-maxage=…, stale-while-revalidate=…` from the `[cache]` \
                            configuration, with `Vary: Authorization`. Media, sitemaps, feeds \
                            and the docs pages say their own. Everything else (any request \
                            with credentials, writes, errors): `no-store`.",
            "schema": {"type": "string"}
        }
    });
    let mut not_modified_headers = common_headers(true);
    not_modified_headers.insert("ETag".into(), header_ref("ETag"));
    components["responses"] = json!({
        "NotModified": {
            "description": "Not modified: the `If-None-Match` ETag is current. No body.",
            "headers": not_modified_headers
        },
        "BadRequest": error_response(
            "Invalid input: `validation_error` (with `details` per field) or `invalid_json`.", &[]),
        "Banned": error_response(
            "This address is banned for a while after repeated abuse: `ip_banned`.", &[]),
        "Forbidden": error_response(
            "`forbidden`: the caller's role does not allow this, an admin token is used from \
             outside `auth.admin_allow`, or the role must set up two-factor sign-in first; or \
             `ip_banned`: this address is banned for a while after repeated abuse.", &[]),
        "PayloadTooLarge": error_response(
            "The body is larger than the limit (1 MiB; uploads 5 MiB): `payload_too_large`.", &[]),
        "UnsupportedMediaType": error_response(
            "The body's `Content-Type` is not one this operation takes: \
             `unsupported_media_type`.", &[]),
        "RequestTimeout": error_response(
            "The request took longer than `server.request_timeout`: `request_timeout`.", &[]),
        "Throttled": error_response(
            "Too many requests: `throttled`. Wait `Retry-After` seconds (`retry_after` in the \
             body).", &["Retry-After"]),
        "InternalError": error_response(
            "An unexpected failure: `internal_error` (the cause is in the server's log under \
             the request id, never in the answer).", &[]),
        "Unavailable": with_header_named(error_response(
            "The database is not answering for now: `unavailable`; or the server's disk is \
             full: `storage_full` (nothing was written; reads go on; retry after \
             `Retry-After` seconds).", &["Retry-After-When-Full"]), "Retry-After-When-Full", "Retry-After")
    });
}

/// `/api/schema` and the two documentation pages, served by `http::docs` rather than the API
/// router. Their static assets (under `/api/docs/` and `/api/redoc/`) and the slash-less
/// redirects are not operations a client calls; the tag says so.
fn add_docs_routes(doc: &mut Value) {
    let page = |operation_id: &str, summary: &str| {
        json!({"get": {
            "tags": ["docs"],
            "operationId": operation_id,
            "summary": summary,
            "responses": {"200": {
                "description": "An HTML page (served from the binary; loads nothing from elsewhere)",
                "content": {"text/html": {"schema": {"type": "string"}}}
            }}
        }})
    };
    let paths = doc["paths"]
        .as_object_mut()
        .expect("the document has paths");
    paths.insert(
        SCHEMA_PATH.into(),
        json!({"get": {
            "tags": ["docs"],
            "operationId": "getOpenApiDocument",
            "summary": "This OpenAPI 3.1 document (what `blogd openapi` prints)",
            "responses": {"200": {
                "description": "The document",
                "content": {"application/json": {"schema": {"type": "object"}}}
            }}
        }}),
    );
    paths.insert(
        format!("{SWAGGER_PATH}/"),
        page("getSwaggerUi", "Swagger UI for this document"),
    );
    paths.insert(
        format!("{REDOC_PATH}/"),
        page("getRedoc", "ReDoc for this document"),
    );
    let tags = doc["tags"].as_array_mut().expect("the document has tags");
    tags.push(json!({
        "name": "docs",
        "description": "This document and its two readers. `/api/docs` and `/api/redoc` \
                        redirect to their trailing-slash form; the pages' scripts and styles \
                        below those paths are static files, not operations."
    }));
}

fn has_response(op: &Value, status: &str) -> bool {
    op["responses"].get(status).is_some()
}

fn ensure_response(op: &mut Value, status: &str, component: &str) {
    if !has_response(op, status) {
        op["responses"][status] = response_ref(component);
    }
}

fn uses_bearer(op: &Value) -> bool {
    op["security"]
        .as_array()
        .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearer").is_some()))
}

fn has_integer_path_parameter(op: &Value) -> bool {
    op["parameters"].as_array().is_some_and(|params| {
        params
            .iter()
            .any(|p| p["in"] == "path" && p["schema"]["type"] == "integer")
    })
}

fn has_parameter(op: &Value, location: &str, name: &str) -> bool {
    op["parameters"].as_array().is_some_and(|params| {
        params.iter().any(|p| {
            p["in"] == location
                && p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    })
}

/// What the layers add to one operation (see the module comment).
fn add_layer_responses(path: &str, method: &str, op: &mut Value) {
    let throttled = !never_throttled(path);
    let conditional = method == "get" && CACHED_ROUTES.contains(&path);
    if op.get("requestBody").is_some() {
        ensure_response(op, "413", "PayloadTooLarge");
        ensure_response(op, "415", "UnsupportedMediaType");
    }
    if has_integer_path_parameter(op) {
        ensure_response(op, "400", "BadRequest");
    }
    if throttled {
        ensure_response(op, "429", "Throttled");
        if has_response(op, "403") {
            let own = &mut op["responses"]["403"];
            if own.get("$ref").is_none() {
                let text = own["description"].as_str().unwrap_or("").to_string();
                own["description"] = Value::String(format!(
                    "{text} Or `ip_banned`: this address is banned for a while after repeated \
                     abuse."
                ));
            }
        } else if uses_bearer(op) {
            ensure_response(op, "403", "Forbidden");
        } else {
            ensure_response(op, "403", "Banned");
        }
    } else if uses_bearer(op) {
        ensure_response(op, "403", "Forbidden");
    }
    if method != "get" {
        add_read_only_replica(op);
    }
    ensure_response(op, "408", "RequestTimeout");
    ensure_response(op, "500", "InternalError");
    if path != "/healthz" {
        ensure_response(op, "503", "Unavailable");
    }
    if conditional {
        ensure_response(op, "304", "NotModified");
        if !has_parameter(op, "header", "If-None-Match") {
            let params = op["parameters"]
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut params = params;
            params.push(json!({
                "name": "If-None-Match",
                "in": "header",
                "required": false,
                "description": "An ETag from an earlier read: 304 when unchanged. Anonymous \
                                reads of this route are answered from a cache that keeps ETags.",
                "schema": {"type": "string"}
            }));
            op["parameters"] = Value::Array(params);
        }
    }
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if response.get("$ref").is_some() {
            continue;
        }
        let headers = response
            .as_object_mut()
            .expect("a response is an object")
            .entry("headers")
            .or_insert_with(|| json!({}));
        let headers = headers.as_object_mut().expect("headers are an object");
        for (name, value) in common_headers(throttled) {
            headers.entry(name).or_insert(value);
        }
        if status == "429" {
            headers
                .entry("Retry-After")
                .or_insert_with(|| header_ref("Retry-After"));
        }
        if conditional && (status == "200" || status == "304") {
            headers.entry("ETag").or_insert_with(|| header_ref("ETag"));
        }
        // Headers the handlers document by name get the shared definitions' wording.
        if let Some(etag) = headers.get_mut("ETag")
            && etag.get("$ref").is_none()
        {
            *etag = header_ref("ETag");
        }
    }
}

/// Every write may meet a read-only replica (`http::read_only`): its 403 says so, with the
/// primary's URL in `details.primary`.
fn add_read_only_replica(op: &mut Value) {
    const TEXT: &str = "Or `read_only_replica`: this server is a read-only replica; send the \
                        write to the primary, whose URL is `details.primary`.";
    let current = op["responses"].get("403").cloned();
    let described = match current {
        Some(Value::Object(own)) if !own.contains_key("$ref") => {
            let mut own = own;
            let text = own["description"].as_str().unwrap_or("").to_string();
            own.insert(
                "description".into(),
                Value::String(format!("{text} {TEXT}")),
            );
            Value::Object(own)
        }
        Some(shared) => {
            let name = shared["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or("Forbidden");
            let text = if name == "Banned" {
                "This address is banned for a while after repeated abuse: `ip_banned`."
            } else {
                "`forbidden`: the caller's role does not allow this, an admin token is used \
                 from outside `auth.admin_allow`, or the role must set up two-factor sign-in \
                 first; or `ip_banned`: this address is banned for a while after repeated \
                 abuse."
            };
            error_response(&format!("{text} {TEXT}"), &[])
        }
        None => error_response(TEXT.trim_start_matches("Or "), &[]),
    };
    op["responses"]["403"] = described;
}

/// Replaces every inline copy of a component schema by a `$ref` to it (utoipa inlines the
/// arguments of generic types: each `Paginated_X` carried a copy of `X`, which generators then
/// turned into a second, unrelated class).
fn reference_components(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object() else {
        return;
    };
    let by_shape: BTreeMap<String, String> = schemas
        .iter()
        .filter(|(_, s)| s.get("properties").is_some() || s.get("allOf").is_some())
        .map(|(name, s)| (s.to_string(), name.clone()))
        .collect();
    fn replace(value: &mut Value, by_shape: &BTreeMap<String, String>, is_root: bool) {
        if !is_root
            && value.is_object()
            && let Some(name) = by_shape.get(&value.to_string())
        {
            *value = json!({ "$ref": format!("#/components/schemas/{name}") });
            return;
        }
        match value {
            Value::Object(map) => map.values_mut().for_each(|v| replace(v, by_shape, false)),
            Value::Array(items) => items.iter_mut().for_each(|v| replace(v, by_shape, false)),
            _ => {}
        }
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            replace(schema, &by_shape, true);
        }
    }
    if let Some(paths) = doc.get_mut("paths") {
        replace(paths, &by_shape, false);
    }
}

/// An optional JSON body is absent or an object, never `null` (`http::json` refuses anything
/// but an object): utoipa writes `Option<T>` bodies as `oneOf: [T, null]`, which made
/// generated clients send `null`. The body's `required: false` already says it may be left out.
fn no_null_request_bodies(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(content) = item
                .get_mut(*method)
                .and_then(|op| op.get_mut("requestBody"))
                .and_then(|body| body.get_mut("content"))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for media in content.values_mut() {
                let schema = &mut media["schema"];
                let Some(alternatives) = schema["oneOf"].as_array() else {
                    continue;
                };
                let not_null: Vec<Value> = alternatives
                    .iter()
                    .filter(|a| a["type"] != "null")
                    .cloned()
                    .collect();
                if not_null.len() == 1 && alternatives.len() == 2 {
                    *schema = not_null[0].clone();
                }
            }
        }
    }
}

/// Names of the component schemas a subtree refers to, directly or through other components.
fn referenced(value: &Value, schemas: &Map<String, Value>, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref")
                && let Some(name) = target.strip_prefix("#/components/schemas/")
                && found.insert(name.to_string())
                && let Some(schema) = schemas.get(name)
            {
                referenced(schema, schemas, found);
            }
            map.values().for_each(|v| referenced(v, schemas, found));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced(v, schemas, found)),
        _ => {}
    }
}

fn is_nullable(schema: &Value) -> bool {
    let null_type = |t: &Value| t == "null";
    schema["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(null_type))
        || ["oneOf", "anyOf"].iter().any(|k| {
            schema[*k]
                .as_array()
                .is_some_and(|alts| alts.iter().any(|a| null_type(&a["type"])))
        })
}

/// In schemas that only responses use, a property that may be `null` is always present: the
/// server serializes `None` as `null` (fields it leaves out are declared with
/// `skip_serializing_if` and are not nullable). Generators then type it `T | null`, not
/// `T | null | undefined`.
fn require_nullable_response_properties(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object().cloned() else {
        return;
    };
    let (mut in_responses, mut in_requests) = (BTreeSet::new(), BTreeSet::new());
    if let Some(paths) = doc["paths"].as_object() {
        for item in paths.values() {
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                referenced(&op["responses"], &schemas, &mut in_responses);
                referenced(&op["requestBody"], &schemas, &mut in_requests);
                referenced(&op["parameters"], &schemas, &mut in_requests);
            }
        }
    }
    fn tighten(schema: &mut Value) {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let nullable: Vec<String> = properties
                .iter()
                .filter(|(_, p)| is_nullable(p))
                .map(|(name, _)| name.clone())
                .collect();
            let required = schema
                .as_object_mut()
                .expect("a schema with properties is an object")
                .entry("required")
                .or_insert_with(|| json!([]));
            if let Some(required) = required.as_array_mut() {
                for name in nullable {
                    if !required.iter().any(|r| r == name.as_str()) {
                        required.push(Value::String(name));
                    }
                }
            }
        }
        match schema {
            Value::Object(map) => map.values_mut().for_each(tighten),
            Value::Array(items) => items.iter_mut().for_each(tighten),
            _ => {}
        }
    }
    let targets: Vec<String> = in_responses.difference(&in_requests).cloned().collect();
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for name in targets {
            if let Some(schema) = schemas.get_mut(&name) {
                tighten(schema);
            }
        }
    }
}

/// Whether a property name is one of the API's timestamps (`created_at`, `timestamp`, `time`…).
/// Every string property so named holds an RFC 3339 UTC time.
fn is_timestamp_name(name: &str) -> bool {
    name.ends_with("_at") || name == "timestamp" || name == "time"
}

fn is_string_schema(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(types) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// `format: date-time` on every string timestamp property, in requests and responses.
fn mark_timestamps(doc: &mut Value) {
    fn walk(value: &mut Value) {
        if let Some(properties) = value.get_mut("properties").and_then(Value::as_object_mut) {
            for (name, property) in properties.iter_mut() {
                if is_timestamp_name(name)
                    && is_string_schema(property)
                    && property.get("format").is_none()
                {
                    property["format"] = json!("date-time");
                }
            }
        }
        match value {
            Value::Object(map) => map.values_mut().for_each(walk),
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut doc["components"]);
    walk(&mut doc["paths"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_copies_become_references() {
        let mut doc = json!({
            "paths": {},
            "components": {"schemas": {
                "Item": {"type": "object", "properties": {"a": {"type": "string"}}},
                "Page": {"type": "object", "properties": {"results": {"type": "array",
                    "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}
            }}
        });
        reference_components(&mut doc);
        assert_eq!(
            doc["components"]["schemas"]["Page"]["properties"]["results"]["items"],
            json!({"$ref": "#/components/schemas/Item"})
        );
        assert!(doc["components"]["schemas"]["Item"]["properties"].is_object());
    }

    #[test]
    fn nullable_response_properties_become_required_and_requests_stay_as_they_are() {
        let body = |name: &str| {
            json!({"content": {"application/json": {"schema":
                {"$ref": format!("#/components/schemas/{name}")}}}})
        };
        let mut doc = json!({
            "paths": {"/x": {"post": {
                "requestBody": body("In"),
                "responses": {"200": body("Out")}
            }}},
            "components": {"schemas": {
                "In": {"type": "object", "properties": {"bio": {"type": ["string", "null"]}}},
                "Out": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "integer"},
                    "bio": {"type": ["string", "null"]},
                    "omitted": {"type": "string"},
                    "created_at": {"type": "string"}
                }}
            }}
        });
        require_nullable_response_properties(&mut doc);
        mark_timestamps(&mut doc);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Out"]["required"], json!(["id", "bio"]));
        assert!(schemas["In"].get("required").is_none());
        assert_eq!(
            schemas["Out"]["properties"]["created_at"]["format"],
            "date-time"
        );
    }
}
