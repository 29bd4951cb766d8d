//! Signed `FileDescriptor` JWTs, kept per contract and reused.
//!
//! Unlike the Bearer JWT, the FileDescriptor JWT carries no nonce and no
//! timestamp: its payload is `{"metadata": …}` alone, so a JWT signed once
//! is exactly as valid for the next push with the same descriptor. Bulk
//! pushes (the same MIME type and accounts, many files) then cost one
//! signature each instead of two.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use reqwest::header::HeaderValue;

use super::claims::descriptor_payload;
use super::key::SigningKey;
use crate::descriptor::FileDescriptor;
use crate::error::{Error, Result};

/// How many distinct descriptors one contract keeps signed.
const CAPACITY: usize = 256;

/// The cache: descriptor payload → signed header value.
#[derive(Default)]
pub(crate) struct DescriptorCache {
    entries: Mutex<HashMap<Vec<u8>, HeaderValue>>,
}

impl DescriptorCache {
    /// The `FileDescriptor` header for `descriptor`, signed now or earlier.
    pub(crate) fn header(
        &self,
        key: &SigningKey,
        descriptor: &FileDescriptor,
    ) -> Result<HeaderValue> {
        let payload = descriptor_payload(descriptor)?;
        if let Some(hit) = self.entries().get(&payload).cloned() {
            return Ok(hit);
        }
        let jwt = key.sign_jwt(&payload)?;
        let header =
            HeaderValue::try_from(jwt).map_err(|e| Error::invalid_input("descriptor", e))?;
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(payload, header.clone());
        Ok(header)
    }

    /// The entries, also after a panic elsewhere poisoned the lock (each
    /// entry is written whole, so the map is always usable).
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, HeaderValue>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::Account;

    #[test]
    fn the_same_descriptor_is_signed_once_and_another_gets_its_own() {
        let key =
            SigningKey::from_pem(include_str!("../../tests/it/support/keys/rsa2048.pem")).unwrap();
        let cache = DescriptorCache::default();
        let a = FileDescriptor::builder()
            .mime_type("a/b")
            .accounts(vec![Account::new("1")])
            .build();
        let b = FileDescriptor::builder()
            .mime_type("a/c")
            .accounts(vec![Account::new("1")])
            .build();
        let first = cache.header(&key, &a).unwrap();
        assert_eq!(cache.header(&key, &a).unwrap(), first, "reused");
        assert_ne!(
            cache.header(&key, &b).unwrap(),
            first,
            "a different payload"
        );
    }
}
