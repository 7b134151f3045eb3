//! Optional error reporting to Sentry (or a self-hosted, Sentry-compatible server) when
//! `sentry.dsn` is set: error-level log events (every 5xx logs one) and panics. With no DSN,
//! nothing is ever sent anywhere, and the binary works air-gapped.
//!
//! Like the seeds' `before_send` filter, no request data leaves: events carry no request
//! (no body, no headers, no cookies, no Authorization) and no user beyond what the log line
//! itself says. The transport is ours, over the reqwest client blogd already has, so enabling
//! Sentry adds no second HTTP or TLS stack.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sentry::types::Dsn;
use sentry::{ClientOptions, Envelope, Transport};
use tokio::sync::mpsc;

/// Envelopes waiting to be sent at most; beyond, new ones are dropped (a Sentry outage must
/// not grow memory).
const QUEUE: usize = 100;

struct HttpTransport {
    queue: mpsc::Sender<Vec<u8>>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

impl HttpTransport {
    fn start(dsn: &Dsn) -> anyhow::Result<HttpTransport> {
        let url = dsn.envelope_api_url().to_string();
        let auth = dsn
            .to_auth(Some(concat!("blogd/", env!("CARGO_PKG_VERSION"))))
            .to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let (queue, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pending.clone();
        tokio::spawn(async move {
            while let Some(body) = rx.recv().await {
                let sent = client
                    .post(&url)
                    .header("x-sentry-auth", &auth)
                    .header("content-type", "application/x-sentry-envelope")
                    .body(body)
                    .send()
                    .await;
                if let Err(err) = sent {
                    // Not tracing::error!: that would report the reporting failure, in a loop.
                    eprintln!("blogd: could not send an error report: {err}");
                }
                counter.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(HttpTransport { queue, pending })
    }
}

impl Transport for HttpTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let mut body = Vec::new();
        if envelope.to_writer(&mut body).is_ok() && self.queue.try_send(body).is_ok() {
            self.pending
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.pending.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// Starts reporting (needs a Tokio runtime). Keep the guard alive; dropping it flushes.
pub fn init(dsn: Option<&str>) -> anyhow::Result<Option<sentry::ClientInitGuard>> {
    let Some(dsn) = dsn else { return Ok(None) };
    let dsn = Dsn::from_str(dsn).map_err(|e| anyhow::anyhow!("sentry.dsn is not a DSN: {e}"))?;
    let transport = Arc::new(HttpTransport::start(&dsn)?);
    let mut options = ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(crate::VERSION.into());
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(|mut event| {
        event.request = None;
        event.user = None;
        event.server_name = None;
        Some(event)
    }));
    options.transport = Some(Arc::new(transport));
    let guard = sentry::init(options);
    tracing::info!("error reports go to the configured sentry.dsn");
    Ok(Some(guard))
}
