//! The token protocol: one refresh per rotation, whoever asks, in one
//! process or across a fleet sharing a [`TokenStore`](crate::store::TokenStore).
//!
//! Every call made for a user asks this module for a usable token and hands
//! back what it learns. The [scaling guide](crate::guide::scaling)
//! describes the protocol once, with the properties its model check proves;
//! the [architecture](crate::guide::architecture) says which file does what.

mod config;
pub(crate) mod core;
mod desks;
mod driver;
mod grant;
#[cfg(test)]
mod model;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use config::Config;
pub(crate) use desks::{DeskCell, Tok};
pub(crate) use driver::{Fresh, versioned};
pub(crate) use grant::{token_call, token_from_reply};

use self::core::Versioned;
use self::desks::Desks;
use crate::store::SessionStore;
use crate::sync::lock;
use crate::token::UserAccessToken;
use crate::transport::Transport;

/// The tokens of one [`DigiMe`](crate::DigiMe): its desks, and the routes
/// from the tokens it has seen to them.
#[derive(Debug)]
pub(crate) struct Tokens {
    config: Config,
    desks: Mutex<Desks>,
    /// What the refreshes are sent with.
    transport: Arc<Transport>,
}

impl Tokens {
    pub(crate) fn new(lease_ttl: Duration, transport: Arc<Transport>) -> Self {
        Tokens {
            config: Config::new(lease_ttl),
            desks: Mutex::new(Desks::default()),
            transport,
        }
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The desk of `store`'s user, which now knows `loaded` (read from the
    /// store).
    pub(crate) fn store_desk(
        &self,
        client_id: &str,
        store: &SessionStore,
        loaded: &Versioned<Tok>,
    ) -> Arc<DeskCell> {
        let desk = lock(&self.desks).store_desk(&self.config, client_id, store);
        desk.lock()
            .desk
            .step(self::core::Event::Observed(loaded.clone()));
        self.remember(&desk, loaded);
        desk
    }

    /// The desk of a token held without a store, and its version there.
    pub(crate) fn route(
        &self,
        client_id: &str,
        token: &Arc<UserAccessToken>,
    ) -> (Arc<DeskCell>, u64) {
        lock(&self.desks).route(&self.config, client_id, token)
    }

    /// Remembers that `token` belongs to `desk`.
    pub(crate) fn remember(&self, desk: &Arc<DeskCell>, token: &Versioned<Tok>) {
        lock(&self.desks).remember(&desk.client_id, desk, &token.token.0, token.version);
    }

    /// The desk without a store that rotated `token` away or is
    /// refreshing it now, and the token's version there, if there is one
    /// other than `desk`: a store's desk must not refresh that token itself.
    pub(crate) fn storeless_rotation(
        &self,
        desk: &Arc<DeskCell>,
        token: &Tok,
    ) -> Option<(Arc<DeskCell>, u64)> {
        let (other, version) = lock(&self.desks).seen_at(&desk.client_id, &token.0)?;
        let rotated =
            other.store.is_none() && !Arc::ptr_eq(&other, desk) && other.moved_on(&token.0);
        rotated.then_some((other, version))
    }
}
