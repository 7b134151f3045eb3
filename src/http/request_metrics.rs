//! Per-request numbers: the Prometheus metrics (`http_requests_total`,
//! `http_request_duration_seconds`, `http_requests_in_flight`) and the rolling statistics the
//! console and the alert rules read.

use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use axum::http::Method;

use crate::app::AppState;
use crate::http::access_log::CLIENT_CLOSED_REQUEST;

/// A request being answered, under its method and route; counted in flight until
/// [`Timer::finish`].
///
/// A request whose client goes away while its handler runs is dropped with its future and
/// never reaches `finish`: the timer then takes it out of the in-flight gauge itself and
/// counts it with status 499, as the access log does (before, every such request stayed
/// "in flight" for the life of the process and was counted nowhere).
pub struct Timer {
    started: Instant,
    method: Method,
    route: Option<MatchedPath>,
    finished: bool,
}

pub fn start(method: Method, route: Option<MatchedPath>) -> Timer {
    crate::ops::metrics::hot().in_flight.increment(1.0);
    Timer {
        started: Instant::now(),
        method,
        route,
        finished: false,
    }
}

impl Timer {
    /// Records the answer; returns how long it took.
    pub fn finish(mut self, state: &AppState, status: u16) -> Duration {
        self.finished = true;
        let elapsed = self.record(status);
        state
            .stats
            .record(state.clock.now(), status >= 500, elapsed.as_micros() as u64);
        elapsed
    }

    /// Out of flight, into the request metrics with `status`.
    fn record(&self, status: u16) -> Duration {
        let elapsed = self.started.elapsed();
        crate::ops::metrics::hot().in_flight.decrement(1.0);
        let route = self
            .route
            .as_ref()
            .map_or("(unmatched)", MatchedPath::as_str);
        crate::ops::metrics::record_request(&self.method, route, status, elapsed.as_secs_f64());
        elapsed
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if !self.finished {
            self.record(CLIENT_CLOSED_REQUEST);
        }
    }
}
