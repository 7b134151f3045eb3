//! Query strings: list parameters and search words. Parsing never panics, accepted values stay
//! in bounds, and a search expression can only ever be quoted words (no FTS5 operator).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    if let Ok(params) =
        blogd::http::pagination::ListParams::from_query(query, "/api/v1/posts".into())
    {
        assert!((1..=100).contains(&params.limit()), "limit {}", params.limit());
        assert!(params.offset() >= 0);
                // Building the page's links from the parsed parameters must not panic either.
        let _ = params.respond(vec![1, 2, 3], 1_000_000);
    }
    if let Some(expr) = blogd::db::posts::fts_expression(query) {
        // "word" "word" …: alternate quoted alphanumeric runs and single spaces.
        for term in expr.split(' ') {
            let inner = term
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or_else(|| panic!("unquoted term {term:?} in {expr:?}"));
            assert!(!inner.is_empty() && inner.chars().all(char::is_alphanumeric), "{expr:?}");
        }
        assert!(expr.split(' ').count() <= 16);
    }
});
