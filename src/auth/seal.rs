//! Encryption at rest for secrets blogd must be able to read back (TOTP secrets):
//! ChaCha20-Poly1305 with a random nonce, keyed from the secrets file. A stolen database
//! without the secrets file does not give away anyone's second factor.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    /// From a 256-bit key written as 64 hex characters.
    pub fn from_hex(key_hex: &str) -> anyhow::Result<Sealer> {
        let key = hex::decode(key_hex).map_err(|_| anyhow::anyhow!("the TOTP key is not hex"))?;
        let cipher = ChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| anyhow::anyhow!("the TOTP key must be 32 bytes"))?;
        Ok(Sealer { cipher })
    }

    /// `hex(nonce ‖ ciphertext)`.
    pub fn seal(&self, plain: &[u8]) -> String {
        let nonce_bytes: [u8; 12] = hex::decode(crate::secrets::random_hex(12))
            .expect("hex")
            .try_into()
            .expect("12 bytes");
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce_bytes), plain)
            .expect("encryption does not fail");
        hex::encode([nonce_bytes.as_slice(), &sealed].concat())
    }

    pub fn open(&self, sealed_hex: &str) -> Option<Vec<u8>> {
        let bytes = hex::decode(sealed_hex).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher.decrypt(&Nonce::from(nonce), ciphertext).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let sealer = Sealer::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = sealer.seal(b"totp secret");
        assert!(!sealed.contains(&hex::encode(b"totp secret")));
        assert_eq!(sealer.open(&sealed).unwrap(), b"totp secret");
        let mut tampered = sealed.clone();
        tampered.replace_range(30..32, if &sealed[30..32] == "00" { "11" } else { "00" });
        assert!(sealer.open(&tampered).is_none());
        let other = Sealer::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_none());
    }
}
