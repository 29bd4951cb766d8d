//! The request signer: every JWT this SDK sends is made here.
//!
//! - [`key`]: the contract's RSA private key, parsed once and kept.
//! - [`nonce`]: the 32-character CSPRNG nonce and the millisecond timestamp.
//! - [`claims`]: the Bearer JWT claims and the FileDescriptor JWT.
//! - [`descriptor_cache`]: signed FileDescriptor JWTs, reused per contract.
//!
//! A JWT is `HEADER.PAYLOAD.SIGNATURE`. The header is always
//! `{"alg":"PS512","typ":"JWT"}`, so it is encoded once, at compile time.

pub(crate) mod claims;
pub(crate) mod descriptor_cache;
pub(crate) mod key;
pub(crate) mod nonce;

#[cfg(feature = "__bench")]
pub(crate) use claims::sign_file_descriptor;
pub(crate) use claims::{BearerClaims, NoClaims};
pub(crate) use descriptor_cache::DescriptorCache;
pub(crate) use key::SigningKey;
