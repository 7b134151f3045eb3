//! Markdown → HTML that is safe to put in a page.
//!
//! pulldown-cmark passes raw HTML through, so its output is untrusted; ammonia then keeps only
//! an allow-list of tags and attributes: no `<script>`, no `on*` handlers, no `javascript:` or
//! `data:` URLs, and links get `rel="noopener noreferrer"`.
//!
//! The work is bounded. Parsing is linear, but building the sanitizer's tree grows with the
//! square of the nesting depth (40,000 nested quotes took seconds of a core), so a body that
//! nests quotes, lists or HTML elements deeper than [`MAX_DEPTH`] is refused before it is
//! built, and at most [`MAX_CONCURRENT`] bodies render at once, so abandoned requests cannot
//! pile up on every core.

use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, html};
use tokio::sync::Semaphore;

/// Nesting of quotes, lists and HTML elements a body may have: far beyond any real post.
pub const MAX_DEPTH: usize = 100;
/// Bodies rendered at the same time (one per core, two at least).
pub static MAX_CONCURRENT: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2)));
static RENDERING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*MAX_CONCURRENT));

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect());
    b.add_tags(["figure", "figcaption"]);
    b
});

/// Why a body cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Nested more than {MAX_DEPTH} levels deep (quotes, lists or HTML elements)")]
pub struct TooDeep;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
}

/// Renders Markdown source to sanitized HTML (blocking; see [`render_bounded`]).
pub fn render(source: &str) -> Result<String, TooDeep> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for event in Parser::new_ext(source, options()) {
        match event {
            Event::Start(
                Tag::BlockQuote(_) | Tag::List(_) | Tag::Item | Tag::FootnoteDefinition(_),
            ) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Event::End(
                pulldown_cmark::TagEnd::BlockQuote(_)
                | pulldown_cmark::TagEnd::List(_)
                | pulldown_cmark::TagEnd::Item
                | pulldown_cmark::TagEnd::FootnoteDefinition,
            ) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if deepest > MAX_DEPTH {
            return Err(TooDeep);
        }
    }
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(source, options()));
    if html_depth(&unsafe_html) > MAX_DEPTH {
        return Err(TooDeep);
    }
    Ok(SANITIZER.clean(&unsafe_html).to_string())
}

/// Renders off the async workers, at most [`MAX_CONCURRENT`] at a time. Returns the source
/// back with the HTML.
pub async fn render_bounded(
    source: String,
) -> Result<(String, Result<String, TooDeep>), tokio::task::JoinError> {
    let _turn = RENDERING.acquire().await;
    tokio::task::spawn_blocking(move || {
        let html = render(&source);
        (source, html)
    })
    .await
}

/// Elements that never hold others (void), or whose end tag may be left out so the next
/// sibling closes them (a browser's tree does not deepen with `<li><li><li>` or `<p><p>`).
const FLAT: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead",
    "tbody", "tfoot", "colgroup", "rt", "rp",
];

/// How deep the elements of `html` nest, counting every start tag that is not closed: an
/// upper bound of the tree the sanitizer builds, in one pass.
fn html_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'<') {
        let start = i + offset + 1;
        let Some(end) = bytes[start..]
            .iter()
            .position(|b| *b == b'>')
            .map(|e| start + e)
        else {
            break;
        };
        let tag = &html[start..end];
        i = end + 1;
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue; // comments, doctypes, self-closed
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() || FLAT.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown() {
        let html = render("# Title\n\nSome *emphasis* and [a link](https://example.com).").unwrap();
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"));
        assert!(html.contains("href=\"https://example.com\""));
        assert!(html.contains("rel=\"noopener noreferrer\""));
    }

    #[test]
    fn strips_scripts_handlers_and_javascript_urls() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n\
                       [click](javascript:alert(1))\n\n<a href=\"JaVaScRiPt:alert(1)\">x</a>\n\n\
                       <iframe src=\"https://evil.example\"></iframe><svg onload=alert(1)></svg>";
        let html = render(hostile).unwrap().to_lowercase();
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "<iframe",
            "onload",
            "<svg",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_it_costs_anything() {
        let started = std::time::Instant::now();
        for hostile in [
            ">".repeat(40_000) + "x",
            "- ".repeat(20_000) + "x",
            "<div>".repeat(40_000),
            "1. ".repeat(20_000) + "x",
            "> - ".repeat(10_000) + "x",
        ] {
            assert_eq!(render(&hostile), Err(TooDeep), "{}", &hostile[..20]);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "refused without building the tree: {:?}",
            started.elapsed()
        );
        // Real posts nest a little, and flat repetition is fine.
        assert!(render(&(">".repeat(MAX_DEPTH) + " deep")).is_ok());
        assert!(render(&"<p>para".repeat(5_000)).is_ok());
        assert!(render(&"- item\n".repeat(5_000)).is_ok());
        assert!(render(&"<li>x".repeat(5_000)).is_ok());
    }

    #[test]
    fn html_depth_counts_open_elements() {
        assert_eq!(html_depth("<div><span>a</span><b>x</b></div>"), 2);
        assert_eq!(html_depth("<br><img src=x><hr/><!-- <div> -->"), 0);
        assert_eq!(html_depth("<ul><li>a<li>b</ul>"), 1);
    }
}
