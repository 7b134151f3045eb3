//! Markdown rendering + sanitizing: whatever the source, the HTML has no script, no event
//! handler and no script URL in any tag.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The tags of an HTML string, with quoted attribute values kept whole.
fn tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        if c != '<' {
            continue;
        }
        let mut tag = String::from("<");
        let mut quote: Option<char> = None;
        for c in chars.by_ref() {
            tag.push(c);
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => break,
                _ => {}
            }
        }
        out.push(tag.to_ascii_lowercase());
    }
    out
}

fuzz_target!(|source: &str| {
    // A body nested too deeply is refused (and costs nothing); anything else renders safe.
    let Ok(html) = blogd::content::markdown::render(source) else {
        return;
    };
    for tag in tags(&html) {
        for banned in ["<script", "<iframe", "<object", "<embed", "<style", "<svg", "<math"] {
            assert!(!tag.starts_with(banned), "{banned} in {tag}");
        }
        // No on* handler: an attribute name is preceded by whitespace.
        let handler = tag
            .split(|c: char| c.is_ascii_whitespace())
            .skip(1)
            .any(|attr| attr.starts_with("on") && attr.contains('='));
        assert!(!handler, "event handler in {tag}");
        for scheme in ["javascript:", "vbscript:", "data:"] {
            assert!(!tag.contains(&format!("=\"{scheme}")), "{scheme} URL in {tag}");
        }
    }
});
