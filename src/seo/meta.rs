//! What a front end puts in a post page's `<head>`: title, description, canonical URL, Open
//! Graph and Twitter card fields, and a schema.org `BlogPosting` as JSON-LD.

use serde::Serialize;
use serde_json::Value;
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
    pub open_graph: OpenGraph,
    /// `twitter:*` names without the prefix.
    pub twitter: TwitterCard,
    /// A schema.org `BlogPosting`.
    pub json_ld: BlogPosting,
    /// `json_ld` serialized for a `<script type="application/ld+json">` element, with `<`, `>`
    /// and `&` escaped: insert it as is (re-serializing `json_ld` in the page would undo the
    /// escaping).
    pub json_ld_script: String,
}

/// Open Graph properties: each key is a `<meta property="…">` name, each value its content
/// (`article:tag` is a list: one `<meta>` per tag).
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenGraph {
    /// Always `article`.
    #[serde(rename = "og:type")]
    pub og_type: String,
    #[serde(rename = "og:title")]
    pub og_title: String,
    #[serde(rename = "og:description")]
    pub og_description: String,
    /// The canonical URL.
    #[serde(rename = "og:url")]
    pub og_url: String,
    /// `site.title`.
    #[serde(rename = "og:site_name")]
    pub og_site_name: String,
    /// The featured image as an absolute URL; absent without one.
    #[serde(rename = "og:image", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub og_image: Option<String>,
    /// RFC 3339.
    #[serde(rename = "article:published_time")]
    #[schema(format = DateTime)]
    pub published_time: Option<String>,
    /// RFC 3339.
    #[serde(rename = "article:modified_time")]
    #[schema(format = DateTime)]
    pub modified_time: String,
    /// The author's page.
    #[serde(rename = "article:author")]
    pub author: String,
    /// The first category's name; absent without categories.
    #[serde(rename = "article:section", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub section: Option<String>,
    /// Tag names.
    #[serde(rename = "article:tag")]
    pub tags: Vec<String>,
}

/// Twitter card fields (`<meta name="twitter:…">` without the prefix).
#[derive(Debug, Serialize, ToSchema)]
pub struct TwitterCard {
    /// `summary_large_image` with a featured image, else `summary`.
    pub card: TwitterCardKind,
    pub title: String,
    pub description: String,
    /// The featured image as an absolute URL; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub image: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TwitterCardKind {
    Summary,
    SummaryLargeImage,
}

/// A schema.org `BlogPosting` (https://schema.org/BlogPosting).
#[derive(Debug, Serialize, ToSchema)]
pub struct BlogPosting {
    /// Always `https://schema.org`.
    #[serde(rename = "@context")]
    pub context: String,
    /// Always `BlogPosting`.
    #[serde(rename = "@type")]
    pub kind: String,
    pub headline: String,
    pub description: String,
    pub url: String,
    #[serde(rename = "mainEntityOfPage")]
    pub main_entity_of_page: LdWebPage,
    pub author: LdPerson,
    pub publisher: LdOrganization,
    /// RFC 3339.
    #[serde(rename = "datePublished")]
    #[schema(format = DateTime)]
    pub date_published: Option<String>,
    /// RFC 3339.
    #[serde(rename = "dateModified")]
    #[schema(format = DateTime)]
    pub date_modified: String,
    /// Tag names, comma-separated.
    pub keywords: String,
    /// The featured image as an absolute URL; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub image: Option<String>,
}

/// `{"@type": "WebPage", "@id": canonical URL}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LdWebPage {
    #[serde(rename = "@type")]
    pub kind: String,
    #[serde(rename = "@id")]
    pub id: String,
}

/// The author: `{"@type": "Person", name, url}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LdPerson {
    #[serde(rename = "@type")]
    pub kind: String,
    pub name: String,
    pub url: String,
}

/// The site: `{"@type": "Organization", name, url}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LdOrganization {
    #[serde(rename = "@type")]
    pub kind: String,
    pub name: String,
    pub url: String,
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
    let tags: Vec<String> = s.tags.iter().map(|t| t.name.clone()).collect();
    let open_graph = OpenGraph {
        og_type: "article".into(),
        og_title: title.clone(),
        og_description: description.clone(),
        og_url: canonical_url.clone(),
        og_site_name: links.site.title.clone(),
        og_image: image.clone(),
        published_time: s.published_at.clone(),
        modified_time: s.updated_at.clone(),
        author: author_url.clone(),
        section: s.categories.first().map(|c| c.name.clone()),
        tags: tags.clone(),
    };
    let twitter = TwitterCard {
        card: if image.is_some() {
            TwitterCardKind::SummaryLargeImage
        } else {
            TwitterCardKind::Summary
        },
        title: title.clone(),
        description: description.clone(),
        image: image.clone(),
    };
    let json_ld = BlogPosting {
        context: "https://schema.org".into(),
        kind: "BlogPosting".into(),
        headline: title.clone(),
        description: description.clone(),
        url: canonical_url.clone(),
        main_entity_of_page: LdWebPage {
            kind: "WebPage".into(),
            id: canonical_url.clone(),
        },
        author: LdPerson {
            kind: "Person".into(),
            name: s.author.display_name.clone(),
            url: author_url,
        },
        publisher: LdOrganization {
            kind: "Organization".into(),
            name: links.site.title.clone(),
            url: links.home(),
        },
        date_published: s.published_at.clone(),
        date_modified: s.updated_at.clone(),
        keywords: tags.join(", "),
        image,
    };
    let json_ld_script = script_safe_json(&serde_json::to_value(&json_ld).unwrap_or(Value::Null));
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
    use serde_json::json;

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
