//! Slugs: the URL names of posts, categories and tags.

/// Longest slug accepted, in characters (generated slugs are cut at this many bytes, so
/// they always fit).
pub const MAX_LEN: usize = 100;

/// Makes a slug from a title: lower-case letters and digits joined by single hyphens.
/// Returns an empty string when the title has no letters or digits at all.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    let mut pending_hyphen = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(c);
        } else {
            pending_hyphen = true;
        }
        if slug.len() >= MAX_LEN {
            break;
        }
    }
    // Cut on a char boundary at most MAX_LEN bytes long, without a trailing hyphen.
    while slug.len() > MAX_LEN {
        slug.pop();
    }
    slug.trim_end_matches('-').to_string()
}

/// Whether a client-given slug is acceptable: what [`slugify`] could produce.
pub fn is_valid(slug: &str) -> bool {
    !slug.is_empty()
        && slug.chars().count() <= MAX_LEN
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug
            .chars()
            .all(|c| c == '-' || (c.is_alphanumeric() && !c.is_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_examples() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  Rust & SQLite -- 2026  "), "rust-sqlite-2026");
        assert_eq!(slugify("Crème brûlée"), "crème-brûlée");
        assert_eq!(slugify("'; DROP TABLE posts; --"), "drop-table-posts");
        assert_eq!(slugify("!!!"), "");
        assert!(slugify(&"long ".repeat(100)).len() <= MAX_LEN);
    }

    #[test]
    fn validity() {
        assert!(is_valid("hello-world"));
        assert!(is_valid("2026"));
        assert!(!is_valid("Hello"));
        assert!(!is_valid("a--b"));
        assert!(!is_valid("-a"));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a/../b"));
        assert!(!is_valid("x'; DROP TABLE posts;--"));
        assert!(!is_valid(""));
    }
}
