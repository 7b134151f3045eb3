//! The listeners: the one place that turns sockets into served requests.
//!
//! One accept loop serves HTTPS (rustls, ALPN h2 + http/1.1) or, with `tls.enabled = false`,
//! plain HTTP, with the protections a server facing the internet directly needs: a cap on open
//! connections, a TLS handshake deadline, a header-read deadline (slowloris), and graceful
//! shutdown that lets requests in flight finish. The optional `server.http_listen` listener
//! only redirects to HTTPS.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::app::AppState;

/// A client must finish the TLS handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How the request reached us, in request extensions (for HSTS and absolute links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    pub https: bool,
}

/// The local address a connection arrived at, in request extensions: a `Host` naming this
/// address is ours (absolute links may use it); any other IP literal is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub SocketAddr);

fn builder(state: &AppState) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.server.header_timeout.0)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves the app on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = super::app(state.clone());
    let acceptor = state
        .tls
        .as_ref()
        .map(|tls| TlsAcceptor::from(tls.server_config()));
    let transport = Transport {
        https: acceptor.is_some(),
    };
    let permits = Arc::new(Semaphore::new(
        state.config.server.max_connections.max(1) as usize
    ));
    // Trusted proxies carry everybody behind them; `throttle.allow` addresses are trusted
    // never to be limited (monitoring, load tests).
    let exempt: Vec<crate::cidr::Cidr> = state
        .config
        .server
        .trusted_proxies
        .iter()
        .chain(&state.config.throttle.allow)
        .copied()
        .collect();
    let per_address =
        super::connections::PerAddress::new(state.config.server.max_connections_per_ip, &exempt);
    let builder = builder(&state);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One address holds its share of the connections at most; the next one from it is
        // closed at once (the global permit goes back with it).
        let Some(slot) = per_address.admit(peer.ip()) else {
            metrics::counter!("connections_refused_total", "reason" => "per_address").increment(1);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().map(LocalAddr);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(transport);
            if let Some(local) = local {
                req.extensions_mut().insert(local);
            }
            app.clone().oneshot(req)
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = (permit, slot);
            match acceptor {
                Some(acceptor) => {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    if tls.get_ref().1.alpn_protocol()
                        == Some(crate::http::tls::acme::ACME_TLS_ALPN)
                    {
                        // An ACME validator checked the challenge certificate; nothing to serve.
                        return;
                    }
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

/// The plain-HTTP listener of `server.http_listen`: every request gets a 308 to the same
/// path on HTTPS, and nothing else is served.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = {
        let mut b = Builder::new(TokioExecutor::new());
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10));
        b
    };
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => break,
        };
        let service = hyper::service::service_fn(move |req: Request<Incoming>| async move {
            Ok::<_, Infallible>(redirect_to_https(&req, https_port))
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _ = watcher.watch(conn).await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// `http://host[:80]/p?q` → `https://host[:port]/p?q`; 400 without a sane Host.
pub fn redirect_to_https<B>(req: &Request<B>, https_port: u16) -> Response<Body> {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((name, port))
                if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(']')
                    || name.starts_with('[') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => h,
        })
        .filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
                })
        });
    let Some(host) = host else {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from("a Host header is required\n"))
            .expect("static response");
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    response
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed at the call, not at the first
/// poll: a SIGTERM that arrives right after "listening" (systemd, a test) is a clean
/// shutdown, not the default death by signal.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(terminate) => {},
            () = wait(interrupt) => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// The address clients use, for messages: `https://127.0.0.1:8443`.
pub fn base_url(state: &AppState, addr: SocketAddr) -> String {
    format!(
        "{}://{addr}",
        if state.tls.is_some() { "https" } else { "http" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: &str, uri: &str, port: u16) -> Option<String> {
        let req = Request::builder()
            .uri(uri)
            .header("host", host)
            .body(())
            .unwrap();
        let resp = redirect_to_https(&req, port);
        resp.headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn redirects_keep_host_path_and_query() {
        assert_eq!(
            location("blog.example", "/a/b?c=1", 443).as_deref(),
            Some("https://blog.example/a/b?c=1")
        );
        assert_eq!(
            location("blog.example:80", "/", 8443).as_deref(),
            Some("https://blog.example:8443/")
        );
        assert_eq!(
            location("[::1]:80", "/x", 443).as_deref(),
            Some("https://[::1]/x")
        );
        assert_eq!(
            location("evil.example/@x", "/", 443),
            None,
            "a Host with a path is refused"
        );
    }
}
