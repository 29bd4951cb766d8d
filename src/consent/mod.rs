//! The consent flows: authorize, reauthorize, onboard, an account's
//! reauthorization, and the code exchange that ends them. Each flow is a
//! builder whose required inputs are checked at compile time (its type
//! states are in [`state`]).
//!
//! The flows, as a user meets them, are in the
//! [authorization guide](crate::guide::authorization); where each one lives,
//! in the [architecture](crate::guide::architecture).

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
pub use page::{ConsentLink, ConsentLinkFuture, ConsentPage};
pub use reauthorize::ReauthorizeBuilder;
pub use reauthorize_account::ReauthorizeAccountBuilder;
