//! The token refresher: one refresh per refresh token, whoever asks.
//!
//! Every path that refreshes a user's token (a push, read accounts, delete
//! user, `refresh_token`, a [`UserSession`](crate::UserSession)) comes
//! here. Within one [`DigiMe`] and its clones:
//!
//! - **single flight**: concurrent callers holding the same refresh token
//!   share one refresh. The first starts it, the others wait for its result;
//! - **late callers**: a caller that arrives after the refresh, with a copy
//!   of the old token, gets the token it was rotated to from the bounded
//!   [rotation memory](super::rotations), without a call to digi.me;
//! - **fleets**: with a [`TokenStore`](crate::store::TokenStore), the one
//!   refresh of this process runs under the store's lease, so that across
//!   every process sharing the store, one refresh runs per rotation and the
//!   others adopt its result.
//!
//! The refresh itself runs in a task of its own: a caller that gives up
//! (its future dropped, a timeout) never cancels a refresh half-way, when
//! the old refresh token may already be spent.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use futures_util::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::refresh::refresh;
use super::rotations::{Outcome, RotationKey, Rotations};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::store::SessionStore;
use crate::token::UserAccessToken;

/// The result of one refresh, shared by everyone who waited for it.
type Flight = Result<Arc<UserAccessToken>>;

/// What a flight's waiters receive: its result, and whether a token store
/// holds the new token.
type Landed = (Flight, bool);

/// The refresher of one [`DigiMe`].
#[derive(Default)]
pub(crate) struct Refresher {
    rotations: Mutex<Rotations>,
    /// The refreshes running now, by the refresh token they spend.
    flights: Mutex<HashMap<RotationKey, watch::Receiver<Option<Landed>>>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("in_flight", &lock(&self.flights).len())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex whether or not an earlier holder panicked: the data behind
/// these locks stays consistent at every point a panic could happen.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// When a token's refresh token expires.
fn refresh_expiry(token: &UserAccessToken) -> SystemTime {
    token.refresh_token().expires_at()
}

impl Refresher {
    /// The newest token this client knows `token` was rotated to, if it was.
    /// A refresh token digi.me refused is not reported here: the call goes
    /// on with the access token it has, which may still work.
    pub(crate) fn rotated(
        &self,
        client_id: &str,
        token: &UserAccessToken,
    ) -> Option<Arc<UserAccessToken>> {
        self.rotated_with_store(client_id, token)
            .map(|(newer, _)| newer)
    }

    /// [`rotated`](Self::rotated), and whether a token store holds that
    /// newer token.
    pub(crate) fn rotated_with_store(
        &self,
        client_id: &str,
        token: &UserAccessToken,
    ) -> Option<(Arc<UserAccessToken>, bool)> {
        match self.lookup(client_id, RotationKey::new(client_id, token))? {
            (Outcome::Rotated(newer), in_store) => Some((newer, in_store)),
            (Outcome::Refused(_), _) => None,
        }
    }

    /// What became of `key`'s refresh token, as a refresh's answer, and
    /// whether a token store holds the token it was rotated to.
    fn known(&self, client_id: &str, key: RotationKey) -> Option<(Flight, bool)> {
        Some(match self.lookup(client_id, key)? {
            (Outcome::Rotated(newer), in_store) => (Ok(newer), in_store),
            (Outcome::Refused(server), in_store) => {
                (Err(Error::reauthorization_required(server)), in_store)
            }
        })
    }

    /// The rotation memory's newest outcome for `key` (free while nothing
    /// is remembered).
    fn lookup(&self, client_id: &str, key: RotationKey) -> Option<(Outcome, bool)> {
        let rotations = lock(&self.rotations);
        if rotations.is_empty() {
            return None;
        }
        rotations.lookup(client_id, key)
    }

    /// True when `from`, or a token this client rotated it to, is `to`.
    pub(crate) fn leads_to(
        &self,
        client_id: &str,
        from: &UserAccessToken,
        to: &UserAccessToken,
    ) -> bool {
        lock(&self.rotations).leads_to(client_id, from, RotationKey::new(client_id, to))
    }

    /// Remembers that a token store now holds the rotation of `key`.
    fn mark_in_store(
        &self,
        client_id: &str,
        key: RotationKey,
        stale: &UserAccessToken,
        fresh: &Arc<UserAccessToken>,
    ) {
        lock(&self.rotations).record(
            client_id,
            key,
            Outcome::Rotated(fresh.clone()),
            true,
            refresh_expiry(stale),
        );
    }

    /// Refreshes `token`, or joins the refresh of the same refresh token
    /// already running, or returns the rotation already made. With `store`,
    /// the refresh runs under the store's lease.
    pub(crate) async fn refresh(
        &self,
        sdk: &DigiMe,
        contract: &ContractDetails,
        token: Arc<UserAccessToken>,
        store: Option<SessionStore>,
    ) -> Result<Arc<UserAccessToken>> {
        let client_id = sdk.client_id(contract);
        let key = RotationKey::new(&client_id, &token);
        let (result, in_store) = self
            .join_or_start(sdk, contract, &client_id, key, &token, &store)
            .await;
        let fresh = result?;
        // A caller with a store gets a rotation made without one (by a call
        // without a store, or one the store did not take): the store must
        // get it too, or another process would spend the old refresh token.
        match &store {
            Some(session) if !in_store => {
                let _ = session; // TEMP(w17): the tokens module replaces this
                self.mark_in_store(&client_id, key, &token, &fresh);
                Ok(fresh)
            }
            _ => Ok(fresh),
        }
    }

    /// The answer for `key`: what this client already knows of it, or the
    /// result of the refresh running now, or of one started here. With it,
    /// whether a token store holds the new token.
    async fn join_or_start(
        &self,
        sdk: &DigiMe,
        contract: &ContractDetails,
        client_id: &str,
        key: RotationKey,
        token: &Arc<UserAccessToken>,
        store: &Option<SessionStore>,
    ) -> (Flight, bool) {
        loop {
            let mut waiting = {
                let mut flights = lock(&self.flights);
                // Looked up with the flights locked: a flight records its
                // rotation before it leaves `flights`, so a refresh that just
                // ended is found here, never started again.
                if let Some(known) = self.known(client_id, key) {
                    tracing::debug!("token already rotated by this client: adopting it");
                    return known;
                }
                match flights.get(&key) {
                    // A flight whose task is gone (the runtime is shutting
                    // down) is replaced.
                    Some(rx) if rx.has_changed().is_ok() => rx.clone(),
                    _ => {
                        let (tx, rx) = watch::channel(None);
                        flights.insert(key, rx.clone());
                        let flight = run_flight(
                            sdk.clone(),
                            contract.clone(),
                            token.clone(),
                            store.clone(),
                            key,
                            tx,
                        );
                        tokio::spawn(flight.in_current_span());
                        rx
                    }
                }
            };
            match waiting.wait_for(Option::is_some).await {
                Ok(result) => {
                    if let Some(result) = result.as_ref() {
                        return result.clone();
                    }
                }
                // The flight's task ended without a result: look again.
                Err(_) => continue,
            }
        }
    }
}

/// One refresh, in its own task: the grant (under the store's lease when
/// there is a store), then the memory of its outcome, then the answer to
/// everyone waiting.
async fn run_flight(
    sdk: DigiMe,
    contract: ContractDetails,
    token: Arc<UserAccessToken>,
    store: Option<SessionStore>,
    key: RotationKey,
    tx: watch::Sender<Option<Landed>>,
) {
    // A panic (in a store's own code, say) must still answer the waiters
    // and must not start the refresh again: the grant may have been sent.
    let grant = async {
        match &store {
            None => refresh(&sdk, &contract, &token).await,
            Some(_store) => refresh(&sdk, &contract, &token).await, // TEMP(w17): the tokens module replaces this
        }
    };
    let result = match AssertUnwindSafe(grant).catch_unwind().await {
        Ok(result) => result.map(Arc::new),
        Err(_) => {
            tracing::error!("the token refresh panicked");
            let err = match &store {
                Some(s) => Error::token_store(
                    s.store.describe(),
                    "the token refresh panicked; it may have happened",
                ),
                None => Error::invalid_response("the token refresh panicked; it may have happened"),
            };
            Err(err.mark_refresh_may_have_happened((*token).clone()))
        }
    };
    let client_id = sdk.client_id(&contract);
    let refresher = &sdk.inner.refresher;
    let mut in_store = false;
    {
        let mut rotations = lock(&refresher.rotations);
        let until = refresh_expiry(&token);
        match &result {
            Ok(newer) => {
                in_store = store.is_some();
                rotations.record(
                    &client_id,
                    key,
                    Outcome::Rotated(newer.clone()),
                    in_store,
                    until,
                )
            }
            // The refresh happened but the token store did not take the new
            // token: this process keeps it, so that its later calls adopt it
            // rather than spend the old refresh token again (and a later
            // caller with a store writes it there).
            Err(err) if err.token_refreshed() => {
                if let Some(fresh) = err.user_access_token() {
                    rotations.record(
                        &client_id,
                        key,
                        Outcome::Rotated(Arc::new(fresh.clone())),
                        false,
                        until,
                    );
                }
            }
            Err(err) if err.is_reauthorization_required() => {
                if let Some(server) = err.server() {
                    rotations.record(
                        &client_id,
                        key,
                        Outcome::Refused(server.clone()),
                        false,
                        until,
                    );
                }
            }
            Err(_) => {}
        }
    }
    lock(&refresher.flights).remove(&key);
    // Nobody may be waiting any more: that is fine, the rotation is kept.
    let _ = tx.send(Some((result, in_store)));
}
