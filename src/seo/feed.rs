//! RSS 2.0 feeds: the newest public posts, with their sanitized HTML in `content:encoded`.

use std::fmt::Write;

use super::Links;
use super::xml::{cdata, escape};
use crate::clock::http_date;
use crate::db::seo::FeedItem;

/// How many posts a feed carries.
pub const ITEMS: i64 = 20;

/// What a feed is about, for its title and self link.
pub struct Channel<'a> {
    /// The category or tag name, for a per-term feed.
    pub term: Option<&'a str>,
    /// The feed's own URL (`atom:link rel="self"`, recommended by the RSS Advisory Board).
    pub self_url: String,
    pub built_at: i64,
}

pub fn render(channel: &Channel<'_>, items: &[FeedItem], links: &Links<'_>) -> String {
    let site = &links.site.title;
    let title = match channel.term {
        Some(term) => format!("{site}: {term}"),
        None => site.clone(),
    };
    let mut out = String::with_capacity(1024 + items.len() * 4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n",
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, "<link>{}</link>", escape(&links.home()));
    let _ = writeln!(
        out,
        "<description>{}</description>",
        escape(&format!("The latest posts of {title}"))
    );
    let _ = writeln!(
        out,
        "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>",
        escape(&channel.self_url)
    );
    let _ = writeln!(
        out,
        "<lastBuildDate>{}</lastBuildDate>",
        http_date(channel.built_at)
    );
    let _ = writeln!(
        out,
        "<generator>blogd {}</generator>",
        env!("CARGO_PKG_VERSION")
    );
    for item in items {
        let link = escape(&links.page(&links.site.post_path, &item.slug));
        out.push_str("<item>\n");
        let _ = writeln!(out, "<title>{}</title>", escape(&item.title));
        let _ = writeln!(out, "<link>{link}</link>");
        let _ = writeln!(out, "<guid isPermaLink=\"true\">{link}</guid>");
        let _ = writeln!(out, "<pubDate>{}</pubDate>", http_date(item.published_at));
        let _ = writeln!(out, "<dc:creator>{}</dc:creator>", escape(&item.author));
        for category in &item.categories {
            let _ = writeln!(out, "<category>{}</category>", escape(category));
        }
        if let Some(excerpt) = item.excerpt.as_deref().filter(|e| !e.is_empty()) {
            let _ = writeln!(out, "<description>{}</description>", escape(excerpt));
        }
        let _ = writeln!(
            out,
            "<content:encoded>{}</content:encoded>",
            cdata(&item.content_html)
        );
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}
