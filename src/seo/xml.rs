//! Writing XML by hand, safely: text escaping, CDATA sections and URL path segments.

/// Escapes text for an XML element or attribute, dropping the characters XML 1.0 cannot
/// carry at all (most C0 controls, lone surrogates cannot occur in a `str`, U+FFFE/U+FFFF).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// A CDATA section holding `text`; a `]]>` inside is split across two sections so it cannot
/// end the first one early.
pub fn cdata(text: &str) -> String {
    let clean: String = text.chars().filter(|c| allowed(*c)).collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}

/// Percent-encodes one path segment (slugs and usernames are plain already; this is the
/// guarantee that a URL in a sitemap is always well-formed).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\u{FFFF}é"),
            "a&lt;b&gt;&amp;&quot;c&apos;é"
        );
    }

    #[test]
    fn cdata_cannot_be_closed_from_inside() {
        let section = cdata("x]]><script>");
        assert_eq!(section, "<![CDATA[x]]]]><![CDATA[><script>]]>");
        // Only the final terminator closes the last section.
        assert!(section.ends_with("<script>]]>"));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("my-post_1.x"), "my-post_1.x");
        assert_eq!(path_segment("a b/c?"), "a%20b%2Fc%3F");
    }
}
