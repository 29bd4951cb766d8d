//! Nonces and timestamps for the Bearer JWT.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length the server requires.
pub(crate) const NONCE_LEN: usize = 32;

/// 32 characters from `[A-Za-z0-9]`, drawn from the operating system's
/// CSPRNG by rejection sampling (no modulo bias).
pub(crate) fn nonce() -> Result<String> {
    random_alnum(NONCE_LEN)
}

/// `len` characters from `[A-Za-z0-9]`, drawn from the CSPRNG by rejection
/// sampling (no modulo bias).
pub(crate) fn random_alnum(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 48];
    while out.len() < len {
        aws_lc_rs::rand::fill(&mut buf)
            .map_err(|_| Error::crypto("drawing random bytes from the system CSPRNG"))?;
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the draw.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn timestamp_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nonces_are_32_alphanumerics_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let n = nonce().unwrap();
            assert_eq!(n.len(), 32);
            assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()), "{n}");
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn timestamp_is_in_milliseconds() {
        // 2020-01-01 in ms; a seconds value would be a thousand times smaller.
        assert!(timestamp_ms() > 1_577_836_800_000);
    }
}
