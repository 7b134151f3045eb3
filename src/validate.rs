//! Field checks for request bodies, collected so one answer lists every problem.

use crate::field_errors::FieldErrors;

#[derive(Default)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    /// A required text: not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "This field may not be blank");
        }
        self.max_len(field, value, max);
    }

    /// An optional text: at most `max` characters when present.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.max_len(field, value, max);
        }
    }

    pub fn max_len(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(
                field,
                format!("Ensure this field has no more than {max} characters"),
            );
        }
    }

    /// An optional absolute http(s) URL.
    pub fn optional_url(&mut self, field: &str, value: Option<&str>) {
        if let Some(url) = value {
            self.max_len(field, url, 2000);
            if !is_http_url(url) {
                self.add(field, "Enter a valid http:// or https:// URL");
            }
        }
    }

    /// A slug given by the client.
    pub fn slug(&mut self, field: &str, value: &str) {
        if !crate::content::slug::is_valid(value) {
            self.add(
                field,
                "Use lower-case letters, digits and single hyphens (at most 100 characters)",
            );
        }
    }

    /// A username: 3–150 ASCII letters, digits, `.`, `_` and `-`, starting with a letter or
    /// digit: the audit trail and the reserved names rely on a name meaning one thing, and
    /// look-alikes from other scripts (Cyrillic `а` for `a`) or compatibility forms
    /// (fullwidth `ｃｏｎｓｏｌｅ`) would let one account pass for another. Display names
    /// carry any script.
    pub fn username(&mut self, field: &str, value: &str) {
        let valid = (3..=150).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !valid {
            self.add(
                field,
                "Use 3 to 150 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit",
            );
        } else if is_reserved_username(value) {
            self.add(field, "This name is reserved");
        }
    }

    pub fn email(&mut self, field: &str, value: &str) {
        let valid = value.chars().count() <= 254
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            self.add(field, "Enter a valid e-mail address");
        }
    }

    /// Every problem found, in one answer.
    pub fn finish(self) -> Result<(), crate::domain::Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::domain::Error::Invalid(self.errors))
        }
    }
}

/// An absolute http(s) URL with a host and no whitespace or control characters.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// Names the audit trail uses for non-users (`system`, `console`, `anonymous`), for erased
/// people (`erased-user-N`) and for the placeholder that keeps erased authors' posts: an account
/// with one of them could pass for something it is not.
pub fn is_reserved_username(name: &str) -> bool {
    let name = name.to_lowercase();
    matches!(
        name.as_str(),
        "system" | "console" | "anonymous" | crate::db::privacy::FORMER_AUTHOR
    ) || name.starts_with("erased-user-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut v = Validator::new();
        v.text("title", "  ", 10);
        v.text("name", "abcdefghijk", 10);
        v.optional_url("canonical_url", Some("javascript:alert(1)"));
        v.email("email", "not-an-email");
        let Err(crate::domain::Error::Invalid(details)) = v.finish() else {
            panic!("expected errors")
        };
        assert_eq!(details.len(), 4, "{details:?}");
    }

    #[test]
    fn names_the_audit_trail_uses_are_reserved() {
        for name in [
            "system",
            "Console",
            "anonymous",
            "former-author",
            "erased-user-7",
        ] {
            let mut v = Validator::new();
            v.username("username", name);
            assert!(v.finish().is_err(), "{name} must be refused");
        }
        let mut v = Validator::new();
        v.username("username", "systematic");
        assert!(v.finish().is_ok());
    }

    #[test]
    fn look_alike_and_compatibility_forms_are_refused() {
        for name in [
            "\u{430}dmin2",   // Cyrillic а
            "ｃｏｎｓｏｌｅ", // fullwidth
            "sy\u{200b}stem", // zero-width space
            "admin\u{301}",   // combining accent
            "ℌello",          // letterlike symbol
            ".hidden",
            "-dash",
        ] {
            let mut v = Validator::new();
            v.username("username", name);
            assert!(v.finish().is_err(), "{name:?} must be refused");
        }
        for name in ["alice", "Bob.Smith", "j_doe-2", "x42"] {
            let mut v = Validator::new();
            v.username("username", name);
            assert!(v.finish().is_ok(), "{name:?}");
        }
    }

    #[test]
    fn urls() {
        assert!(is_http_url("https://example.com/x?y#z"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("https://exa mple.com"));
    }
}
