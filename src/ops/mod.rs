//! Operational jobs of the running server: signals, periodic upkeep, the pid file.

pub mod logs;
pub mod maintenance;
pub mod pidfile;
pub mod rotating;
pub mod signals;
