//! Recognises hostile traffic: probes for files that no blog serves, path traversal, and
//! known scanners. Such requests are answered normally (usually 404) and reported as
//! `suspicious_request` security events, which the throttle turns into bans.
//!
//! Only what the sender chose counts. A page can make any visitor's browser request any URL
//! of ours (an `<img>` on another site, an image reference a post keeps, a link): such a
//! request carries `Sec-Fetch-Site` other than `none`, and is never held against the
//! visitor, or anyone could get readers banned. What a page cannot forge (the `User-Agent`
//! of an attack tool) always counts. A tool can send the header too, to stay unreported;
//! it gains nothing else: probes are answered 404 either way. And a query string is no path:
//! `..` in a query value (`?q=wait..what`) is words, not traversal, for a server whose
//! parameters never name files.

use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

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

/// Why a request looks hostile, if it does.
pub fn reason(path: &str, headers: &HeaderMap) -> Option<String> {
    let made_by_a_page = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() != b"none");
    if !made_by_a_page {
        let lower_path = path.to_ascii_lowercase();
        if has_traversal(&lower_path) {
            return Some("path traversal".into());
        }
        if let Some(probe) = PROBES.iter().find(|p| probed(&lower_path, p)) {
            return Some(format!("probe for {probe}"));
        }
    }
    let agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(tool) = SCANNERS.iter().find(|s| agent.contains(*s)) {
        return Some(format!("scanner user agent ({tool})"));
    }
    None
}

/// Whether the path starts with a probe, or holds it as a directory (`…/.git/…`). Runs on
/// every request: no allocation.
fn probed(lower_path: &str, probe: &str) -> bool {
    lower_path.starts_with(probe)
        || lower_path
            .match_indices(probe)
            .any(|(at, _)| lower_path[at + probe.len()..].starts_with('/'))
}

/// `..` as a path segment, raw or percent-encoded (once or twice), or with backslashes.
fn has_traversal(text: &str) -> bool {
    // Most paths have neither a dot, a percent sign nor a backslash: nothing to decode.
    if !text.contains(['.', '%', '\\']) {
        return false;
    }
    let decoded = text
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
