//! The consent flows: authorize, reauthorize, onboard, an account's reauthorization, and the code exchange that ends them.
//!
//! The consent flows, each a builder whose required inputs are checked at
//! compile time (its type states are in [`state`]):
//!
//! - [`AuthorizeBuilder`] (`authorize/`): `oauth/authorize`, a new user or a
//!   new contract for a known one;
//! - [`ReauthorizeBuilder`] (`reauthorize.rs`): the same user's consent
//!   again after [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired);
//! - [`OnboardBuilder`] (`onboard.rs`): another service for the user, such
//!   as the provider account a provider push needs;
//! - [`ReauthorizeAccountBuilder`] (`reauthorize_account.rs`): one account's
//!   consent again.
//!
//! What they share: `reference.rs` (the `oauth/token/reference` call of the
//! last three), `page.rs` (the callback check, the request body, the
//! consent page's URL, [`ConsentLink`]), `options.rs` (the pages' optional
//! settings), and [`AuthorizeCallback`] / [`AccountCallback`]
//! (`callback.rs`), the redirects after consent.
//!
//! Tokens:
//!
//! - `exchange.rs`: the authorization-code grant, and the explicit refresh.
//! - `pkce.rs`: the code verifier and challenge.
//! - `oauth.rs`: the OAuth values as types: [`ConsentState`],
//!   [`AuthorizationCode`], [`PkceCodeVerifier`].
//!
//! The flows, as a user meets them, are in the
//! [authorization guide](crate::guide::authorization).

mod authorize;
mod callback;
mod exchange;
mod oauth;
mod onboard;
mod options;
mod page;
mod pkce;
mod reauthorize;
mod reauthorize_account;
mod reference;
pub mod state;

pub use authorize::{Authorization, AuthorizeBuilder, AuthorizeFuture, ReadSession};
pub use callback::{AccountCallback, AuthorizeCallback};
pub use oauth::{AuthorizationCode, ConsentState, PkceCodeVerifier};
pub use onboard::OnboardBuilder;
pub use options::{PullSessionOptions, SampleDataOptions, SourceType, SourcesScope};
pub use page::{ConsentLink, ConsentLinkFuture};
pub use reauthorize::ReauthorizeBuilder;
pub use reauthorize_account::ReauthorizeAccountBuilder;
