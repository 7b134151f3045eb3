//! ACME for real, against Debian's `pebble` test CA on loopback. Skipped (with a notice) when
//! pebble is not installed, unless CI_REQUIRE_PEBBLE is set (CI sets it).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::common::TestServer;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Pebble {
    child: Child,
    dir: tempfile::TempDir,
    acme_port: u16,
    mgmt_port: u16,
    ca_pem: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts pebble with a certificate of ours for its HTTPS listener.
fn start_pebble() -> Option<Pebble> {
    if Command::new("pebble").arg("-version").output().is_err() {
        if std::env::var_os("CI_REQUIRE_PEBBLE").is_some() {
            panic!("pebble is required (apt-get install pebble)");
        }
        eprintln!("skipping the ACME test: pebble is not installed (apt-get install pebble)");
        return None;
    }
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let (acme_port, mgmt_port) = (free_port(), free_port());
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme_port}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
        "certificate": dir.path().join("cert.pem"),
        "privateKey": dir.path().join("key.pem"),
        "httpPort": free_port(), "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": false
    }});
    std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
    let mut child = Command::new("pebble")
        .arg("-config")
        .arg(dir.path().join("pebble.json"))
        .env("PEBBLE_VA_ALWAYS_VALID", "1")
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", acme_port)).is_ok() {
            return Some(Pebble {
                child,
                dir,
                acme_port,
                mgmt_port,
                ca_pem: ca.pem(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("pebble did not start");
}

#[tokio::test]
async fn acme_gets_a_certificate_from_pebble_and_serves_it() {
    let Some(pebble) = start_pebble() else { return };
    let ca_path = pebble.dir.path().join("ca.pem");
    std::fs::write(&ca_path, &pebble.ca_pem).unwrap();
    let directory = format!("https://127.0.0.1:{}/dir", pebble.acme_port);
    let server = TestServer::start_with(&[
        ("BLOGD_TLS_ENABLED", "true"),
        ("BLOGD_TLS_ACME_DOMAINS", "blog.test,www.blog.test"),
        ("BLOGD_TLS_ACME_EMAIL", "ops@blog.test"),
        ("BLOGD_TLS_ACME_DIRECTORY", &directory),
        ("BLOGD_TLS_ACME_DIRECTORY_CA", ca_path.to_str().unwrap()),
    ])
    .await;
    // The server runs its ACME job from the start, like a production one; until the CA
    // answers, the local certificate stands in.
    let tls = server.state.tls.clone().unwrap();
    for _ in 0..300 {
        if tls.serving_acme() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tls.serving_acme(), "an ACME certificate is served");
    let acme_dir = server.dir.path().join("acme");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(acme_dir.join("key.pem"))
            .unwrap()
            .permissions(),
    ) & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        acme_dir.join("account.json").exists(),
        "the account is kept for renewals"
    );

    // Pebble's issuing root, from its management port, verifies what blogd now serves.
    let pebble_client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pebble.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let root_pem = pebble_client
        .get(format!("https://127.0.0.1:{}/roots/0", pebble.mgmt_port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    for name in ["blog.test", "www.blog.test"] {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config.clone()));
        let stream = connector
            .connect(ServerName::try_from(name).unwrap(), tcp)
            .await;
        assert!(stream.is_ok(), "{name}: {:?}", stream.err());
    }

    // A restart reuses the stored certificate instead of ordering a new one.
    drop(tls);
    let dir = server.stop().await;
    let again = TestServer::start_in(
        dir,
        &[
            ("BLOGD_TLS_ENABLED", "true"),
            ("BLOGD_TLS_ACME_DOMAINS", "blog.test,www.blog.test"),
            ("BLOGD_TLS_ACME_DIRECTORY", &directory),
            ("BLOGD_TLS_ACME_DIRECTORY_CA", ca_path.to_str().unwrap()),
        ],
    )
    .await;
    assert!(again.state.tls.as_ref().unwrap().serving_acme());
}
