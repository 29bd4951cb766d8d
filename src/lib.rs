//! # digime
//!
//! A Rust SDK for the digi.me write path: push files and FHIR records into a
//! user's digi.me library, with everything around it (authorization with
//! PKCE, token exchange and refresh, read accounts, contract info, delete
//! user, and the account lifecycle: reauthorize, onboard a service,
//! reauthorize, revoke or delete an account), and a faithful local sandbox
//! of the API for tests.
//!
//! ## Install
//!
//! ```toml
//! [dependencies]
//! digime = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//!
//! [dev-dependencies]
//! digime = { version = "0.1", features = ["sandbox"] }   # the local digi.me API for your tests
//! ```
//!
//! TLS is rustls (no OpenSSL). The minimum Rust version is 1.89.
//!
//! ## A push
//!
//! ```no_run
//! use digime::{Account, ContractDetails, DigiMe, FileDescriptor, UserAccessToken};
//!
//! # async fn run(pem: &str, stored_json: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let sdk = DigiMe::builder().application_id("my-application-id").build()?;
//! let contract = ContractDetails::new("my-contract-id", pem)?;
//! let token: UserAccessToken = serde_json::from_str(stored_json)?;
//!
//! let outcome = sdk
//!     .push(&contract, &token)
//!     .library()
//!     .file(b"%PDF-1.7".to_vec(), "report.pdf")
//!     .descriptor(
//!         FileDescriptor::builder()
//!             .mime_type("application/pdf")
//!             .accounts(vec![Account::new("account-in-my-system")])
//!             .build(),
//!     )
//!     .send()
//!     .await?;
//! // Store it: it is the refreshed token when the SDK had to refresh.
//! let stored_json = serde_json::to_string(outcome.user_access_token())?;
//! # let _ = stored_json; Ok(()) }
//! ```
//!
//! ## Where things are
//!
//! | you want | look at |
//! | --- | --- |
//! | the entry point and its settings | [`DigiMe`], [`DigiMeBuilder`] |
//! | a push, and its compile-time rules | [`push`]: [`push::PushBuilder`], [`push::LibraryPush`], [`push::ProviderPush`], [`push::state`] |
//! | the consent flow | [`auth`]: [`auth::AuthorizeBuilder`], [`auth::state`], [`AuthorizeCallback`], [`DigiMe::exchange_code_for_token`] |
//! | accounts, contract info, delete user | [`DigiMe::read_accounts`], [`DigiMe::contract_info`], [`DigiMe::delete_user`], [`models`] |
//! | errors | [`Error`], [`ErrorKind`], [`ServerError`] |
//! | tokens and keys | [`UserAccessToken`], [`ContractDetails`] (what you supply; [`ContractInfo`] is what digi.me answers about it) |
//! | tokens shared by many calls, processes or hosts | [`UserSession`], [`store`]: [`store::TokenStore`], [`DigiMe::session_from_store`] |
//! | a local digi.me for tests (feature `sandbox`) | `sandbox` |
//! | how-to guides: pushing, authorization, reliability, the sandbox, the CLI, a web app that streams uploads | [`guide`] |
//!
//! ## Type states
//!
//! A push that forgets a required field does not compile, and the compiler
//! says what is missing:
//!
//! ```compile_fail,E0277
//! # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
//! // error[E0277]: the file descriptor is missing: call `.descriptor(..)` before `.send()`
//! sdk.push(&c, &t).library().file(b"x".to_vec(), "x.txt").send().await;
//! # }
//! ```
//!
//! ## Tokens refresh themselves, once
//!
//! When digi.me answers a call made for a user with `401 InvalidToken` (or
//! the access token is about to expire), the SDK refreshes the token
//! (verifying the new one against digi.me's key set), calls your
//! `on_access_token_change` hook, and repeats the call with a new signature.
//! The outcome carries the token to store.
//!
//! A refresh token works once, so the SDK spends each one once: concurrent
//! calls holding the same token share one refresh, a later call with a stale
//! copy gets the token it was rotated to, and processes that share users
//! share their tokens through a [`store::TokenStore`], under a lease. See the
//! [scaling guide](guide::scaling). A refresh token that is spent or expired
//! is [`ErrorKind::ReauthorizationRequired`]: send the user through
//! [`DigiMe::reauthorize`], which keeps their user id and library.
//!
//! ## Features
//!
//! Every feature is off by default, and each only adds.
//!
//! - `sandbox`: `digime::sandbox`, the local digi.me API, for your tests (a
//!   dev-dependency). It brings the server only (axum, hyper), no
//!   command-line parsing. Not for production.
//! - `sandbox-bin`: the `digime-sandbox` binary, the sandbox as a program
//!   (`cargo install digime --features sandbox-bin --bin digime-sandbox`).
//! - `postgres`: [`store::PostgresTokenStore`](crate::store), the token
//!   store for fleets of processes on PostgreSQL (tokio-postgres, deadpool).
//! - `cli`: the `digime` command-line tool (`cargo install digime --features cli`);
//!   see the [CLI guide](guide::cli).
//!
//! ## Secrets
//!
//! Token values and the PKCE code verifier are kept in [`secrecy`] types.
//! The contract's private key is parsed once into aws-lc's key object, which
//! has no `Debug`, is never printed, and is wiped by aws-lc when dropped; the
//! PEM text is not kept. `Debug` on every public type redacts secrets, and no
//! error or log line contains them (a test captures every trace line of a
//! full flow to check). `Serialize` on [`UserAccessToken`] writes the real
//! values, because that is the storage format.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod calls;
mod client;
mod contract;
mod descriptor;
pub mod error;
pub mod guide;
mod media_type;
pub mod models;
pub mod push;
mod signer;
pub mod store;
mod token;
mod tokens;
mod transport;
mod typestate;
mod validate;

#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;

pub use auth::{AuthorizeCallback, SourceType, UserSession};
pub use client::{DEFAULT_BASE_URL, DigiMe, DigiMeBuilder};
pub use contract::ContractDetails;
pub use descriptor::{Account, FileDescriptor, FileDescriptorBuilder};
pub use error::{Error, ErrorKind, Result, ServerError};
pub use models::{ContractInfo, ServiceAccount};
pub use push::{FhirVersion, PushOutcome, Standard};
pub use token::{Token, UserAccessToken};

/// Re-exported so that token values can be read with
/// [`ExposeSecret`](secrecy::ExposeSecret) without another dependency.
pub use secrecy;

/// Hooks for `benches/signing.rs` and the perf tooling in `examples/curl_headers.rs`,
/// behind the internal feature `__bench`: not part of the API, no stability promise.
#[cfg(feature = "__bench")]
#[doc(hidden)]
pub mod __bench {
    use crate::signer::{BearerClaims, NoClaims, sign_file_descriptor};
    use crate::{ContractDetails, FileDescriptor, Result, UserAccessToken};

    /// Signs one Bearer JWT as a push does.
    pub fn sign_bearer(
        client_id: &str,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> Result<String> {
        BearerClaims::sign(
            contract.key(),
            client_id,
            Some(token.access_token().value()),
            &NoClaims {},
        )
    }

    /// Signs one FileDescriptor JWT as a library push does.
    pub fn sign_descriptor(
        contract: &ContractDetails,
        descriptor: &FileDescriptor,
    ) -> Result<String> {
        sign_file_descriptor(contract.key(), descriptor)
    }
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
