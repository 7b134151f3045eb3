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
    socket_ports(pid, "/proc/net/tcp", "0A")
}

/// The UDP ports process `pid` has bound (state 07: unconnected).
fn udp_ports(pid: u32) -> Vec<u16> {
    socket_ports(pid, "/proc/net/udp", "07")
}

/// The local ports of `pid`'s sockets in `table` that are in state `wanted`.
fn socket_ports(pid: u32, table: &str, wanted: &str) -> Vec<u16> {
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
    let table = std::fs::read_to_string(table).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state, inode
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            (*state == wanted && inodes.contains(*inode))
                .then(|| u16::from_str_radix(local.rsplit(':').next()?, 16).ok())?
        })
        .collect()
}

/// Whether Debian's pebble is here; without it the ACME tests are skipped with a notice,
/// unless CI_REQUIRE_PEBBLE is set.
fn pebble_installed() -> bool {
    if Command::new("pebble").arg("-version").output().is_ok() {
        return true;
    }
    if std::env::var_os("CI_REQUIRE_PEBBLE").is_some() {
        panic!("pebble is required (apt-get install pebble)");
    }
    eprintln!("skipping the ACME test: pebble is not installed (apt-get install pebble)");
    false
}

/// How pebble's validation authority decides a challenge.
enum Validation {
    /// Every challenge passes without a connection (PEBBLE_VA_ALWAYS_VALID).
    AlwaysValid,
    /// For real: names resolve through the DNS server at `dns` (pebble-challtestsrv, every
    /// name → 127.0.0.1) and TLS-ALPN-01 connects to `tls_port` there, where blogd listens.
    Real { dns: u16, tls_port: u16 },
}

/// pebble's companion DNS server answering every A query with 127.0.0.1 (and no AAAA, so
/// the validation goes to the address blogd listens on), on a UDP port it picks itself.
async fn start_dns() -> (Reaped, u16) {
    let mut child = Reaped(
        Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                "127.0.0.1:0",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian's pebble package)"),
    );
    let pid = child.0.id();
    let port = eventually_some("pebble-challtestsrv answering DNS", async || {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "pebble-challtestsrv exited at start"
        );
        udp_ports(pid).first().copied()
    })
    .await;
    (child, port)
}

/// Starts pebble with a certificate of ours for its HTTPS listeners, on ports it picks
/// itself (read back from /proc), so no other program can take them in between.
async fn start_pebble(validation: Validation) -> Pebble {
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
        // Where its validation authority connects to (never, when always valid).
        "httpPort": 5002,
        "tlsPort": match validation { Validation::Real { tls_port, .. } => tls_port, _ => 5001 },
        "ocspResponderURL": "", "externalAccountBindingRequired": false
    }});
    std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
    let mut command = Command::new("pebble");
    command
        .arg("-config")
        .arg(dir.path().join("pebble.json"))
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match validation {
        Validation::AlwaysValid => command.env("PEBBLE_VA_ALWAYS_VALID", "1"),
        Validation::Real { dns, .. } => command.arg("-dnsserver").arg(format!("127.0.0.1:{dns}")),
    };
    let mut child = Reaped(command.spawn().unwrap());
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
    Pebble {
        _child: child,
        dir,
        acme_port,
        mgmt_port,
        ca_pem: ca.pem(),
    }
}

impl Pebble {
    /// The directory URL and the file holding the CA of pebble's own HTTPS (for blogd).
    fn directory(&self) -> (String, String) {
        let ca_path = self.dir.path().join("ca.pem");
        std::fs::write(&ca_path, &self.ca_pem).unwrap();
        (
            format!("https://127.0.0.1:{}/dir", self.acme_port),
            ca_path.display().to_string(),
        )
    }

    /// A TLS client trusting only the root pebble issues from (read from its management
    /// port): what verifies a certificate blogd got from it.
    async fn issuing_root(&self) -> rustls::ClientConfig {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let root_pem = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.mgmt_port))
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
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }
}

/// The certificate served on `port` for `name`, if `config` accepts it.
async fn served_cert(
    config: &rustls::ClientConfig,
    port: u16,
    name: &str,
) -> std::io::Result<CertificateDer<'static>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config.clone()));
    let stream = connector
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await?;
    let (_, session) = stream.get_ref();
    Ok(session.peer_certificates().unwrap()[0].clone().into_owned())
}

#[tokio::test]
async fn acme_gets_a_certificate_from_pebble_and_serves_it() {
    if !pebble_installed() {
        return;
    }
    let pebble = start_pebble(Validation::AlwaysValid).await;
    let (directory, ca_path) = pebble.directory();
    let server = TestServer::start_with(&acme_env(&directory, &ca_path)).await;
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

    // Pebble's issuing root verifies what blogd now serves, for each name.
    let config = pebble.issuing_root().await;
    for name in ["blog.test", "www.blog.test"] {
        let served = served_cert(&config, server.port(), name).await;
        assert!(served.is_ok(), "{name}: {:?}", served.err());
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
            ("BLOGD_TLS_ACME_DIRECTORY_CA", &ca_path),
        ],
    )
    .await;
    assert!(again.state.tls.as_ref().unwrap().serving_acme());
}

/// The TLS-ALPN-01 answer validated for real: pebble resolves both names to 127.0.0.1 and
/// connects to blogd's own HTTPS port with `acme-tls/1`, where blogd must present a
/// certificate carrying the right key authorization (a wrong one fails the order and this
/// test). Then renewal: with the clock moved to 29 days before expiry, the running server
/// orders a new certificate and serves it, without a restart.
#[tokio::test]
async fn tls_alpn_01_is_answered_for_real_and_the_certificate_renewed_before_expiry() {
    if !pebble_installed() {
        return;
    }
    // Bound first: pebble must know the port it validates on before blogd asks it to.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_dns_server, dns) = start_dns().await;
    let pebble = start_pebble(Validation::Real {
        dns,
        tls_port: port,
    })
    .await;
    let (directory, ca_path) = pebble.directory();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_on(listener, dir, &acme_env(&directory, &ca_path)).await;
    let tls = server.state.tls.clone().unwrap();
    eventually_some("a certificate validated over TLS-ALPN-01", async || {
        tls.serving_acme().then_some(())
    })
    .await;
    let config = pebble.issuing_root().await;
    let first = served_cert(&config, port, "blog.test").await.unwrap();
    served_cert(&config, port, "www.blog.test").await.unwrap();
    let stored = std::fs::read(server.dir.path().join("acme/cert.pem")).unwrap();

    // 29 days before it expires, by the server's clock: inside the 30-day renewal window.
    let expires = tls.info().not_after;
    server
        .state
        .clock
        .advance(expires - server.state.clock.now() - 29 * 86_400);
    let renewed = eventually_some("a renewed certificate served", async || {
        let served = served_cert(&config, port, "blog.test").await.ok()?;
        (served != first).then_some(served)
    })
    .await;
    assert!(tls.serving_acme());
    assert!(
        tls.info().not_after >= expires,
        "the new one lasts at least as long"
    );
    assert_ne!(
        std::fs::read(server.dir.path().join("acme/cert.pem")).unwrap(),
        stored,
        "the renewed certificate is stored for the next start"
    );
    assert_eq!(
        served_cert(&config, port, "www.blog.test").await.unwrap(),
        renewed,
        "one certificate for both names"
    );
}

/// A server that takes its certificate for blog.test and www.blog.test from the ACME
/// directory given (pebble's), trusting that directory's CA file.
fn acme_env<'a>(directory: &'a str, ca_path: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("BLOGD_TLS_ENABLED", "true"),
        ("BLOGD_TLS_ACME_DOMAINS", "blog.test,www.blog.test"),
        ("BLOGD_TLS_ACME_EMAIL", "ops@blog.test"),
        ("BLOGD_TLS_ACME_DIRECTORY", directory),
        ("BLOGD_TLS_ACME_DIRECTORY_CA", ca_path),
    ]
}
