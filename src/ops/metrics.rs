//! Prometheus metrics (the `metrics` facade with its Prometheus exporter). Labels are bounded:
//! routes are templates (`/api/v1/posts/{slug}`) or `(unmatched)`, never raw paths.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets (seconds): fine below 10 ms, where a healthy blog lives.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the recorder once per process and returns the handle that renders the text format.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("static buckets are valid");
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (an embedding program): render ours unregistered.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        spawn_upkeep(handle.clone());
        describe();
        metrics::gauge!("blogd_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => env!("BUILD_GIT_COMMIT")).set(1.0);
        handle
    })
}

/// Histogram samples wait in a lock-free queue until they are folded into the buckets, which
/// the exporter does only on a render or an "upkeep". Nobody may ever scrape `/metrics`, so
/// without this thread every request's timing (8+ bytes) would be kept until the process
/// ends: about 2 GB a day at a steady 3,000 requests a second.
fn spawn_upkeep(handle: PrometheusHandle) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started: histograms fold on scrape only");
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        "Time to answer, by route template"
    );
    describe_gauge!("http_requests_in_flight", "Requests being answered now");
    describe_histogram!(
        "db_query_duration_seconds",
        "Time spent in SQLite per call, by kind (read/write)"
    );
    describe_histogram!(
        "db_pool_wait_seconds",
        "Time waiting for a connection, by kind (read/write)"
    );
    describe_counter!(
        "throttled_total",
        "Requests refused by a rate limit, by class"
    );
    describe_counter!("security_events_total", "Security events, by kind");
    describe_counter!(
        "webhook_deliveries_total",
        "Revalidation webhook attempts, by outcome"
    );
    describe_counter!(
        "analytics_pageviews_total",
        "Page views received, by outcome"
    );
    describe_gauge!(
        "backup_last_success_timestamp_seconds",
        "Unix time of the last verified backup"
    );
    describe_gauge!(
        "blogd_build_info",
        "Version and commit of the running binary"
    );
}

/// The per-request metrics of one route, method and status, looked up once per thread.
///
/// `metrics::counter!` with runtime labels allocates the label strings and hashes them into the
/// registry on every call; at tens of thousands of requests a second that shows. Handles are
/// cheap to clone and stay valid, so each worker thread keeps the ones it has used.
pub fn record_request(method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
    use std::cell::RefCell;
    use std::collections::HashMap;

    struct RouteMetrics {
        duration: metrics::Histogram,
        counts: Vec<(axum::http::Method, u16, metrics::Counter)>,
    }
    // Keys are route templates of our own (or `(unmatched)`), never what a client sent: a
    // plain FNV hash is enough, and much cheaper than SipHash on every request.
    #[derive(Default)]
    struct Fnv(u64);
    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            let mut hash = if self.0 == 0 {
                0xcbf2_9ce4_8422_2325
            } else {
                self.0
            };
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            self.0 = hash;
        }
    }
    type Routes = HashMap<String, RouteMetrics, std::hash::BuildHasherDefault<Fnv>>;
    thread_local! {
        static ROUTES: RefCell<Routes> = RefCell::new(Routes::default());
    }
    ROUTES.with(|routes| {
        let mut routes = routes.borrow_mut();
        if !routes.contains_key(route) {
            let entry = RouteMetrics {
                duration: metrics::histogram!(
                    "http_request_duration_seconds", "route" => route.to_owned()
                ),
                counts: Vec::new(),
            };
            routes.insert(route.to_owned(), entry);
        }
        let Some(entry) = routes.get_mut(route) else {
            return;
        };
        entry.duration.record(seconds);
        if let Some((_, _, counter)) = entry
            .counts
            .iter()
            .find(|(m, s, _)| m == method && *s == status)
        {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(
            "http_requests_total",
            "method" => method.to_string(),
            "route" => route.to_owned(),
            "status" => status.to_string()
        );
        counter.increment(1);
        entry.counts.push((method.clone(), status, counter));
    });
}

/// Handles of the metrics every request touches, looked up once (after the recorder is
/// installed by [`handle`], which building the application state does).
pub struct Hot {
    pub in_flight: metrics::Gauge,
    pub cache_hit: metrics::Counter,
    pub cache_miss: metrics::Counter,
}

pub fn hot() -> &'static Hot {
    static HOT: std::sync::LazyLock<Hot> = std::sync::LazyLock::new(|| {
        handle();
        Hot {
            in_flight: metrics::gauge!("http_requests_in_flight"),
            cache_hit: metrics::counter!("response_cache_total", "outcome" => "hit"),
            cache_miss: metrics::counter!("response_cache_total", "outcome" => "miss"),
        }
    });
    &HOT
}
