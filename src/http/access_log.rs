//! One access-log line per request, in `access.log` (JSON lines).
//!
//! The line is written here by hand rather than as a `tracing` event: through the JSON
//! formatter, an event cost more than everything else the server does for a cached answer
//! (a formatted timestamp, a `serde_json` map, a UTF-8 check per fragment, a dozen small
//! allocations). Here it is a few hundred bytes appended to a buffer kept by the thread, then
//! handed to the batching writer: no allocation, no formatter. The fields and their order are
//! those the `tracing` JSON layer wrote, so readers of the file see no difference:
//!
//! `{"timestamp":"2026-11-30T22:58:55.696013Z","level":"INFO","message":"request",
//! "request_id":…,"method":"GET","route":"/api/v1/posts","path":"/api/v1/posts?page=",
//! "status":200,"duration_ms":0.34,"bytes":11387,"ip":"127.0.0.1","user_id":5,
//! "user_agent":"curl/8.0","target":"access"}`
//!
//! Nothing logged holds a secret: the route template, the path with query parameter *names*
//! only, and never a header but the user agent.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{MatchedPath, Request};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderValue, Method, Uri};

use super::context::RequestMeta;

/// What the line needs from the request, taken before the request is handed on (clones of
/// shared buffers, no copies).
pub struct Pending {
    method: Method,
    uri: Uri,
    user_agent: Option<HeaderValue>,
}

impl Pending {
    /// None when no access log is kept (tests that build the app without `serve`).
    pub fn of(req: &Request) -> Option<Pending> {
        let wanted = crate::logging::access_file().is_some() || crate::logging::access_to_stdout();
        wanted.then(|| Pending {
            method: req.method().clone(),
            uri: req.uri().clone(),
            user_agent: req.headers().get(USER_AGENT).cloned(),
        })
    }
}

/// Writes the line of a request whose answer never came: the client went away (or the
/// connection broke) while its handler ran, and the handler's future was dropped. Such a
/// request is logged with status 499 (nginx's "client closed request") and the time it ran,
/// so slow requests that clients give up on are seen, not lost from the log.
pub struct Abandoned {
    watched: Option<(Pending, Arc<RequestMeta>, Option<MatchedPath>, Instant)>,
}

/// The status logged for an abandoned request.
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

impl Abandoned {
    /// Watches a request until [`Abandoned::answered`]; nothing to watch without a log.
    pub fn watch(
        pending: Option<Pending>,
        meta: &Arc<RequestMeta>,
        route: Option<&MatchedPath>,
    ) -> Abandoned {
        Abandoned {
            watched: pending.map(|p| (p, meta.clone(), route.cloned(), Instant::now())),
        }
    }

    /// The answer is ready: the caller writes the line itself.
    pub fn answered(mut self) -> Option<Pending> {
        self.watched.take().map(|(pending, ..)| pending)
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some((pending, meta, route, started)) = self.watched.take() else {
            return;
        };
        let outcome = Outcome {
            route: route.as_ref().map_or("(unmatched)", MatchedPath::as_str),
            status: CLIENT_CLOSED_REQUEST,
            elapsed: started.elapsed(),
            bytes: 0,
        };
        write(pending, &meta, &outcome);
    }
}

/// What happened, known once the answer is ready.
pub struct Outcome<'a> {
    pub route: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    /// The body's size as far as it is known before it is sent (streams: what is known).
    pub bytes: u64,
}

/// Writes the line.
pub fn write(pending: Pending, meta: &RequestMeta, outcome: &Outcome) {
    let user_agent = pending
        .user_agent
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(file) = crate::logging::access_file() {
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
        }
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            format_line(
                &mut line,
                SystemTime::now(),
                &pending,
                meta,
                outcome,
                user_agent,
            );
            file.append(line.as_bytes());
        });
    }
    if crate::logging::access_to_stdout() {
        let mut path = String::new();
        push_logged_path(&mut path, &pending.uri);
        tracing::info!(
            target: crate::logging::ACCESS,
            request_id = %meta.request_id,
            method = %pending.method,
            route = outcome.route,
            path = %path,
            status = outcome.status,
            duration_ms = duration_ms(outcome.elapsed),
            bytes = outcome.bytes,
            ip = meta.ip.map(|ip| ip.to_string()),
            user_id = meta.user().map(|(id, _)| id),
            user_agent = %user_agent.chars().take(200).collect::<String>(),
            "request"
        );
    }
}

fn duration_ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e5).round() / 100.0
}

fn format_line(
    line: &mut String,
    now: SystemTime,
    pending: &Pending,
    meta: &RequestMeta,
    outcome: &Outcome,
    user_agent: &str,
) {
    line.push_str("{\"timestamp\":\"");
    push_timestamp(line, now);
    line.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":\"");
    // Checked or generated: only `[A-Za-z0-9._-]`.
    line.push_str(meta.request_id.as_str());
    line.push_str("\",\"method\":\"");
    push_escaped(line, pending.method.as_str());
    line.push_str("\",\"route\":\"");
    push_escaped(line, outcome.route);
    line.push_str("\",\"path\":\"");
    push_logged_path(line, &pending.uri);
    line.push_str("\",\"status\":");
    push_int(line, u64::from(outcome.status));
    line.push_str(",\"duration_ms\":");
    push_hundredths(line, outcome.elapsed);
    line.push_str(",\"bytes\":");
    push_int(line, outcome.bytes);
    if let Some(ip) = meta.ip {
        line.push_str(",\"ip\":\"");
        push_ip(line, ip);
        line.push('"');
    }
    if let Some((id, _)) = meta.user() {
        line.push_str(",\"user_id\":");
        let _ = write!(line, "{id}");
    }
    line.push_str(",\"user_agent\":\"");
    push_escaped(line, prefix(user_agent, 200));
    line.push_str("\",\"target\":\"access\"}\n");
}

/// The first `chars` characters of `text`.
fn prefix(text: &str, chars: usize) -> &str {
    if text.len() <= chars {
        return text;
    }
    match text.char_indices().nth(chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The path with the query's parameter names but none of its values (`/p?q=&page=`): values
/// can hold anything a client typed, tokens included, and never reach a log. At most 300
/// characters of path, 20 names of 40 characters.
fn push_logged_path(line: &mut String, uri: &Uri) {
    push_escaped(line, prefix(uri.path(), 300));
    let Some(query) = uri.query() else {
        return;
    };
    line.push('?');
    for (n, pair) in query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(20)
        .enumerate()
    {
        if n > 0 {
            line.push('&');
        }
        let name = pair.split('=').next().unwrap_or("");
        push_escaped(line, prefix(name, 40));
        line.push('=');
    }
}

/// JSON string contents, escaped as serde_json does.
fn push_escaped(line: &mut String, text: &str) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        line.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(line, "\\u{b:04x}");
        } else {
            line.push_str(escape);
        }
        start = i + 1;
    }
    line.push_str(&text[start..]);
}

fn push_int(line: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

/// Milliseconds rounded to hundredths, written as the shortest decimal (`0.34`, `1.5`, `2.0`)
/// like the `f64` the line used to carry.
fn push_hundredths(line: &mut String, elapsed: Duration) {
    let hundredths = (elapsed.as_nanos() + 5_000) / 10_000;
    let hundredths = u64::try_from(hundredths).unwrap_or(u64::MAX);
    push_int(line, hundredths / 100);
    line.push('.');
    let frac = hundredths % 100;
    line.push(char::from(b'0' + (frac / 10) as u8));
    if frac % 10 != 0 {
        line.push(char::from(b'0' + (frac % 10) as u8));
    }
}

fn push_ip(line: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push('.');
                }
                push_int(line, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(line, "{v6}");
        }
    }
}

/// RFC 3339 in UTC with microseconds, as `tracing-subscriber` wrote it. The date and time of
/// day are worked out once a second per thread.
fn push_timestamp(line: &mut String, now: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            // The clock's own RFC 3339, less its `Z`: the microseconds go before it.
            let whole = crate::clock::rfc3339(secs as i64);
            cached.1.clear();
            cached.1.push_str(whole.strip_suffix('Z').unwrap_or(&whole));
            cached.0 = secs;
        }
        line.push_str(&cached.1);
    });
    line.push('.');
    let mut digits = *b"000000Z";
    let mut n = since.subsec_micros();
    for d in digits[..6].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    line.push_str(std::str::from_utf8(&digits).unwrap_or("000000Z"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request_id::RequestId;

    fn line_for(uri: &str, agent: &str, elapsed_us: u64, ip: Option<IpAddr>) -> serde_json::Value {
        let pending = Pending {
            method: Method::GET,
            uri: uri.parse().unwrap(),
            user_agent: Some(HeaderValue::from_str(agent).unwrap()),
        };
        let meta = RequestMeta::new(RequestId::generate(), ip);
        let outcome = Outcome {
            route: "/api/v1/posts",
            status: 200,
            elapsed: Duration::from_micros(elapsed_us),
            bytes: 11387,
        };
        let mut line = String::new();
        format_line(
            &mut line,
            SystemTime::UNIX_EPOCH + Duration::from_micros(1_796_079_535_000_042),
            &pending,
            &meta,
            &outcome,
            agent,
        );
        assert!(line.ends_with("\"}\n"), "{line}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    #[test]
    fn the_line_is_json_with_every_field() {
        let v = line_for(
            "/api/v1/posts?q=hunter2&page=2&&x",
            "say \"hi\"\\\tnow",
            1234,
            Some("127.0.0.1".parse().unwrap()),
        );
        assert_eq!(v["timestamp"], "2026-11-30T22:58:55.000042Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["target"], "access");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["route"], "/api/v1/posts");
        assert_eq!(v["path"], "/api/v1/posts?q=&page=&x=");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.23);
        assert_eq!(v["bytes"], 11387);
        assert_eq!(v["ip"], "127.0.0.1");
        assert_eq!(v["user_agent"], "say \"hi\"\\\tnow");
        assert_eq!(v["request_id"].as_str().unwrap().len(), 36);
        assert!(v.get("user_id").is_none(), "anonymous: no user_id");
        let v6 = line_for("/x", "", 0, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(v6["ip"], "2001:db8::1");
        assert_eq!(v6["duration_ms"], 0.0);
        assert!(line_for("/x", "", 0, None).get("ip").is_none());
    }

    #[test]
    fn numbers_as_the_json_layer_wrote_them() {
        let mut s = String::new();
        for (us, text) in [
            (0, "0.0"),
            (4, "0.0"),
            (5, "0.01"),
            (340, "0.34"),
            (1000, "1.0"),
            (1500, "1.5"),
            (12_345_678, "12345.68"),
        ] {
            s.clear();
            push_hundredths(&mut s, Duration::from_micros(us));
            assert_eq!(s, text, "{us} µs");
        }
        s.clear();
        push_int(&mut s, u64::MAX);
        assert_eq!(s, u64::MAX.to_string());
        s.clear();
        push_escaped(&mut s, "a\u{1}b");
        assert_eq!(s, "a\\u0001b");
        assert_eq!(prefix("héllo", 2), "hé");
    }
}
