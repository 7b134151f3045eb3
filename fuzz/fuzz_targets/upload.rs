//! Upload sniffing and served media names: a file is accepted only with the magic bytes of the
//! type it is stored as and no markup inside; a media name is exactly <64 hex>.<ext>.
#![no_main]

use blogd::content::media::{ImageKind, parse_name, sniff};
use libfuzzer_sys::fuzz_target;

fn magic_matches(kind: ImageKind, bytes: &[u8]) -> bool {
    match kind {
        ImageKind::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        ImageKind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        ImageKind::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        ImageKind::Webp => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(kind) = sniff(data) {
        assert!(magic_matches(kind, data), "{kind:?} accepted without its magic bytes");
        let lower = data.to_ascii_lowercase();
        for markup in [&b"<script"[..], b"<html", b"<svg", b"javascript:"] {
            assert!(!lower.windows(markup.len()).any(|w| w == markup));
        }
    }
    if let Ok(name) = std::str::from_utf8(data)
        && let Some((hash, _)) = parse_name(name)
    {
        assert_eq!(hash.len(), 64);
        assert!(!name.contains('/') && !name.contains(".."));
    }
});
