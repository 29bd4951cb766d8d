//! The contract's private key, parsed once and kept for every signature.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{KeyPair, RSA_PSS_SHA512, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// `base64url({"alg":"PS512","typ":"JWT"})`: the header of every JWT we sign.
pub(crate) const PS512_HEADER_B64: &str = "eyJhbGciOiJQUzUxMiIsInR5cCI6IkpXVCJ9";

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
const RSA_OID_DER: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// A parsed RSA private key. Parsing and validating an RSA key costs far more
/// than a signature, so it happens once, in `ContractDetails::new`.
pub(crate) struct SigningKey {
    pair: RsaKeyPair,
}

impl SigningKey {
    /// Parses a PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE
    /// KEY`) PEM. Errors name the field `private_key`. The DER bytes decoded
    /// from the PEM are wiped once parsed.
    pub(crate) fn from_pem(pem_text: &str) -> Result<Self> {
        let block = pem::parse(pem_text.trim()).map_err(|e| {
            Error::invalid_input("private_key", format!("not a PEM private key ({e})"))
        })?;
        let tag = block.tag().to_owned();
        Self::from_der(&tag, &mut block.into_contents())
    }

    /// Parses the DER of a PEM block tagged `tag`, then wipes `der`,
    /// whatever the outcome: no copy of the private key is left behind but
    /// the parsed key itself.
    fn from_der(tag: &str, der: &mut [u8]) -> Result<Self> {
        let parsed = Self::parse_der(tag, der);
        der.zeroize();
        parsed
    }

    fn parse_der(tag: &str, der: &[u8]) -> Result<Self> {
        const FIELD: &str = "private_key";
        let parsed = match tag {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(der),
            "PRIVATE KEY" => {
                if !contains(der, RSA_OID_DER) {
                    return Err(Error::invalid_input(
                        FIELD,
                        "the PKCS#8 key is not an RSA key (digi.me contracts use RSA)",
                    ));
                }
                RsaKeyPair::from_pkcs8(der)
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::invalid_input(FIELD, "the key is encrypted"));
            }
            other => {
                return Err(Error::invalid_input(
                    FIELD,
                    format!(
                        "a `{other}` PEM is not an RSA private key (expected `RSA PRIVATE KEY` or `PRIVATE KEY`)"
                    ),
                ));
            }
        };
        let pair = parsed.map_err(|e| {
            if e.description_() == "TooSmall" {
                Error::invalid_input(
                    FIELD,
                    format!("the RSA key is shorter than {MIN_RSA_BITS} bits"),
                )
            } else {
                Error::invalid_input(
                    FIELD,
                    format!("the RSA key was rejected ({})", e.description_()),
                )
            }
        })?;
        let bits = pair.public_modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(Error::invalid_input(
                FIELD,
                format!("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"),
            ));
        }
        Ok(Self { pair })
    }

    /// Builds a key from a freshly generated pair (the sandbox uses this).
    #[cfg(feature = "sandbox")]
    pub(crate) fn from_pair(pair: RsaKeyPair) -> Self {
        Self { pair }
    }

    /// The public key as an SPKI PEM (`BEGIN PUBLIC KEY`).
    pub(crate) fn public_key_pem(&self) -> String {
        let der: PublicKeyX509Der<'static> = match self.pair.public_key().as_der() {
            Ok(der) => der,
            // aws-lc only fails here on allocation failure.
            Err(_) => return String::new(),
        };
        pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec()))
    }

    /// Signs `payload_json` as a PS512 JWT: `HEADER.base64url(payload).sig`.
    pub(crate) fn sign_jwt(&self, payload_json: &[u8]) -> Result<String> {
        let sig_len = self.pair.public_modulus_len();
        let payload_len = base64::encoded_len(payload_json.len(), false).unwrap_or(0);
        let sig_b64_len = base64::encoded_len(sig_len, false).unwrap_or(0);
        let mut jwt = String::with_capacity(PS512_HEADER_B64.len() + 2 + payload_len + sig_b64_len);
        jwt.push_str(PS512_HEADER_B64);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(payload_json, &mut jwt);
        let mut sig = vec![0u8; sig_len];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PSS_SHA512, &rng, jwt.as_bytes(), &mut sig)
            .map_err(|_| Error::crypto("signing a JWT"))?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut jwt);
        Ok(jwt)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_der_bytes_are_wiped_after_parsing_or_failing() {
        let pem = pem::parse(include_str!("../../tests/it/support/keys/rsa2048.pem")).unwrap();
        let tag = pem.tag().to_owned();
        let mut der = pem.into_contents();
        assert!(der.iter().any(|&b| b != 0));
        SigningKey::from_der(&tag, &mut der).expect("the key parses");
        assert!(der.iter().all(|&b| b == 0), "wiped after parsing");

        let mut broken = vec![0x30, 0x03, 0x02, 0x01, 0x07];
        assert!(SigningKey::from_der("RSA PRIVATE KEY", &mut broken).is_err());
        assert!(broken.iter().all(|&b| b == 0), "wiped after a failure");
    }

    #[test]
    fn header_constant_is_the_ps512_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(br#"{"alg":"PS512","typ":"JWT"}"#),
            PS512_HEADER_B64
        );
    }
}
