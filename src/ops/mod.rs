//! Operational jobs of the running server: signals, periodic upkeep, the pid file.

pub mod maintenance;
pub mod pidfile;
pub mod signals;
