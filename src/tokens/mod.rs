//! The token protocol: one refresh per rotation, whoever asks, in one
//! process or across a fleet sharing a [`TokenStore`](crate::store::TokenStore).
//!
//! Every call made for a user asks this module for a usable token and hands
//! back what it learns. The decisions sit in one pure state machine
//! (`core.rs`), run by an async driver (`driver.rs`) over desks
//! (`desks.rs`); the refresh grant is `grant.rs`. The
//! [scaling guide](crate::guide::scaling) describes the protocol once, with
//! the properties its model check (`model.rs`) proves and their bounds.

pub(crate) mod core;
mod desks;
mod driver;
mod grant;
#[cfg(test)]
mod model;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use desks::{DeskCell, Tok};
pub(crate) use driver::{Fresh, versioned};
pub(crate) use grant::{token_call, token_from_reply};

use self::core::{Limits, Rules, Versioned, Wait};
use self::desks::{Desks, lock};
use crate::store::SessionStore;
use crate::token::UserAccessToken;
use crate::transport::Transport;

/// The protocol's settings, from the SDK's lease time to live.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) rules: Rules,
    pub(crate) limits: Limits,
    pub(crate) lease_ttl: Duration,
    /// The longest a call to the store may take (a renewal: a third of the
    /// lease's time to live).
    pub(crate) store_timeout: Duration,
}

/// How often a held lease is asked for again at first, and for how long.
const POLL: Duration = Duration::from_millis(5);
const FAST_POLLS: u32 = 50;
const MAX_POLL: Duration = Duration::from_millis(100);
/// How many times the store is read during a grace period.
const GRACE_POLLS: u32 = 10;
/// The first wait before a verification or a commit is tried again, and
/// the longest.
const BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Verifications and commits tried before the callers hear of a failure,
/// and then in the background (about five minutes at the longest wait).
const TRIES: u32 = 3;
const BACKGROUND_TRIES: u32 = 150;

impl Config {
    pub(crate) fn new(lease_ttl: Duration) -> Self {
        let store_timeout = lease_ttl.clamp(Duration::from_secs(1), Duration::from_secs(10));
        let mut config = Config {
            rules: Rules::PROTOCOL,
            limits: Limits {
                lease_polls: 0,
                grace_polls: GRACE_POLLS,
                verify_tries: TRIES,
                commit_tries: TRIES,
                background_tries: BACKGROUND_TRIES,
            },
            lease_ttl,
            store_timeout,
        };
        // Ask for a held lease for as long as a holder may take, twice over.
        let mut polls = 0;
        let mut waited = Duration::ZERO;
        while waited < config.patience() && polls < 100_000 {
            polls += 1;
            waited += config.wait(Wait::Poll(polls));
        }
        config.limits.lease_polls = polls;
        config
    }

    /// How long a caller waits for a lease held elsewhere: long enough for a
    /// holder to finish, or for a dead holder's lease to run out, twice.
    pub(crate) fn patience(&self) -> Duration {
        self.lease_ttl
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(5))
    }

    /// How often a held lease is renewed, and the longest a renewal may
    /// take: a quarter of its time to live, so that a renewal that fails
    /// (and is tried again at once) still leaves the lease time to spare.
    pub(crate) fn heartbeat_every(&self) -> Duration {
        (self.lease_ttl / 4).max(Duration::from_millis(10))
    }

    /// How long a wait lasts.
    pub(crate) fn wait(&self, wait: Wait) -> Duration {
        match wait {
            Wait::Poll(n) if n <= FAST_POLLS => POLL,
            Wait::Poll(n) => POLL
                .saturating_mul(1 << (n - FAST_POLLS).min(16))
                .min(MAX_POLL),
            Wait::Grace(_) => self.lease_ttl / GRACE_POLLS,
            Wait::Backoff(n) => BACKOFF
                .saturating_mul(1 << n.saturating_sub(1).min(16))
                .min(MAX_BACKOFF),
        }
    }
}

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
