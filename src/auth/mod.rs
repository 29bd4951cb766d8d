//! Authorization and tokens.
//!
//! - [`AuthorizeBuilder`] (`authorize/`): `oauth/authorize` and the onboard URL;
//!   its type states are in [`state`].
//! - [`AuthorizeCallback`] (`callback.rs`): the redirect after consent.
//! - `exchange.rs`: the authorization-code grant, and the explicit refresh.
//! - `refresh.rs`: the refresh grant.
//! - `refresher.rs`: the token refresher: one refresh per refresh token,
//!   shared by every caller holding it, with `rotations.rs`, the bounded
//!   memory of the rotations made.
//! - `user_call.rs`: the refresh-then-retry rule every call made for a user
//!   follows.
//! - `server_jwt.rs`: verifies every JWT digi.me returns against the key set
//!   at its `jku`, PS512 only, with keys cached by `kid`.
//! - `pkce.rs`: the code verifier and challenge.
//! - [`UserSession`] (`session.rs`): one user's token shared by many calls,
//!   in memory or in a [`TokenStore`](crate::store::TokenStore).
//!
//! The whole flow, from the user's first visit to a push, is in the
//! [authorization guide](crate::guide::authorization).

mod authorize;
mod callback;
mod exchange;
mod pkce;
mod refresh;
mod refresher;
mod rotations;
mod server_jwt;
mod session;
mod user_call;

pub use authorize::{
    Authorization, AuthorizeBuilder, AuthorizeFuture, PullSessionOptions, SampleDataOptions,
    Session, SourceType, generate_state, state,
};
pub use callback::AuthorizeCallback;
pub use session::UserSession;

pub(crate) use refresh::refresh;
pub(crate) use refresher::Refresher;
pub(crate) use server_jwt::ServerJwtVerifier;
pub(crate) use user_call::{TokenState, user_call};
