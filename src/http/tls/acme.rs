//! Automatic certificates from an ACME CA (Let's Encrypt by default), with the TLS-ALPN-01
//! challenge answered by blogd's own TLS listener: no port 80, no other program.
//!
//! Until the first certificate arrives the server presents its local certificate (the
//! challenge needs the listener up). The account and the certificate are kept in
//! `<data_dir>/acme/` (keys mode 0600) and reused across restarts; a certificate is renewed
//! 30 days before it expires, and a failed attempt is retried with growing delays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::sign::CertifiedKey;

use crate::clock::Clock;
use crate::config::AcmeConfig;

/// ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// Renew when fewer days than this remain.
const RENEW_BEFORE_SECS: i64 = 30 * 86_400;
/// How often the certificate's age is checked.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);

/// Challenge certificates being served, by domain, while an order is open.
#[derive(Debug, Default)]
pub struct Challenges(RwLock<HashMap<String, Arc<CertifiedKey>>>);

impl Challenges {
    pub fn get(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&domain.to_ascii_lowercase())
            .cloned()
    }

    fn set(&self, domain: &str, key: Arc<CertifiedKey>) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(domain.to_ascii_lowercase(), key);
    }

    fn clear(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("acme")
}

pub fn cert_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cert.pem"), dir.join("key.pem"))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The account, from its stored credentials or newly registered.
async fn account(config: &AcmeConfig, dir: &Path) -> anyhow::Result<Account> {
    let builder = || -> anyhow::Result<_> {
        Ok(match config.directory_ca.as_path() {
            Some(ca) => {
                Account::builder_with_root(ca).context("cannot use tls.acme.directory_ca")?
            }
            None => Account::builder()?,
        })
    };
    let stored = dir.join("account.json");
    if let Ok(text) = std::fs::read_to_string(&stored) {
        let credentials: AccountCredentials =
            serde_json::from_str(&text).context("acme/account.json is damaged")?;
        return Ok(builder()?.from_credentials(credentials).await?);
    }
    let contact = format!("mailto:{}", config.email);
    let contacts: Vec<&str> = if config.email.is_empty() {
        vec![]
    } else {
        vec![contact.as_str()]
    };
    let new = NewAccount {
        contact: &contacts,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = builder()?
        .create(&new, config.directory.clone(), None)
        .await?;
    write_private(&stored, &serde_json::to_string_pretty(&credentials)?)?;
    tracing::info!(directory = %config.directory, "registered an ACME account");
    Ok(account)
}

/// The certificate a TLS-ALPN-01 validator must see for `domain` (RFC 8737).
fn challenge_cert(domain: &str, digest: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![domain.to_string()])?;
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key)?;
    // Not through `certified_key`: webpki refuses to parse a certificate with the critical
    // acmeIdentifier extension, and this one is only ever shown to the validator.
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let signing = super::provider().key_provider.load_private_key(der)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// Runs one ACME order for the configured domains; returns the chain and key as PEM.
pub async fn issue(
    config: &AcmeConfig,
    dir: &Path,
    challenges: &Challenges,
) -> anyhow::Result<(String, String)> {
    std::fs::create_dir_all(dir)?;
    let account = account(config, dir).await?;
    let identifiers: Vec<Identifier> = config
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.0.clone()))
        .collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let mut challenge = authz
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or_else(|| anyhow::anyhow!("the CA offers no tls-alpn-01 challenge"))?;
        let domain = challenge.identifier().to_string();
        let digest = challenge.key_authorization().digest();
        challenges.set(&domain, challenge_cert(&domain, digest.as_ref())?);
        challenge.set_ready().await?;
    }
    let retry = RetryPolicy::default();
    let status = order.poll_ready(&retry).await;
    let result = async {
        match status? {
            OrderStatus::Ready => {}
            other => anyhow::bail!("the ACME order ended as {other:?}"),
        }
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&retry).await?;
        Ok((chain_pem, key_pem))
    }
    .await;
    challenges.clear();
    let (chain_pem, key_pem) = result?;
    let (cert_path, key_path) = cert_paths(dir);
    write_private(&key_path, &key_pem)?;
    write_private(&cert_path, &chain_pem)?;
    Ok((chain_pem, key_pem))
}

/// Gets the first certificate and keeps it renewed (30 days before it expires, by `clock`),
/// for as long as the runtime runs. Nothing to do without `tls.acme.domains`.
pub fn spawn(tls: Arc<super::Tls>, config: AcmeConfig, data_dir: &Path, clock: Clock) {
    if config.domains.is_empty() {
        return;
    }
    let dir = dir(data_dir);
    tokio::spawn(async move {
        let mut retry_in = Duration::from_secs(60);
        loop {
            let due = !tls.serving_acme() || tls.info().not_after - clock.now() < RENEW_BEFORE_SECS;
            if !due {
                clock.sleep(CHECK_EVERY.as_secs()).await;
                continue;
            }
            match issue(&config, &dir, tls.challenges()).await {
                Ok(_) => {
                    super::reload_logged(&tls, clock.now());
                    retry_in = Duration::from_secs(60);
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), retry_in = ?retry_in, "ACME certificate request failed");
                    clock.sleep(retry_in.as_secs()).await;
                    retry_in = (retry_in * 2).min(Duration::from_secs(6 * 3600));
                }
            }
        }
    });
}
