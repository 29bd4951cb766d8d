//! Fixtures for the examples in this crate's documentation.
//!
//! **Not for production.** The key below is public: it is published with the
//! crate so that doctests can build a [`ContractDetails`](crate::ContractDetails)
//! without a real contract. Never register it with digi.me.

/// A throwaway 2048-bit RSA private key (PKCS#1 PEM) for examples and tests.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("test_key.pem");
