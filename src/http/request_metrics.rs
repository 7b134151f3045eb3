//! Per-request numbers: the Prometheus metrics (`http_requests_total`,
//! `http_request_duration_seconds`, `http_requests_in_flight`) and the rolling statistics the
//! console and the alert rules read.

use std::time::{Duration, Instant};

use axum::http::Method;

use crate::app::AppState;

/// A request being answered; counted in flight until [`Timer::finish`].
pub struct Timer {
    started: Instant,
}

pub fn start() -> Timer {
    crate::ops::metrics::hot().in_flight.increment(1.0);
    Timer {
        started: Instant::now(),
    }
}

impl Timer {
    /// Records the answer; returns how long it took.
    pub fn finish(self, state: &AppState, method: &Method, route: &str, status: u16) -> Duration {
        let elapsed = self.started.elapsed();
        crate::ops::metrics::hot().in_flight.decrement(1.0);
        state
            .stats
            .record(state.clock.now(), status >= 500, elapsed.as_micros() as u64);
        crate::ops::metrics::record_request(method, route, status, elapsed.as_secs_f64());
        elapsed
    }
}
