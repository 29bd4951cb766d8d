//! PKCE (RFC 7636, S256): the code verifier and its challenge.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;

use super::oauth::PkceCodeVerifier;
use crate::error::Result;
use crate::signer::nonce::nonce;

/// A new code verifier: base64url of 32 random `[A-Za-z0-9]` characters,
/// as the official SDK makes it.
pub(crate) fn code_verifier() -> Result<PkceCodeVerifier> {
    Ok(PkceCodeVerifier::new(URL_SAFE_NO_PAD.encode(nonce()?)))
}

/// `base64url(SHA-256(verifier))`, without padding.
pub(crate) fn code_challenge(verifier: &PkceCodeVerifier) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.expose_secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            code_challenge(&v),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_fresh_and_url_safe() {
        let a = code_verifier().unwrap();
        let b = code_verifier().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(
            a.expose_secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
