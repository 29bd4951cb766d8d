//! Tokens: the refresher and the verifier of the server's JWTs.
//!
//! - [`refresh`](self): the refresh grant on `oauth/token`.
//! - `server_jwt`: verifies every JWT digi.me returns against the key set
//!   at its `jku`, PS512 only, with keys cached by `kid`.

mod refresh;
mod server_jwt;

pub(crate) use refresh::{OnTokenChange, TokenState, refresh, token_from_reply, user_call};
pub(crate) use server_jwt::ServerJwtVerifier;
