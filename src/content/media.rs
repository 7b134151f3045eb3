//! Uploaded images: what a file really is (by its bytes, never its name), and where it is kept.
//!
//! Only JPEG, PNG, GIF and WebP are accepted, decided by magic bytes. A file whose bytes
//! also carry markup (an image/HTML or image/SVG polyglot) is refused: it is served with
//! `nosniff` and a sandboxing CSP anyway, but there is no reason to keep it. Files are stored
//! as `<sha256>.<ext>`: the client's file name never becomes a path.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest upload accepted (API.md: 5 MiB).
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl ImageKind {
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Gif => "gif",
            ImageKind::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
            ImageKind::Webp => "image/webp",
        }
    }

    pub fn from_extension(ext: &str) -> Option<ImageKind> {
        match ext {
            "jpg" => Some(ImageKind::Jpeg),
            "png" => Some(ImageKind::Png),
            "gif" => Some(ImageKind::Gif),
            "webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }
}

/// Why an upload is not an acceptable image.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NotAnImage,
    ContainsMarkup,
}

/// Markup that has no business inside an image.
const MARKUP: &[&[u8]] = &[
    b"<script",
    b"<html",
    b"<svg",
    b"<?xml",
    b"<!doctype",
    b"<iframe",
    b"<body",
    b"javascript:",
];

/// Decides what a file is from its bytes.
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, Refusal> {
    let kind = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ImageKind::Jpeg
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        ImageKind::Png
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        ImageKind::Gif
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        ImageKind::Webp
    } else {
        return Err(Refusal::NotAnImage);
    };
    let lower = bytes.to_ascii_lowercase();
    if MARKUP
        .iter()
        .any(|m| lower.windows(m.len()).any(|w| w == *m))
    {
        return Err(Refusal::ContainsMarkup);
    }
    Ok(kind)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn media_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("media")
}

/// The stored file name for a served name, if the name is exactly one we could have made:
/// 64 lowercase hex characters, a dot, a known extension. Anything else (traversal, other
/// files) is not a media name at all.
pub fn parse_name(name: &str) -> Option<(&str, ImageKind)> {
    let (hash, ext) = name.split_once('.')?;
    let valid_hash = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let kind = ImageKind::from_extension(ext)?;
    valid_hash.then_some((hash, kind))
}

/// Writes the file under its content hash (atomically; a file already there is the same bytes).
pub fn store(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)?;
    let path = dir.join(name);
    if path.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)
}

impl super::Content<'_> {
    /// Stores an uploaded image (its kind judged by its bytes) under its content hash in
    /// `dir`, records it for `uploader`, and audits it.
    pub async fn store_image(
        &self,
        actor: &crate::security::audit::Actor,
        uploader: i64,
        dir: std::path::PathBuf,
        bytes: Vec<u8>,
    ) -> Result<crate::db::media::MediaRow, crate::domain::Error> {
        use crate::domain::Error;
        let kind = sniff(&bytes).map_err(|refusal| {
            Error::Unsupported(match refusal {
                Refusal::NotAnImage => {
                    "Only JPEG, PNG, GIF and WebP images are accepted (judged by their content)"
                        .into()
                }
                Refusal::ContainsMarkup => "This image also contains markup; it is refused".into(),
            })
        })?;
        let sha = sha256_hex(&bytes);
        let name = format!("{sha}.{}", kind.extension());
        let size = bytes.len() as i64;
        tokio::task::spawn_blocking(move || store(&dir, &name, &bytes))
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ENOSPC) {
                    crate::db::disk_full::seen();
                    Error::StorageFull
                } else {
                    Error::Internal(e.into())
                }
            })?;
        let row = crate::db::media::MediaRow {
            sha256: sha,
            extension: kind.extension().into(),
            content_type: kind.content_type().into(),
            size,
        };
        let (actor, now) = (actor.clone(), self.clock.now());
        Ok(self
            .db
            .write(move |tx| {
                let stored = crate::db::media::record(tx, &row, uploader, now)?;
                let target = format!("media:{}", stored.sha256);
                actor.record(tx, "media.create", Some(&target), now)?;
                Ok(stored)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Ok(ImageKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok(ImageKind::Png));
        assert_eq!(sniff(b"GIF89a...."), Ok(ImageKind::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(ImageKind::Webp));
        assert_eq!(
            sniff(b"<html><script>alert(1)</script>"),
            Err(Refusal::NotAnImage)
        );
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
            Err(Refusal::NotAnImage)
        );
        assert_eq!(
            sniff(b"GIF89a/*<SCRIPT>alert(1)</script>*/"),
            Err(Refusal::ContainsMarkup)
        );
        assert_eq!(sniff(b""), Err(Refusal::NotAnImage));
    }

    #[test]
    fn only_names_we_make_are_names() {
        let hash = "a".repeat(64);
        assert!(parse_name(&format!("{hash}.png")).is_some());
        assert!(parse_name(&format!("{hash}.svg")).is_none());
        assert!(parse_name("../secrets.toml").is_none());
        assert!(parse_name(&format!("{}.png", "A".repeat(64))).is_none());
        assert!(parse_name(&format!("{hash}.png.png")).is_none());
    }
}
