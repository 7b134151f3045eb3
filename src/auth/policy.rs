//! Password policy: what a new password must satisfy.

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted: long enough for any passphrase, short enough that hashing it
/// is not a way to burn CPU.
pub const MAX_LENGTH: usize = 256;

use std::collections::HashSet;
use std::sync::LazyLock;

/// The 10,000 most common passwords (assets/vendor/common-passwords).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../assets/vendor/common-passwords/passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether a password is a common one, or a common one with only digits and symbols around
/// it (`dragon!!!!!!`, `password12345678`): the first things a guesser tries.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return true;
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    core.chars().count() >= 4 && COMMON.contains(core)
}

/// Checks a new password against the policy; the error is a message for `details.password`.
pub fn check_password(password: &str, username: &str, email: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("Must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return Err(format!("Must be at most {MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    let local_part = email.split('@').next().unwrap_or("").to_lowercase();
    for personal in [username.to_lowercase(), local_part] {
        if personal.chars().count() >= 3 && lower.contains(&personal) {
            return Err("Must not contain the username or e-mail name".into());
        }
    }
    if is_common(password) {
        return Err(
            "Too common: choose a password that is not on lists of common passwords".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        assert!(check_password("short", "bob", "bob@example.com").is_err());
        assert!(check_password("a-long-enough-pass", "bob", "b@example.com").is_ok());
        assert!(check_password("my-name-is-alice!", "alice", "x@example.com").is_err());
        assert!(check_password("MY-NAME-IS-ALICE!", "alice", "x@example.com").is_err());
        assert!(check_password("contains-jdoe-mail", "zed", "jdoe@example.com").is_err());
        assert!(check_password(&"x".repeat(300), "bob", "bob@example.com").is_err());
        assert!(
            check_password("qwertyuiop123", "bob", "b@example.com").is_err(),
            "common core plus digits"
        );
        assert!(
            check_password("1qaz2wsx3edc", "bob", "b@example.com").is_err(),
            "on the list itself"
        );
        assert!(check_password("Password1234!", "bob", "b@example.com").is_err());
        assert!(check_password("correct-horse-battery-staple", "bob", "b@example.com").is_ok());
    }
}
