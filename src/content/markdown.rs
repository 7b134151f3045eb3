//! Markdown → HTML that is safe to put in a page.
//!
//! pulldown-cmark passes raw HTML through, so its output is untrusted; ammonia then keeps only
//! an allow-list of tags and attributes: no `<script>`, no `on*` handlers, no `javascript:` or
//! `data:` URLs, and links get `rel="noopener noreferrer"`.

use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser, html};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect());
    b.add_tags(["figure", "figcaption"]);
    b
});

/// Renders Markdown source to sanitized HTML.
pub fn render(source: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS;
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(source, options));
    SANITIZER.clean(&unsafe_html).to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_markdown() {
        let html = render("# Title\n\nSome *emphasis* and [a link](https://example.com).");
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
        let html = render(hostile).to_lowercase();
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
}
