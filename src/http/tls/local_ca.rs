//! blogd's own small CA for hosts without a public certificate: a root made once and kept in
//! `<data_dir>/tls/` (key mode 0600), and a short-lived leaf it signs and renews.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// The root lives ten years: clients trust it once.
const ROOT_DAYS: i64 = 3650;
/// Leaves live 90 days…
const LEAF_DAYS: i64 = 90;
/// …and are renewed when fewer than 30 remain.
const RENEW_BEFORE_DAYS: i64 = 30;

pub fn root_cert_path(dir: &Path) -> std::path::PathBuf {
    dir.join("root.pem")
}

/// Whether a leaf expiring at `not_after` should be renewed at `now`.
pub fn renewal_due(not_after: i64, now: i64) -> bool {
    not_after - now < RENEW_BEFORE_DAYS * 86_400
}

fn write_private(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn root_params(now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "blogd local root CA");
    name.push(DnType::OrganizationName, "blogd");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(ROOT_DAYS);
    params
}

/// The root certificate (PEM) and an issuer for it, made on first use.
fn root(dir: &Path, now: OffsetDateTime) -> anyhow::Result<(String, Issuer<'static, KeyPair>)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = root_cert_path(dir);
    let key_path = dir.join("root.key");
    if !cert_path.exists() || !key_path.exists() {
        let key = KeyPair::generate()?;
        let cert = root_params(now).self_signed(&key)?;
        write_private(&key_path, &key.serialize_pem(), 0o600)?;
        write_private(&cert_path, &cert.pem(), 0o644)?;
        tracing::info!(path = %cert_path.display(), "made a local root CA; trust it with `blogd tls export-ca`");
    }
    let cert_pem = std::fs::read_to_string(&cert_path)?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
        .context("the local CA key is damaged")?;
    let issuer =
        Issuer::from_ca_cert_pem(&cert_pem, key).context("the local CA certificate is damaged")?;
    Ok((cert_pem, issuer))
}

/// The root certificate, made if missing (for `blogd tls export-ca`).
pub fn export_root(dir: &Path) -> anyhow::Result<String> {
    Ok(root(dir, OffsetDateTime::now_utc())?.0)
}

/// The names a leaf covers.
fn leaf_names(hostnames: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(
        hostnames
            .iter()
            .filter(|h| !names.contains(h))
            .cloned()
            .collect::<Vec<_>>(),
    );
    names
}

/// The leaf chain (leaf + root) and key, as PEM: the stored one while it is valid for long
/// enough and covers the configured names, else a new one.
pub fn leaf(dir: &Path, hostnames: &[String], now_unix: i64) -> anyhow::Result<(String, String)> {
    let now = OffsetDateTime::from_unix_timestamp(now_unix)?;
    let names = leaf_names(hostnames);
    let cert_path = dir.join("leaf.pem");
    let key_path = dir.join("leaf.key");
    let names_path = dir.join("leaf.names");
    if let (Ok(cert), Ok(key), Ok(stored_names)) = (
        std::fs::read_to_string(&cert_path),
        std::fs::read_to_string(&key_path),
        std::fs::read_to_string(&names_path),
    ) {
        let fresh = rustls::pki_types::pem::PemObject::from_pem_slice(cert.as_bytes())
            .ok()
            .and_then(|der: rustls::pki_types::CertificateDer<'_>| super::not_after(&der).ok())
            .is_some_and(|not_after| !renewal_due(not_after, now_unix));
        if fresh && stored_names.trim() == names.join(",") {
            return Ok((cert, key));
        }
    }
    let (root_pem, issuer) = root(dir, now)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        names.last().cloned().unwrap_or_default(),
    );
    params.distinguished_name = name;
    params.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(LEAF_DAYS);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let chain = format!("{}{}", cert.pem(), root_pem);
    write_private(&key_path, &key.serialize_pem(), 0o600)?;
    write_private(&cert_path, &chain, 0o644)?;
    write_private(&names_path, &names.join(","), 0o644)?;
    tracing::info!(names = %names.join(","), days = LEAF_DAYS, "issued a local TLS certificate");
    Ok((chain, key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_is_reused_then_renewed_and_follows_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let (first, _) = leaf(dir.path(), &[], now).unwrap();
        let (again, _) = leaf(dir.path(), &[], now + 86_400).unwrap();
        assert_eq!(first, again, "reused while valid");
        let (renewed, _) = leaf(dir.path(), &[], now + 61 * 86_400).unwrap();
        assert_ne!(first, renewed, "renewed with under 30 days left");
        let (named, _) = leaf(dir.path(), &["blog.example".into()], now + 61 * 86_400).unwrap();
        assert_ne!(renewed, named, "a new host name gets a new certificate");
        let root_before = std::fs::read_to_string(root_cert_path(dir.path())).unwrap();
        assert!(
            named.ends_with(&root_before),
            "the chain ends with the same root"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("root.key"))
                .unwrap()
                .permissions(),
        ) & 0o777;
        assert_eq!(mode, 0o600);
    }
}
