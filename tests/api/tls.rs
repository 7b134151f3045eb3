//! HTTPS: the local CA, protocol versions, HTTP/2, certificate hot reload, the redirect listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use reqwest::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{PATIENCE, TestServer, blogd_run, eventually_some};

const TLS_ON: (&str, &str) = ("BLOGD_TLS_ENABLED", "true");

#[tokio::test]
async fn the_local_certificate_verifies_against_the_exported_root_and_speaks_h2() {
    let server = TestServer::start_with(&[TLS_ON]).await;
    let client = server.tls_client();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/healthz", server.port());
        let reply = client.get(&url).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{host}");
        assert_eq!(reply.version(), reqwest::Version::HTTP_2, "ALPN picks h2");
        assert_eq!(
            reply.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
    }
    // HTTP/1.1 works too.
    let h1 = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                &std::fs::read(server.dir.path().join("tls/root.pem")).unwrap(),
            )
            .unwrap(),
        )
        .http1_only()
        .build()
        .unwrap();
    assert_eq!(
        h1.get(server.https_url("/healthz"))
            .send()
            .await
            .unwrap()
            .version(),
        reqwest::Version::HTTP_11
    );

    // A client trusting only the usual public roots refuses it: it is not a public certificate.
    let public = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(
        public
            .get(server.https_url("/healthz"))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP on the HTTPS port gets nothing useful.
    assert!(
        !reqwest::get(format!("http://127.0.0.1:{}/healthz", server.port()))
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    );

    // `blogd tls export-ca` prints the same root the server chains to.
    let exported = blogd_run(server.dir.path(), &["tls", "export-ca"]).await;
    assert!(exported.status.success());
    assert_eq!(
        exported.stdout,
        std::fs::read(server.dir.path().join("tls/root.pem")).unwrap()
    );
}

/// A TLS 1.1-only ClientHello (no supported_versions extension): the server must refuse it.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x06, 0x00, 0x2f, 0x00, 0x35, 0xc0, 0x13]); // AES-CBC suites
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00, (body.len() >> 8) as u8, body.len() as u8];
    handshake.extend_from_slice(&body);
    let mut record = vec![
        0x16,
        0x03,
        0x01,
        (handshake.len() >> 8) as u8,
        handshake.len() as u8,
    ];
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn only_tls_1_2_and_1_3_are_offered() {
    let server = TestServer::start_with(&[TLS_ON]).await;
    let port = server.port();
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // (An answer is expected: the deadline only guards against a hang.)
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.write_all(&tls11_client_hello()).unwrap();
        let mut buf = [0u8; 7];
        let n = stream.read(&mut buf).unwrap_or(0);
        buf[..n].to_vec()
    })
    .await
    .unwrap();
    assert_eq!(
        reply.first(),
        Some(&0x15),
        "a TLS 1.1 hello gets an alert, not a ServerHello: {reply:?}"
    );

    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let peer = handshake(&server, &[version]).await;
        assert!(peer.is_ok(), "{version:?} works");
    }
}

fn root_store(server: &TestServer) -> rustls::RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.dir.path().join("tls/root.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// Connects with the given protocol versions; returns the certificate the server showed.
async fn handshake(
    server: &TestServer,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<CertificateDer<'static>> {
    connect(server, root_store(server), versions)
        .await
        .map(|(_, cert)| cert)
}

async fn connect(
    server: &TestServer,
    roots: rustls::RootCertStore,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<(
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    CertificateDer<'static>,
)> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let cert = stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    Ok((stream, cert))
}

/// One HTTP/1.1 request on an open connection; returns the status line.
async fn get_on(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// A test CA and two leaf certificates for localhost signed by it.
struct Certs {
    ca_pem: String,
    a: (String, String),
    b: (String, String),
}

fn make_certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = || {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Certs {
        ca_pem: ca_cert.pem(),
        a: leaf(),
        b: leaf(),
    }
}

#[tokio::test]
async fn operator_certificates_reload_without_dropping_connections() {
    use rustls::pki_types::pem::PemObject;
    let certs = make_certs();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &certs.a.0).unwrap();
    std::fs::write(&key_path, &certs.a.1).unwrap();
    let server = TestServer::start_with(&[
        TLS_ON,
        ("BLOGD_TLS_CERT", cert_path.to_str().unwrap()),
        ("BLOGD_TLS_KEY", key_path.to_str().unwrap()),
    ])
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let cert_a = CertificateDer::from_pem_slice(certs.a.0.as_bytes()).unwrap();
    let cert_b = CertificateDer::from_pem_slice(certs.b.0.as_bytes()).unwrap();
    let versions = [&rustls::version::TLS13];

    let (mut old_conn, shown) = connect(&server, roots.clone(), &versions).await.unwrap();
    assert_eq!(shown, cert_a);
    assert!(get_on(&mut old_conn).await.contains("200"));

    // certbot-style renewal: the files change on disk; the watcher notices.
    std::fs::write(&key_path, &certs.b.1).unwrap();
    std::fs::write(&cert_path, &certs.b.0).unwrap();
    // (The watcher looks every couple of seconds; the wait only guards against a hang.)
    eventually_some("new connections get the new certificate", async || {
        let shown = connect(&server, roots.clone(), &versions).await.unwrap().1;
        (shown == cert_b).then_some(())
    })
    .await;
    assert!(
        get_on(&mut old_conn).await.contains("200"),
        "an open keep-alive connection keeps working"
    );

    // A bad pair (B's certificate with A's key) is refused; B keeps serving. `reload` is what
    // both the file watcher and SIGHUP run, so its refusal is theirs.
    std::fs::write(&key_path, &certs.a.1).unwrap();
    let tls = server.state.tls.clone().unwrap();
    assert!(tls.reload(server.state.clock.now()).is_err());
    assert_eq!(
        connect(&server, roots.clone(), &versions).await.unwrap().1,
        cert_b
    );
    std::fs::write(&cert_path, "not a certificate").unwrap();
    assert!(tls.reload(server.state.clock.now()).is_err());
    assert_eq!(connect(&server, roots, &versions).await.unwrap().1, cert_b);
}

#[tokio::test]
async fn the_http_listener_only_redirects_to_https() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(blogd::http::server::serve_redirect(
        listener,
        8443,
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, method) in [
        ("/api/v1/posts?page=2", reqwest::Method::GET),
        ("/api/v1/auth/login", reqwest::Method::POST),
    ] {
        let reply = client
            .request(method, format!("http://{addr}{path}"))
            .header("host", "blog.example")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            reply.headers()["location"],
            format!("https://blog.example:8443{path}").as_str()
        );
    }
}
