//! # digime
//!
//! The Rust SDK for the digi.me write path: push files and FHIR records into
//! a user's digi.me library, with everything around the push (authorization
//! with PKCE, token exchange and refresh, accounts, contract details, delete
//! user, the account lifecycle), token stores for fleets of processes, and a
//! faithful local sandbox of the API for tests.
//!
//! ## The shape of the API
//!
//! A [`DigiMe`] is built once and shared; a [`ContractDetails`] holds the
//! write contract's key, parsed once; a [`UserAccessToken`] is what a user's
//! consent gives you, stored in the official TypeScript SDK's JSON format.
//! Every call takes the contract and the user's token, and its outcome
//! carries the token to store, refreshed when it had to be:
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
//! let stored_json = serde_json::to_string(outcome.user_access_token())?;
//! # let _ = stored_json; Ok(()) }
//! ```
//!
//! A service that pushes for many users opens a [`UserSession`] per user
//! instead: it holds the token, and shares it (and its refreshes) with
//! every call, task and process that pushes for the same user.
//!
//! The crate root holds what a first program names: the client
//! ([`DigiMe`], [`DigiMeBuilder`]), what every call takes
//! ([`ContractDetails`], [`UserAccessToken`] and its [`Token`]s,
//! [`UserSession`]), what a push is made of ([`FileDescriptor`],
//! [`Account`], [`Standard`], [`FhirVersion`]), what calls return
//! ([`PushOutcome`], [`Outcome`]) and the errors. Everything else lives in
//! the module of its subject: the consent flows and their callbacks in
//! [`consent`], digi.me's answers in [`models`], the push builders in
//! [`push`], the other calls' outcomes in [`calls`], builders' type states
//! in each builder's `state` module.
//!
//! | you want | look at | guide |
//! | --- | --- | --- |
//! | the entry point and its settings | [`DigiMe`], [`DigiMeBuilder`] | [reliability](guide::reliability) (retries, timeouts) |
//! | a push | [`push`]: [`push::PushBuilder`], [`push::LibraryPush`], [`push::ProviderPush`], [`push::FileData`] | [pushing data](guide::push_data) |
//! | many files in one resumable run that never stores a file twice | [`bulk`]: [`bulk::Journal`], [`bulk::FileIdentity`], [`bulk::Status`] | [the CLI](guide::cli) (backfilling a library) |
//! | the consent flow and the account lifecycle | [`consent`]: [`consent::AuthorizeBuilder`], [`consent::AuthorizeCallback`], [`consent::AccountCallback`], [`DigiMe::exchange_code_for_token`], [`DigiMe::reauthorize`] | [authorization](guide::authorization) |
//! | accounts, contract details, delete user | [`DigiMe::read_accounts`], [`DigiMe::contract_info`], [`DigiMe::delete_user`], [`models`] | |
//! | errors | [`Error`], [`ErrorKind`], [`ServerError`] | [reliability](guide::reliability) |
//! | tokens and keys | [`UserAccessToken`], [`ContractDetails`] (what you supply; [`models::ContractInfo`] is what digi.me answers about it) | [authorization](guide::authorization) (what to store) |
//! | tokens shared by many calls, processes or hosts | [`UserSession`], [`store`]: [`store::TokenStore`], [`DigiMe::session_from_store`] | [scaling out](guide::scaling) |
//! | a local digi.me for tests (feature `sandbox`) | `sandbox` | `guide::sandbox` |
//! | the `digime` command-line tool (feature `cli`) | | [the CLI](guide::cli) |
//! | a web app that streams browser uploads | | [a web app](guide::web) |
//! | what a push costs | | [performance](guide::performance) |
//!
//! ## Compile-time checks
//!
//! The builders of a push, of the consent flows and of a file descriptor
//! are type states: `send()` (or `build()`) only exists once every required
//! part is set, in any order, and setting a part twice does not compile
//! either. A library push needs `.file(..)` and `.descriptor(..)`; a
//! provider push `.standard(..)`, `.version(..)`, `.account_id(..)` and
//! `.data(..)`; a descriptor `.mime_type(..)` and `.accounts(..)`;
//! authorize and reauthorize `.callback(..)` and `.state(..)`; onboarding
//! `.callback(..)`; an account's reauthorization `.callback(..)` and
//! `.account_id(..)`. A push needs its mode (`.library()` or `.provider()`)
//! before anything else, a library push has no `.account_id(..)`, and a
//! provider push no `.file(..)`. The compiler says what is missing:
//!
//! ```compile_fail,E0277
//! # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
//! // error[E0277]: the file descriptor is missing: call `.descriptor(..)` before `.send()`
//! sdk.push(&c, &t).library().file(b"x".to_vec(), "x.txt").send().await;
//! # }
//! ```
//!
//! The markers and their sealed traits are in [`push::state`],
//! [`consent::state`] and [`descriptor::state`], each named for its builder.
//!
//! ## Tokens and errors
//!
//! A call made for a user refreshes the token when digi.me says it expired,
//! verifies the new one against digi.me's key set, and returns it in its
//! outcome. A refresh token works once, so the SDK spends each one once,
//! across concurrent calls and, through a [`store::TokenStore`], across
//! processes: see [scaling out](guide::scaling).
//!
//! Errors are one type, [`Error`]: match on [`Error::kind`]. A server error
//! keeps digi.me's code, message, reference and HTTP status; bad input names
//! the field and is refused before anything is sent; a push that failed in a
//! way that does not tell whether digi.me stored it says so
//! ([`Error::may_have_been_stored`], and the [reliability](guide::reliability)
//! guide); a user who must consent again is
//! [`ErrorKind::ReauthorizationRequired`].
//!
//! ## Features
//!
//! Every feature is off by default, and each only adds. TLS is rustls
//! (no OpenSSL) in every build.
//!
//! - `sandbox`: `digime::sandbox`, the local digi.me API, for your tests (a
//!   dev-dependency). It brings the server only (axum, hyper), no
//!   command-line parsing. Not for production.
//! - `sandbox-bin`: the `digime-sandbox` binary, the sandbox as a program
//!   (`cargo install digime --features sandbox-bin --bin digime-sandbox`).
//! - `postgres`: [`store::PostgresTokenStore`](crate::store), the token
//!   store for fleets of processes on PostgreSQL (tokio-postgres, deadpool).
//! - `cli`: the `digime` command-line tool (`cargo install digime --features cli`);
//!   see [the CLI guide](guide::cli).
//!
//! ## Secrets
//!
//! Token values, the authorization code and the PKCE code verifier are kept
//! in [`secrecy`] types.
//! The contract's private key is parsed once into aws-lc's key object, which
//! has no `Debug`, is never printed, and is wiped by aws-lc when dropped; the
//! PEM text is not kept. `Debug` on every public type redacts secrets, and no
//! error or log line contains them (a test captures every trace line of a
//! full flow to check). `Serialize` on [`UserAccessToken`] writes the real
//! values, because that is the storage format.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bulk;
pub mod calls;
mod client;
pub mod consent;
mod contract;
pub mod descriptor;
pub mod error;
pub mod guide;
mod hex;
mod media_type;
pub mod models;
pub mod push;
mod signer;
pub mod store;
mod sync;
mod time;
mod token;
mod tokens;
mod transport;
mod typestate;
mod validate;

#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;

pub use calls::Outcome;
pub use client::{DEFAULT_BASE_URL, DigiMe, DigiMeBuilder, UserSession};
pub use contract::ContractDetails;
pub use descriptor::{Account, FileDescriptor};
pub use error::{Error, ErrorKind, Result, ServerError};
pub use push::{FhirVersion, PushOutcome, Standard};
pub use token::{Token, UserAccessToken};

/// Re-exported so that token values can be read with
/// [`ExposeSecret`](secrecy::ExposeSecret) without another dependency.
pub use secrecy;

/// Hooks for the perf tooling (`perf/` in the repository: the signing benchmark and `curl_headers`),
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

/// The README's example, compiled and run as a doctest. The README is the
/// page of GitHub and crates.io; this crate's own front page is the one
/// above. Its program runs against the sandbox, hence the feature.
#[cfg(all(doctest, feature = "sandbox"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
