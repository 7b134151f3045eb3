//! Hostile traffic: recognises probes for files that no blog serves, path traversal, and
//! known scanners. Such requests are answered normally (usually 404) and reported as
//! `suspicious_request` security events, which the throttle turns into bans. Refused
//! authorizations (403, hidden 404) are reported here too, as `access_denied`.
//!
//! Only what the sender chose counts. A page can make any visitor's browser request any URL
//! of ours (an `<img>` on another site, an image reference a post keeps, a link): such a
//! request carries `Sec-Fetch-Site` other than `none`, and is never held against the
//! visitor, or anyone could get readers banned. What a page cannot forge (the `User-Agent`
//! of an attack tool) always counts. A tool can send the header too, to stay unreported;
//! it gains nothing else: probes are answered 404 either way. And a query string is no path:
//! `..` in a query value (`?q=wait..what`) is words, not traversal, for a server whose
//! parameters never name files.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use axum::extract::Request;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, Method};

use super::context::RequestMeta;
use super::error_body::Refusal;
use crate::app::AppState;
use crate::security::{EventKind, SecurityEvent};

/// Path fragments only scanners ask for.
const PROBES: &[&str] = &[
    "/.env",
    "/.git",
    "/.svn",
    "/.hg",
    "/.ds_store",
    "/wp-admin",
    "/wp-login",
    "/wp-content",
    "/wp-includes",
    "/xmlrpc.php",
    "/phpmyadmin",
    "/pma",
    "/.aws",
    "/.ssh",
    "/etc/passwd",
    "/server-status",
    "/cgi-bin",
    "/vendor/phpunit",
    "/actuator",
    "/.well-known/security.txt.bak",
    "/config.php",
    "/backup.sql",
    "/.htaccess",
    "/admin.php",
    "/shell",
    "/boaform",
    "/hnap1",
];

/// User agents of common attack tools (lower-case fragments).
const SCANNERS: &[&str] = &[
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "nuclei",
    "dirbuster",
    "gobuster",
    "wpscan",
    "acunetix",
    "nessus",
    "openvas",
    "havij",
    "w3af",
    "zmeu",
    "fuzz faster",
    "ffuf",
    "feroxbuster",
];

/// Why a request looks hostile, if it does. Runs on every request: nothing is allocated
/// unless the request is hostile (or its path holds a dot, a percent sign or a backslash).
pub fn reason(path: &str, headers: &HeaderMap) -> Option<String> {
    let made_by_a_page = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() != b"none");
    if !made_by_a_page {
        if has_traversal(path) {
            return Some("path traversal".into());
        }
        if let Some(probe) = probe_in(path) {
            return Some(format!("probe for {probe}"));
        }
    }
    let agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(found) = scanners().find(agent) {
        return Some(format!(
            "scanner user agent ({})",
            SCANNERS[found.pattern().as_usize()]
        ));
    }
    None
}

/// Reports a hostile-looking request as a `suspicious_request` security event (a strike
/// towards a ban). The request itself is answered normally.
pub fn check(state: &AppState, req: &Request, meta: &RequestMeta) {
    let Some(why) = reason(req.uri().path(), req.headers()) else {
        return;
    };
    state.security.emit(SecurityEvent {
        kind: EventKind::SuspiciousRequest,
        time: state.clock.now(),
        ip: meta.ip,
        user: None,
        detail: format!(
            "{} {}: {why}",
            req.method(),
            req.uri().path().chars().take(200).collect::<String>()
        ),
    });
}

/// Authorization refusals (403, and 404s that hide something) are security events.
pub fn report_refusal(
    state: &AppState,
    meta: &RequestMeta,
    refusal: Refusal,
    method: &Method,
    route: &str,
) {
    let what = match refusal {
        Refusal::Hidden => "hidden as 404",
        Refusal::Forbidden => "403",
    };
    state.security.emit(SecurityEvent {
        kind: EventKind::AccessDenied,
        time: state.clock.now(),
        ip: meta.ip,
        user: meta.user().map(|(id, role)| format!("user {id} ({role})")),
        detail: format!("{method} {route}: {what}"),
    });
}

/// One automaton for every scanner name, case-insensitive: a single pass over the agent.
fn scanners() -> &'static AhoCorasick {
    static FINDER: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SCANNERS)
            .expect("static patterns build")
    });
    &FINDER
}

/// The probe in the path, if any: at its start, or as a directory (`…/.git/…`), in any case.
/// One pass over the path for all the probes.
fn probe_in(path: &str) -> Option<&'static str> {
    static FINDER: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(PROBES)
            .expect("static patterns build")
    });
    FINDER
        .find_overlapping_iter(path)
        .find(|m| m.start() == 0 || path.as_bytes().get(m.end()) == Some(&b'/'))
        .map(|m| PROBES[m.pattern().as_usize()])
}

/// `..` as a path segment, raw or percent-encoded (once or twice), or with backslashes.
fn has_traversal(text: &str) -> bool {
    // Most paths have neither a dot, a percent sign nor a backslash: nothing to decode.
    if !text.contains(['.', '%', '\\']) {
        return false;
    }
    let decoded = text
        .to_ascii_lowercase()
        .replace("%25", "%")
        .replace("%2e", ".")
        .replace("%2f", "/")
        .replace("%5c", "/")
        .replace('\\', "/");
    decoded
        .split(['/', '=', '&'])
        .any(|segment| segment == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, agent: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, agent.parse().unwrap());
        reason(path, &h)
    }

    #[test]
    fn recognises_probes_traversal_and_scanners() {
        assert!(check("/.env", "curl").is_some());
        assert!(check("/wp-admin/setup.php", "curl").is_some());
        assert!(check("/api/../etc/passwd", "curl").is_some());
        assert!(check("/media/%2e%2e/secrets.toml", "curl").is_some());
        assert!(check("/media/%252e%252e/x", "curl").is_some());
        assert!(check("/api/v1/posts", "sqlmap/1.7").is_some());
        assert!(check("/api/v1/posts", "Mozilla/5.0").is_none());
        assert!(
            check("/api/v1/posts/my..post", "Mozilla/5.0").is_none(),
            "dots inside a name are fine"
        );
        assert!(check("/static/x/.git/config", "curl").is_some());
        assert!(
            check("/api/v1/posts/x/.github-pages", "curl").is_none(),
            "a probe's name inside a word is not a probe"
        );
        assert!(check("/WP-Admin/x", "curl").is_some(), "any case");
        assert!(check("/x/.GIT/config", "curl").is_some());
        assert!(check("/.env.bak", "curl").is_some(), "a prefix at the root");
        assert!(check("/.GIT", "curl").is_some());
        assert!(check("/x/.git", "curl").is_none(), "not a directory");
        assert!(check("/api/v1/posts", "Mozilla/5.0 (SQLMap)").is_some());
        assert!(check("/API/%2E%2E/x", "curl").is_some());
    }

    #[test]
    fn what_a_page_made_a_browser_request_is_not_the_visitors_doing() {
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, "Mozilla/5.0".parse().unwrap());
        for site in ["cross-site", "same-site", "same-origin"] {
            h.insert("sec-fetch-site", site.parse().unwrap());
            assert!(reason("/.env", &h).is_none(), "{site}");
            assert!(reason("/media/%2e%2e/x", &h).is_none(), "{site}");
        }
        h.insert("sec-fetch-site", "none".parse().unwrap());
        assert!(reason("/.env", &h).is_some(), "typed in the address bar");
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        h.insert(USER_AGENT, "sqlmap/1.7".parse().unwrap());
        assert!(
            reason("/api/v1/posts", &h).is_some(),
            "a page cannot set the agent"
        );
    }
}
