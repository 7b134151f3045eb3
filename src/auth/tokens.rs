//! Access tokens (JWT, HS256, `kid` in the header) and opaque refresh tokens.

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;
use super::keys::KeyRing;
use crate::error::ApiError;

/// `iss` of every access token.
pub const ISSUER: &str = "blogd";
/// `aud` of every access token.
pub const AUDIENCE: &str = "blogd-api";
/// The one algorithm accepted. Anything else in a token header (`none`, RS256 with our
/// secret as a "public key", …) is refused before any signature check.
pub const ALGORITHM: Algorithm = Algorithm::HS256;
pub use super::keys::LEEWAY_SECS;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    /// Unique token id, for revoking one token.
    pub jti: String,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
    /// Whether the session was opened with a second factor (TOTP or a recovery code).
    #[serde(default)]
    pub mfa: bool,
}

impl Claims {
    pub fn new(user_id: i64, role: Role, sid: &str, now: i64, ttl_secs: i64) -> Claims {
        Claims {
            sub: user_id.to_string(),
            role,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: sid.to_string(),
            exp: now + ttl_secs,
            iat: now,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            mfa: false,
        }
    }
}

/// `aud` of the short-lived token that carries a sign-in from its password step to its TOTP
/// step. It can never be used as an access token (different audience).
pub const MFA_AUDIENCE: &str = "blogd-mfa";
/// How long the second step may take.
pub const MFA_TTL_SECS: i64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaClaims {
    pub sub: String,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
}

pub fn sign_mfa(ring: &KeyRing, user_id: i64, now: i64) -> Result<String, ApiError> {
    let claims = MfaClaims {
        sub: user_id.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        exp: now + MFA_TTL_SECS,
        iat: now,
        iss: ISSUER.into(),
        aud: MFA_AUDIENCE.into(),
    };
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(ring.current_kid().to_string());
    encode(&header, &claims, ring.encoding_key()).map_err(ApiError::internal)
}

/// What a valid MFA token says: whose sign-in it continues, and its id and expiry (it is
/// spent by the sign-in it completes: one token, one session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaTicket {
    pub user_id: i64,
    pub jti: String,
    pub expires_at: i64,
}

/// Verifies an MFA token.
pub fn verify_mfa(ring: &KeyRing, token: &str, now: i64) -> Result<MfaTicket, ApiError> {
    let claims: MfaClaims = decode_checked(ring, token, now, MFA_AUDIENCE)?;
    if claims.exp + LEEWAY_SECS < now {
        return Err(ApiError::TokenExpired);
    }
    Ok(MfaTicket {
        user_id: claims.sub.parse().map_err(|_| ApiError::TokenInvalid)?,
        jti: claims.jti,
        expires_at: claims.exp + LEEWAY_SECS,
    })
}

fn decode_checked<T: serde::de::DeserializeOwned>(
    ring: &KeyRing,
    token: &str,
    now: i64,
    audience: &str,
) -> Result<T, ApiError> {
    let header = decode_header(token).map_err(|_| ApiError::TokenInvalid)?;
    if header.alg != ALGORITHM {
        return Err(ApiError::TokenInvalid);
    }
    let kid = header.kid.ok_or(ApiError::TokenInvalid)?;
    let key = ring.decoding_key(&kid, now).ok_or(ApiError::TokenInvalid)?;
    let mut validation = Validation::new(ALGORITHM);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // Expiry is checked by the caller against the injectable server clock.
    validation.validate_exp = false;
    decode::<T>(token, key, &validation)
        .map(|d| d.claims)
        .map_err(|_| ApiError::TokenInvalid)
}

/// Signs claims with the ring's current key.
pub fn sign(ring: &KeyRing, claims: &Claims) -> Result<String, ApiError> {
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(ring.current_kid().to_string());
    encode(&header, claims, ring.encoding_key()).map_err(ApiError::internal)
}

/// Verifies a token: algorithm, `kid`, signature, `iss`, `aud`, then expiry against `now`
/// (the server's clock, so tests can move it).
pub fn verify(ring: &KeyRing, token: &str, now: i64) -> Result<Claims, ApiError> {
    let claims: Claims = decode_checked(ring, token, now, AUDIENCE)?;
    if claims.exp + LEEWAY_SECS < now {
        return Err(ApiError::TokenExpired);
    }
    if claims.iat - LEEWAY_SECS > now {
        return Err(ApiError::TokenInvalid);
    }
    Ok(claims)
}

/// A new opaque refresh token: 256 random bits, hex.
pub fn new_refresh_token() -> String {
    crate::secrets::random_hex(32)
}

/// What the database keeps of a refresh token: its SHA-256, never the token.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::JwtKey;

    fn ring(kid: &str, secret: &str) -> KeyRing {
        KeyRing::new(
            &[JwtKey {
                kid: kid.into(),
                secret: secret.into(),
                created_at: 0,
            }],
            930,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_expiry() {
        let r = ring("k1", &"a".repeat(64));
        let claims = Claims::new(7, Role::Author, "s1", 1000, 900);
        let token = sign(&r, &claims).unwrap();
        let back = verify(&r, &token, 1100).unwrap();
        assert_eq!(back.sub, "7");
        assert_eq!(back.role, Role::Author);
        assert!(matches!(
            verify(&r, &token, 1000 + 900 + LEEWAY_SECS + 1),
            Err(ApiError::TokenExpired)
        ));
    }

    #[test]
    fn other_key_or_unknown_kid_is_invalid() {
        let r1 = ring("k1", &"a".repeat(64));
        let r2 = ring("k1", &"b".repeat(64));
        let r3 = ring("k2", &"a".repeat(64));
        let token = sign(&r1, &Claims::new(1, Role::Admin, "s", 1000, 900)).unwrap();
        assert!(matches!(
            verify(&r2, &token, 1000),
            Err(ApiError::TokenInvalid)
        ));
        assert!(matches!(
            verify(&r3, &token, 1000),
            Err(ApiError::TokenInvalid)
        ));
    }

    #[test]
    fn retired_keys_verify_until_their_tokens_expire() {
        let old = JwtKey {
            kid: "old".into(),
            secret: "a".repeat(64),
            created_at: 0,
        };
        let new = JwtKey {
            kid: "new".into(),
            secret: "b".repeat(64),
            created_at: 5000,
        };
        let before = KeyRing::new(std::slice::from_ref(&old), 930).unwrap();
        let token = sign(&before, &Claims::new(1, Role::Reader, "s", 4990, 900)).unwrap();
        let after = KeyRing::new(&[old, new], 930).unwrap();
        assert_eq!(after.current_kid(), "new");
        assert!(
            verify(&after, &token, 5100).is_ok(),
            "rotation signs nobody out"
        );
        assert!(after.decoding_key("old", 5930).is_some());
        assert!(
            after.decoding_key("old", 5931).is_none(),
            "then the old key is dropped"
        );
    }

    #[test]
    fn mfa_tokens_are_not_access_tokens() {
        let r = ring("k1", &"a".repeat(64));
        let mfa = sign_mfa(&r, 3, 1000).unwrap();
        assert_eq!(verify_mfa(&r, &mfa, 1100).unwrap().user_id, 3);
        assert!(matches!(
            verify(&r, &mfa, 1100),
            Err(ApiError::TokenInvalid)
        ));
        let access = sign(&r, &Claims::new(3, Role::Admin, "s", 1000, 900)).unwrap();
        assert!(matches!(
            verify_mfa(&r, &access, 1100),
            Err(ApiError::TokenInvalid)
        ));
        assert!(matches!(
            verify_mfa(&r, &mfa, 1000 + MFA_TTL_SECS + LEEWAY_SECS + 1),
            Err(ApiError::TokenExpired)
        ));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_refresh_token());
        assert_ne!(refresh_token_hash(&a), a);
        assert_eq!(refresh_token_hash(&a), refresh_token_hash(&a));
    }
}
