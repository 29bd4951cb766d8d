//! Small helpers: time, random ids, hex, PEM.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// `n` random characters from `[A-Za-z0-9]` (CSPRNG, no modulo bias), as
/// the SDK draws its nonces.
pub(crate) fn random_alnum(n: usize) -> String {
    // aws-lc aborts rather than fail to draw; should it ever fail, the
    // sandbox still needs unique ids.
    crate::signer::nonce::random_alnum(n).unwrap_or_else(|_| format!("{:0>n$x}", now_ms()))
}

pub(crate) use crate::hex::{hex, sha256_hex};

/// A PEM block with `\n` line endings.
pub(crate) fn pem_lf(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// `text` made safe for an HTTP header value: printable ASCII only.
pub(crate) fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// Minimal HTML escaping.
pub(crate) fn html_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '&' => s.push_str("&amp;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// A fresh RSA-2048 private key as a PKCS#8 PEM (`BEGIN PRIVATE KEY`), for
/// tests, examples and tools.
///
/// ```
/// let pem = digime::sandbox::generate_private_key_pem().unwrap();
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// let contract = digime::ContractDetails::new("c-1", &pem).unwrap();
/// # let _ = contract;
/// ```
pub fn generate_private_key_pem() -> Result<String> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| Error::crypto("generating an RSA key"))?;
    let der: Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| Error::crypto("encoding the generated key"))?;
    Ok(pem_lf("PRIVATE KEY", der.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_alnum_has_the_length_and_alphabet() {
        let s = random_alnum(32);
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
