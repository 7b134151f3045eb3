//! blogd: a self-contained blog API server on SQLite.
//!
//! The binary (`main.rs`) only starts the runtime and hands over to [`cli`]. Everything else is
//! a library so integration tests can build the real server on a real socket.

pub mod accounts;
pub mod admin;
pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cidr;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod content;
pub mod db;
pub mod domain;
pub mod error;
pub mod field_errors;
pub mod http;
pub mod logging;
pub mod ops;
pub mod secrets;
pub mod security;
pub mod seo;
pub mod server;

pub mod throttle;
pub mod validate;

/// `blogd --version`: the package version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BUILD_GIT_COMMIT"),
    ")"
);
