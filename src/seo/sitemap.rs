//! sitemaps.org documents: one `urlset`, or an index of several when the site outgrows one.

use std::fmt::Write;

use super::Links;
use super::xml::escape;
use crate::clock::rfc3339;
use crate::db::seo::SitemapPages;

/// The protocol's limit of URLs per sitemap file.
pub const MAX_URLS: usize = 50_000;

const XMLNS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// One `<url>`: where, and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub loc: String,
    pub lastmod: Option<i64>,
}

/// Every URL of the site, in sitemap order: the home page, posts (newest first), categories,
/// authors.
pub fn entries(pages: &SitemapPages, links: &Links<'_>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(pages.len() + 1);
    out.push(Entry {
        loc: links.home(),
        lastmod: pages.posts.iter().map(|p| p.lastmod).max(),
    });
    let groups = [
        (&pages.posts, &links.site.post_path),
        (&pages.categories, &links.site.category_path),
        (&pages.authors, &links.site.author_path),
    ];
    for (group, pattern) in groups {
        out.extend(group.iter().map(|page| Entry {
            loc: links.page(pattern, &page.slug),
            lastmod: Some(page.lastmod),
        }));
    }
    out
}

/// How many sitemap files `count` URLs need (at least one, even for an empty site).
pub fn files_for(count: usize, per_file: usize) -> usize {
    count.div_ceil(per_file).max(1)
}

/// A `urlset` document.
pub fn urlset(entries: &[Entry]) -> String {
    let mut out = String::with_capacity(64 + entries.len() * 120);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<urlset xmlns=\"{XMLNS}\">");
    for entry in entries {
        let _ = write!(out, "<url><loc>{}</loc>", escape(&entry.loc));
        if let Some(at) = entry.lastmod {
            let _ = write!(out, "<lastmod>{}</lastmod>", rfc3339(at));
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

/// A `sitemapindex` naming `/sitemaps/1.xml`… for the entries cut in files of `per_file`.
pub fn index(entries: &[Entry], per_file: usize, links: &Links<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<sitemapindex xmlns=\"{XMLNS}\">");
    for (i, chunk) in entries.chunks(per_file).enumerate() {
        let _ = write!(
            out,
            "<sitemap><loc>{}</loc>",
            escape(&links.absolute(&format!("/sitemaps/{}.xml", i + 1)))
        );
        if let Some(at) = chunk.iter().filter_map(|e| e.lastmod).max() {
            let _ = write!(out, "<lastmod>{}</lastmod>", rfc3339(at));
        }
        out.push_str("</sitemap>\n");
    }
    out.push_str("</sitemapindex>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::seo::Page;

    fn page(slug: &str, lastmod: i64) -> Page {
        Page {
            slug: slug.into(),
            lastmod,
        }
    }

    #[test]
    fn lists_home_posts_categories_and_authors_under_the_configured_paths() {
        let config = crate::config::Config::defaults();
        let links = Links::new("https://blog.example", &config.site);
        let pages = SitemapPages {
            posts: vec![page("new", 20), page("old", 10)],
            categories: vec![page("rust", 5)],
            authors: vec![page("alice", 20)],
        };
        let locs: Vec<String> = entries(&pages, &links).into_iter().map(|e| e.loc).collect();
        assert_eq!(
            locs,
            [
                "https://blog.example/",
                "https://blog.example/blog/new",
                "https://blog.example/blog/old",
                "https://blog.example/category/rust",
                "https://blog.example/author/alice"
            ]
        );
    }

    #[test]
    fn an_index_splits_at_the_limit() {
        let config = crate::config::Config::defaults();
        let links = Links::new("https://blog.example", &config.site);
        let entries: Vec<Entry> = (0..5)
            .map(|i| Entry {
                loc: format!("https://blog.example/{i}"),
                lastmod: Some(i),
            })
            .collect();
        assert_eq!(files_for(5, 2), 3);
        assert_eq!(files_for(0, 2), 1);
        let doc = index(&entries, 2, &links);
        assert_eq!(doc.matches("<sitemap>").count(), 3);
        assert!(doc.contains("<loc>https://blog.example/sitemaps/3.xml</loc>"));
        assert!(urlset(&entries[..1]).contains("<lastmod>1970-01-01T00:00:00Z</lastmod>"));
    }
}
