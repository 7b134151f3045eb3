//! HTTPS: the rustls server configuration and the certificate it presents.
//!
//! The certificate sits behind a resolver that every new handshake asks, so swapping it
//! (SIGHUP, a changed file on disk, a renewed local certificate) affects new connections only:
//! open ones keep the session they negotiated. A new pair that does not load (unreadable,
//! not PEM, key not matching the certificate) is refused and the old one keeps serving.
//!
//! Where the certificate comes from:
//! - `tls.cert` + `tls.key`: the operator's files (certbot, a corporate CA…), re-read when they
//!   change on disk;
//! - neither: a small local CA that blogd makes in `<data_dir>/tls/` on first start (the root
//!   stays there, mode 0600, for `blogd tls export-ca`) and a leaf it signs for localhost,
//!   127.0.0.1, ::1 and `server.hostnames`, renewed well before it expires (Caddy's approach for
//!   local and air-gapped hosts).

pub mod acme;
pub mod local_ca;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::Config;

/// ALPN protocols offered, in order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The provider every TLS object of blogd uses: ring, rustls' safe defaults.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate presented now, and ACME challenge certificates while an order is open.
#[derive(Debug)]
struct CurrentCert {
    cert: RwLock<Arc<CertifiedKey>>,
    challenges: acme::Challenges,
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme_validation = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == acme::ACME_TLS_ALPN));
        if acme_validation {
            // Only the validator asks for acme-tls/1, and it gets only the challenge certificate.
            return hello
                .server_name()
                .and_then(|name| self.challenges.get(name));
        }
        Some(self.cert.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

#[derive(Debug, Clone)]
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    LocalCa {
        dir: PathBuf,
        names: Vec<String>,
    },
    /// ACME's certificate once there is one; the local certificate until then.
    Acme {
        dir: PathBuf,
        local: PathBuf,
        names: Vec<String>,
    },
}

/// What is known about the certificate in use.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Unix seconds after which clients refuse it.
    pub not_after: i64,
    /// The files' modification times when it was loaded (operator files only).
    stamps: Option<(SystemTime, SystemTime)>,
    /// Whether the certificate came from the ACME CA (not the local bootstrap one).
    pub from_acme: bool,
}

pub struct Tls {
    current: Arc<CurrentCert>,
    source: Source,
    info: RwLock<CertInfo>,
    config: Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Loads (or, for the local CA, makes) the certificate for this configuration.
    pub fn load(config: &Config, now: i64) -> anyhow::Result<Tls> {
        let mut names: Vec<String> = config
            .server
            .hostnames
            .iter()
            .map(|h| h.0.clone())
            .collect();
        for domain in &config.tls.acme.domains {
            if !names.contains(&domain.0) {
                names.push(domain.0.clone());
            }
        }
        let acme = !config.tls.acme.domains.is_empty();
        let source = match (config.tls.cert.as_path(), config.tls.key.as_path()) {
            (Some(_), Some(_)) if acme => {
                anyhow::bail!(
                    "tls.acme.domains and tls.cert/tls.key exclude each other: choose one"
                )
            }
            (Some(cert), Some(key)) => Source::Files {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            (None, None) if acme => Source::Acme {
                dir: acme::dir(&config.storage.data_dir),
                local: config.storage.data_dir.join("tls"),
                names,
            },
            (None, None) => Source::LocalCa {
                dir: config.storage.data_dir.join("tls"),
                names,
            },
            _ => anyhow::bail!(
                "tls.cert and tls.key go together: set both, or neither for a local certificate"
            ),
        };
        let (key, info) = obtain(&source, now)?;
        let current = Arc::new(CurrentCert {
            cert: RwLock::new(key),
            challenges: acme::Challenges::default(),
        });
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        if acme {
            server.alpn_protocols.push(acme::ACME_TLS_ALPN.to_vec());
        }
        // Our suite order (rustls': AEAD, forward secrecy, strongest first), not the client's.
        server.ignore_client_order = true;
        Ok(Tls {
            current,
            source,
            info: RwLock::new(info),
            config: Arc::new(server),
        })
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }

    pub fn info(&self) -> CertInfo {
        self.info.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads the certificate again (SIGHUP), or renews the local one when due. Returns whether
    /// a new certificate is now served. On error the old one stays.
    pub fn reload(&self, now: i64) -> anyhow::Result<bool> {
        let (key, info) = obtain(&self.source, now)?;
        let changed = {
            let old = self.current.cert.read().unwrap_or_else(|p| p.into_inner());
            old.cert != key.cert
        };
        if changed {
            *self.current.cert.write().unwrap_or_else(|p| p.into_inner()) = key;
        }
        *self.info.write().unwrap_or_else(|p| p.into_inner()) = info;
        Ok(changed)
    }

    /// Whether the operator's files changed since they were loaded (for the file watcher).
    pub fn files_changed(&self) -> bool {
        match &self.source {
            Source::Files { cert, key } => stamps(cert, key).ok() != self.info().stamps,
            Source::LocalCa { .. } | Source::Acme { .. } => false,
        }
    }

    /// Whether an ACME certificate (not the local stand-in) is being served.
    pub fn serving_acme(&self) -> bool {
        self.info().from_acme
    }

    pub fn challenges(&self) -> &acme::Challenges {
        &self.current.challenges
    }

    /// Whether the certificate should be renewed now (local certificates only).
    pub fn renewal_due(&self, now: i64) -> bool {
        matches!(self.source, Source::LocalCa { .. })
            && local_ca::renewal_due(self.info().not_after, now)
    }
}

fn stamps(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<(SystemTime, SystemTime)> {
    Ok((
        std::fs::metadata(cert)?.modified()?,
        std::fs::metadata(key)?.modified()?,
    ))
}

fn obtain(source: &Source, now: i64) -> anyhow::Result<(Arc<CertifiedKey>, CertInfo)> {
    match source {
        Source::Files { cert, key } => {
            let before = stamps(cert, key)
                .with_context(|| format!("cannot read {} or {}", cert.display(), key.display()))?;
            let cert_pem =
                std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
            let key_pem =
                std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
            let (certified, not_after) = certified_key(&cert_pem, &key_pem).with_context(|| {
                format!(
                    "{} and {} are not a usable pair",
                    cert.display(),
                    key.display()
                )
            })?;
            Ok((
                certified,
                CertInfo {
                    not_after,
                    stamps: Some(before),
                    from_acme: false,
                },
            ))
        }
        Source::LocalCa { dir, names } => local_leaf(dir, names, now),
        Source::Acme { dir, local, names } => {
            let (cert, key) = acme::cert_paths(dir);
            if let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read(&cert), std::fs::read(&key)) {
                match certified_key(&cert_pem, &key_pem) {
                    Ok((certified, not_after)) if not_after > now => {
                        return Ok((
                            certified,
                            CertInfo {
                                not_after,
                                stamps: None,
                                from_acme: true,
                            },
                        ));
                    }
                    Ok(_) => tracing::warn!(
                        "the stored ACME certificate has expired; serving the local one until renewed"
                    ),
                    Err(err) => {
                        tracing::warn!(error = %err, "the stored ACME certificate is unusable; serving the local one")
                    }
                }
            }
            local_leaf(local, names, now)
        }
    }
}

fn local_leaf(
    dir: &std::path::Path,
    names: &[String],
    now: i64,
) -> anyhow::Result<(Arc<CertifiedKey>, CertInfo)> {
    let (cert_pem, key_pem) = local_ca::leaf(dir, names, now)?;
    let (certified, not_after) = certified_key(cert_pem.as_bytes(), key_pem.as_bytes())?;
    Ok((
        certified,
        CertInfo {
            not_after,
            stamps: None,
            from_acme: false,
        },
    ))
}

/// A certificate chain and its key from PEM, checked to belong together; with the leaf's expiry.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<(Arc<CertifiedKey>, i64)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("the certificate file is not PEM: {e}"))?;
    let leaf = chain
        .first()
        .ok_or_else(|| anyhow::anyhow!("the certificate file holds no certificate"))?;
    let not_after = not_after(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("the key file holds no private key: {e}"))?;
    let certified = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| anyhow::anyhow!("the key does not fit the certificate: {e}"))?;
    Ok((Arc::new(certified), not_after))
}

/// The expiry of a DER certificate, in Unix seconds.
pub fn not_after(cert: &CertificateDer<'_>) -> anyhow::Result<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| anyhow::anyhow!("unreadable certificate: {e}"))?;
    Ok(parsed.validity().not_after.timestamp())
}

/// How often the certificate files are checked for changes (and the local one for renewal).
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Picks up renewed certificate files (certbot) and renews the local certificate, without a
/// restart. Runs until the runtime stops.
pub fn spawn_watcher(tls: Arc<Tls>, clock: crate::clock::Clock) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            tick.tick().await;
            let now = clock.now();
            if tls.files_changed() || tls.renewal_due(now) {
                reload_logged(&tls, now);
            }
        }
    });
}

/// Reloads and says what happened in the log; errors keep the old certificate.
pub fn reload_logged(tls: &Tls, now: i64) {
    match tls.reload(now) {
        Ok(true) => {
            tracing::info!(not_after = %crate::clock::rfc3339(tls.info().not_after), "now serving a new TLS certificate")
        }
        Ok(false) => {}
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "new TLS certificate refused; the old one keeps serving")
        }
    }
}
