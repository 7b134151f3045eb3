//! Integration tests: the real server on 127.0.0.1:0 with a real SQLite file in a temp dir,
//! driven over HTTP with reqwest. One test binary (modules below) keeps link time down.

mod common;
mod probe;
mod spawn;

/// Counts large allocations for the tests that ask (`probe`).
#[global_allocator]
static ALLOCATOR: probe::Counting = probe::Counting;

mod accounts;
mod acme;
mod admin;
mod alerts;
mod auth;
mod cache;
mod cli;
mod comments;
mod edge;
mod errors;
mod limits;
mod logs;
mod observability;
mod openapi;
mod operator;
mod parity;
mod permissions;
mod posts;
mod privacy;
mod promises;
mod publication;
mod replication;
mod seo;
mod taxonomy;
mod throttle;
mod tls;
