//! ACME for real, against Debian's `pebble` test CA on loopback. Skipped (with a notice) when
//! pebble is not installed, unless CI_REQUIRE_PEBBLE is set (CI sets it).

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::common::{Reaped, TestServer, eventually_some};

struct Pebble {
    _child: Reaped,
    dir: tempfile::TempDir,
    acme_port: u16,
    mgmt_port: u16,
    ca_pem: String,
}

/// The TCP ports process `pid` listens on (from /proc: its sockets, then the IPv4 table).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|link| {
                    let link = link.to_string_lossy().into_owned();
                    Some(
                        link.strip_prefix("socket:[")?
                            .strip_suffix(']')?
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state (0A: LISTEN), inode
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            (*state == "0A" && inodes.contains(*inode))
                .then(|| u16::from_str_radix(local.rsplit(':').next()?, 16).ok())?
        })
        .collect()
}

/// Starts pebble with a certificate of ours for its HTTPS listeners, on ports it picks
/// itself (read back from /proc), so no other program can take them in between.
async fn start_pebble() -> Option<Pebble> {
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
    let config = serde_json::json!({"pebble": {
        "listenAddress": "127.0.0.1:0",
        "managementListenAddress": "127.0.0.1:0",
        "certificate": dir.path().join("cert.pem"),
        "privateKey": dir.path().join("key.pem"),
        // Where its validation authority would connect to: never, with PEBBLE_VA_ALWAYS_VALID.
        "httpPort": 5002, "tlsPort": 5001,
        "ocspResponderURL": "", "externalAccountBindingRequired": false
    }});
    std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
    let mut child = Reaped(
        Command::new("pebble")
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let ports = eventually_some("pebble listening on its two ports", async || {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "pebble exited at start"
        );
        let ports = listening_ports(pid);
        (ports.len() == 2).then_some(ports)
    })
    .await;
    // The ACME directory is on one of them, the management interface on the other.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let directory = client
        .get(format!("https://127.0.0.1:{}/dir", ports[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (acme_port, mgmt_port) = if directory.contains("newNonce") {
        (ports[0], ports[1])
    } else {
        (ports[1], ports[0])
    };
    Some(Pebble {
        _child: child,
        dir,
        acme_port,
        mgmt_port,
        ca_pem: ca.pem(),
    })
}

#[tokio::test]
async fn acme_gets_a_certificate_from_pebble_and_serves_it() {
    let Some(pebble) = start_pebble().await else {
        return;
    };
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
    eventually_some("an ACME certificate served", async || {
        tls.serving_acme().then_some(())
    })
    .await;
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
