//! The claims of the JWTs this SDK signs.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::key::SigningKey;
use super::nonce::{nonce, timestamp_ms};
use crate::descriptor::FileDescriptor;
use crate::error::{Error, Result};

/// The claims of every Bearer JWT: `client_id`, a fresh `nonce`, a
/// millisecond `timestamp`, the user's `access_token` on calls made for a
/// user, and the endpoint's own claims flattened beside them.
#[derive(Serialize)]
pub(crate) struct BearerClaims<'a, E: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    client_id: &'a str,
    nonce: String,
    timestamp: u64,
    #[serde(flatten)]
    extra: &'a E,
}

/// Claims for an endpoint that needs none beyond the common ones.
#[derive(Serialize)]
pub(crate) struct NoClaims {}

impl<'a, E: Serialize> BearerClaims<'a, E> {
    /// Signs a new Bearer JWT with a new nonce and timestamp. Call it once per
    /// attempt: the server rejects a nonce it has seen.
    pub(crate) fn sign(
        key: &SigningKey,
        client_id: &'a str,
        access_token: Option<&'a SecretString>,
        extra: &'a E,
    ) -> Result<String> {
        let claims = BearerClaims {
            access_token: access_token.map(|t| t.expose_secret()),
            client_id,
            nonce: nonce()?,
            timestamp: timestamp_ms(),
            extra,
        };
        let json = serde_json::to_vec(&claims)
            .map_err(|e| Error::invalid_input("claims", format!("cannot be encoded ({e})")))?;
        key.sign_jwt(&json)
    }
}

/// The `FileDescriptor` header: a JWT whose payload is `{"metadata": …}` and
/// nothing else. (A push signs through the descriptor cache; the benchmark
/// signs directly.)
#[cfg(feature = "__bench")]
pub(crate) fn sign_file_descriptor(
    key: &SigningKey,
    descriptor: &FileDescriptor,
) -> Result<String> {
    key.sign_jwt(&descriptor_payload(descriptor)?)
}

/// The JSON payload of the `FileDescriptor` JWT.
pub(crate) fn descriptor_payload(descriptor: &FileDescriptor) -> Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Payload<'a> {
        metadata: &'a FileDescriptor,
    }
    serde_json::to_vec(&Payload {
        metadata: descriptor,
    })
    .map_err(|e| Error::invalid_input("descriptor", format!("cannot be encoded ({e})")))
}
