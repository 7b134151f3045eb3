//! Account lockout: how many wrong passwords (or second-factor codes) an account takes.
//! Per account, whatever the address; per-address limits belong to the throttle.

/// Failures that lock the account…
pub const MAX_FAILURES: i64 = 5;
/// …when they happen within this window (seconds)…
pub const WINDOW_SECS: i64 = 15 * 60;
/// …for this long (seconds).
pub const LOCK_SECS: i64 = 15 * 60;
