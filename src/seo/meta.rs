//! What a front end puts in a post page's `<head>`: title, description, canonical URL, Open
//! Graph and Twitter card fields, and a schema.org `BlogPosting` as JSON-LD.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::Links;
use crate::db::posts::Post;

/// Descriptions are cut to this many characters (what search results show).
const DESCRIPTION_CHARS: usize = 160;

#[derive(Debug, Serialize, ToSchema)]
pub struct PostMeta {
    /// `meta_title`, else the title.
    pub title: String,
    /// `meta_description`, else the excerpt, else the start of the text.
    pub description: String,
    /// The post's own `canonical_url`, else `site.base_url` + `site.post_path`.
    pub canonical_url: String,
    /// `og:*` and `article:*` properties, by property name.
    #[schema(value_type = Object)]
    pub open_graph: Value,
    /// `twitter:*` names without the prefix.
    #[schema(value_type = Object)]
    pub twitter: Value,
    /// A schema.org `BlogPosting`.
    #[schema(value_type = Object)]
    pub json_ld: Value,
    /// `json_ld` serialized for a `<script type="application/ld+json">` element, with `<`, `>`
    /// and `&` escaped: insert it as is (re-serializing `json_ld` in the page would undo the
    /// escaping).
    pub json_ld_script: String,
}

/// The visible text of sanitized HTML, whitespace collapsed (for a description fallback).
fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end())
}

/// JSON that is safe inside an HTML `<script>` element: `<`, `>`, `&` and the JavaScript line
/// terminators as `\u` escapes (they can only occur inside JSON strings, so meaning is kept).
pub fn script_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The metadata of a public post. `media_origin` makes relative image paths (`/media/…`,
/// served by blogd) absolute.
pub fn of_post(post: &Post, links: &Links<'_>, media_origin: &str) -> PostMeta {
    let s = &post.summary;
    let title = s.meta_title.clone().unwrap_or_else(|| s.title.clone());
    let description = s
        .meta_description
        .clone()
        .or_else(|| s.excerpt.clone().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| shorten(&text_of(&post.content_html), DESCRIPTION_CHARS));
    let url = links.page(&links.site.post_path, &s.slug);
    let canonical_url = s.canonical_url.clone().unwrap_or_else(|| url.clone());
    let image = s.featured_image.as_ref().map(|i| {
        if i.starts_with('/') {
            format!("{media_origin}{i}")
        } else {
            i.clone()
        }
    });
    let author_url = links.page(&links.site.author_path, &s.author.username);
    let mut open_graph = json!({
        "og:type": "article",
        "og:title": title,
        "og:description": description,
        "og:url": canonical_url,
        "og:site_name": links.site.title,
        "article:published_time": s.published_at,
        "article:modified_time": s.updated_at,
        "article:author": author_url,
        "article:tag": s.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
    });
    if let Some(section) = s.categories.first() {
        open_graph["article:section"] = json!(section.name);
    }
    let mut twitter = json!({
        "card": if image.is_some() { "summary_large_image" } else { "summary" },
        "title": title,
        "description": description,
    });
    let mut json_ld = json!({
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": title,
        "description": description,
        "url": canonical_url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical_url},
        "author": {"@type": "Person", "name": s.author.display_name, "url": author_url},
        "publisher": {"@type": "Organization", "name": links.site.title, "url": links.home()},
        "datePublished": s.published_at,
        "dateModified": s.updated_at,
        "keywords": s.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
    });
    if let Some(image) = &image {
        open_graph["og:image"] = json!(image);
        twitter["image"] = json!(image);
        json_ld["image"] = json!(image);
    }
    let json_ld_script = script_safe_json(&json_ld);
    PostMeta {
        title,
        description,
        canonical_url,
        open_graph,
        twitter,
        json_ld,
        json_ld_script,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_json_cannot_close_a_script_element() {
        let value = json!({"headline": "</script><script>alert(1)</script> & \u{2028}"});
        let safe = script_safe_json(&value);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        // Still the same JSON.
        assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), value);
    }

    #[test]
    fn descriptions_fall_back_to_the_text_cut_at_a_word() {
        assert_eq!(
            text_of("<p>Hello <em>big</em> &amp; bold</p>\n<p>world</p>"),
            "Hello big & bold world"
        );
        let long = "word ".repeat(100);
        let short = shorten(&long, 20);
        assert!(short.chars().count() <= 20, "{short}");
        assert!(short.ends_with("word…"));
    }
}
