//! A contract: its id and its RSA private key.

use std::fmt;
use std::sync::Arc;

use crate::error::Result;
use crate::signer::{DescriptorCache, SigningKey};

/// A digi.me contract: the contract id and the contract's RSA private key.
///
/// The PEM (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`) is
/// parsed and checked once, here: a malformed PEM, a key that is not RSA, or
/// an RSA key under 2048 bits is an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// naming the field `private_key`. Every request then reuses the parsed key.
///
/// Cloning is cheap (an `Arc`). `Debug` never shows the key.
///
/// ```standalone_crate
/// # fn main() -> digime::Result<()> {
/// # let pem = include_str!("../tests/it/support/keys/rsa2048.pem"); // a throwaway test key
/// let contract = digime::ContractDetails::new("my-contract-id", pem)?;
/// assert_eq!(contract.contract_id(), "my-contract-id");
/// assert!(!format!("{contract:?}").contains("PRIVATE KEY"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ContractDetails {
    inner: Arc<ContractInner>,
}

struct ContractInner {
    contract_id: String,
    key: SigningKey,
    descriptors: DescriptorCache,
}

impl ContractDetails {
    /// Parses the private key and keeps it with the contract id.
    ///
    /// `private_key_pem` may be a `String` or a `&str`: an RSA key of at
    /// least 2048 bits, as `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY`
    /// (PKCS#8), not encrypted (decrypt an `ENCRYPTED PRIVATE KEY` first).
    ///
    /// ```
    /// let err = digime::ContractDetails::new("my-contract-id", "-----BEGIN NONSENSE").unwrap_err();
    /// assert_eq!(err.field(), Some("private_key"));
    /// ```
    pub fn new(contract_id: impl Into<String>, private_key_pem: impl AsRef<str>) -> Result<Self> {
        let contract_id = contract_id.into();
        crate::validate::identifier("contract_id", &contract_id)?;
        let key = SigningKey::from_pem(private_key_pem.as_ref())?;
        Ok(Self::from_parts(contract_id, key))
    }

    pub(crate) fn from_parts(contract_id: String, key: SigningKey) -> Self {
        Self {
            inner: Arc::new(ContractInner {
                contract_id,
                key,
                descriptors: DescriptorCache::default(),
            }),
        }
    }

    /// The contract id.
    ///
    /// ```standalone_crate
    /// # let contract = digime::ContractDetails::new("c-1", include_str!("../tests/it/support/keys/rsa2048.pem")).unwrap();
    /// assert_eq!(contract.contract_id(), "c-1");
    /// ```
    pub fn contract_id(&self) -> &str {
        &self.inner.contract_id
    }

    /// The contract's public key as an SPKI PEM (`BEGIN PUBLIC KEY`): what a
    /// server (or the sandbox) verifies this contract's signatures with.
    ///
    /// ```standalone_crate
    /// # let contract = digime::ContractDetails::new("c-1", include_str!("../tests/it/support/keys/rsa2048.pem")).unwrap();
    /// assert!(contract.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
    /// ```
    pub fn public_key_pem(&self) -> String {
        self.inner.key.public_key_pem()
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The signed `FileDescriptor` header for `descriptor` (reused when this
    /// contract signed the same descriptor before).
    pub(crate) fn descriptor_header(
        &self,
        descriptor: &crate::descriptor::FileDescriptor,
    ) -> Result<reqwest::header::HeaderValue> {
        self.inner.descriptors.header(&self.inner.key, descriptor)
    }
}

impl fmt::Debug for ContractDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractDetails")
            .field("contract_id", &self.inner.contract_id)
            .field("private_key", &"[redacted]")
            .finish()
    }
}
