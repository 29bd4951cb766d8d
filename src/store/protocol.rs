//! The refresh protocol over a [`TokenStore`]: one refresh per rotation
//! across every process sharing the store (see the module docs of
//! [`store`](super)).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use secrecy::ExposeSecret;

use super::{LeaseAttempt, SessionStore, TokenStore};
use crate::DigiMe;
use crate::auth::refresh;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

/// How often a caller asks again for a lease another process holds: every
/// [`POLL`] while a refresh is expected to finish (its holder's new token
/// shows up within a poll of its commit), then less and less often, up to
/// [`MAX_POLL`], while a holder takes long or died.
const POLL: Duration = Duration::from_millis(5);
/// How long callers ask every [`POLL`].
const FAST_POLLING: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_millis(100);

/// True when `a` and `b` hold the same refresh token.
fn same(a: &UserAccessToken, b: &UserAccessToken) -> bool {
    a.refresh_token().value().expose_secret() == b.refresh_token().value().expose_secret()
}

/// What the store holds, against `stale`, the token a caller would refresh.
enum Stored {
    /// Nothing, or `stale` itself: it is the one to refresh.
    Stale,
    /// Another token, which this process never rotated away from: another
    /// process rotated `stale` to it.
    Newer(UserAccessToken),
    /// A token this process already rotated away from: the store lags (it
    /// did not take a token this process rotated to), and adopting it would
    /// strand the user. This is the newest token this process knows.
    Lags(Arc<UserAccessToken>),
}

impl Stored {
    fn of(
        sdk: &DigiMe,
        client_id: &str,
        current: Option<UserAccessToken>,
        stale: &UserAccessToken,
    ) -> Self {
        match current.filter(|t| !same(t, stale)) {
            None => Stored::Stale,
            Some(stored) => match sdk.inner.refresher.rotated(client_id, &stored) {
                None => Stored::Newer(stored),
                Some(newest) => Stored::Lags(newest),
            },
        }
    }
}

/// Waiting for a lease another process holds: asks again every [`POLL`]
/// for [`FAST_POLLING`], then less and less often, up to [`MAX_POLL`], and
/// gives up after long enough for a holder to finish, or for a dead
/// holder's lease to expire, twice over.
struct LeaseWait {
    started: Instant,
    patience: Duration,
    poll: Duration,
}

impl LeaseWait {
    fn new(ttl: Duration) -> Self {
        LeaseWait {
            started: Instant::now(),
            patience: ttl.saturating_mul(2).saturating_add(Duration::from_secs(5)),
            poll: POLL,
        }
    }

    /// Waits before the lease is asked for again; past the patience, the
    /// error naming the store instead, which ends with `outcome` (what was
    /// not done).
    async fn pause(
        &mut self,
        store: &dyn TokenStore,
        user: &str,
        retry_after: Duration,
        outcome: &str,
    ) -> Result<()> {
        if self.started.elapsed() >= self.patience {
            return Err(Error::token_store(
                store.describe(),
                format!(
                    "the refresh lease of user `{user}` stayed held by another process \
                     for over {} s; {outcome}",
                    self.patience.as_secs()
                ),
            ));
        }
        tokio::time::sleep(retry_after.clamp(Duration::from_millis(1), self.poll)).await;
        if self.started.elapsed() >= FAST_POLLING {
            self.poll = (self.poll * 2).min(MAX_POLL);
        }
        Ok(())
    }
}

/// Refreshes `stale`, the token of `session.user`, under the store's lease,
/// or adopts the token another process already rotated it to.
pub(crate) async fn refresh_through(
    sdk: &DigiMe,
    contract: &ContractDetails,
    session: &SessionStore,
    stale: &UserAccessToken,
) -> Result<UserAccessToken> {
    let store: &dyn TokenStore = session.store.as_ref();
    let user = session.user.as_str();
    let client_id = sdk.client_id(contract);
    let ttl = sdk.inner.lease_ttl;
    let mut wait = LeaseWait::new(ttl);
    loop {
        // The lease runs from the store's answer at the latest: its time is
        // counted from before the request.
        let asked = Instant::now();
        match store.acquire_lease(user, ttl).await? {
            LeaseAttempt::Acquired { lease, current } => {
                match Stored::of(sdk, &client_id, current, stale) {
                    Stored::Newer(stored) => {
                        tracing::debug!(
                            user,
                            "the token was rotated by another process: adopting it"
                        );
                        release(store, lease, user).await;
                        return Ok(stored);
                    }
                    // The store lags, and this process knows a newer token
                    // than the session's: write that one, no refresh (the
                    // session's may be spent).
                    Stored::Lags(newest) if !same(&newest, stale) => {
                        tracing::debug!(
                            user,
                            "the store lags behind this process: writing the newest token"
                        );
                        let newest = Arc::unwrap_or_clone(newest);
                        return match commit(store, lease, &newest).await {
                            Ok(()) => Ok(newest),
                            Err(err) => Err(err.with_user_access_token(newest)),
                        };
                    }
                    // The session's token is the newest known: refresh it.
                    Stored::Stale | Stored::Lags(_) => {
                        return refresh_under_lease(sdk, contract, store, lease, stale, ttl, asked)
                            .await;
                    }
                }
            }
            LeaseAttempt::Held {
                current,
                retry_after,
            } => {
                if let Stored::Newer(stored) = Stored::of(sdk, &client_id, current, stale) {
                    tracing::debug!(user, "another process refreshed the token: adopting it");
                    return Ok(stored);
                }
                wait.pause(store, user, retry_after, "nothing was refreshed")
                    .await?;
            }
        }
    }
}

/// The refresh itself, with the lease held: refresh, then write the new
/// token and release the lease in one step. A refresh that fails releases
/// the lease, unless it may have happened: then the lease runs out on its
/// own, so that no other process spends the refresh token while digi.me
/// may still be acting on this one.
async fn refresh_under_lease(
    sdk: &DigiMe,
    contract: &ContractDetails,
    store: &dyn TokenStore,
    lease: super::Lease,
    stale: &UserAccessToken,
    ttl: Duration,
    asked: Instant,
) -> Result<UserAccessToken> {
    let user = lease.user().to_owned();
    // The refresh must end well before the lease does (4/5 of it, counted
    // from before the lease was asked for), leaving the rest for the commit:
    // otherwise another process could take the lease and spend the same
    // refresh token.
    let budget = (ttl / 5 * 4).saturating_sub(asked.elapsed());
    if budget.is_zero() {
        release(store, lease, &user).await;
        return Err(Error::token_store(
            store.describe(),
            format!(
                "taking the refresh lease of user `{user}` used up the time a refresh may take \
                 under it; nothing was refreshed"
            ),
        ));
    }
    let refreshed = match tokio::time::timeout(budget, refresh(sdk, contract, stale)).await {
        Ok(result) => result,
        // The refresh was on its way: it may have happened.
        Err(_) => Err(Error::timed_out(
            format_args!("refreshing the token of user `{user}` under the store's lease"),
            budget,
        )
        .mark_refresh_may_have_happened(stale.clone())),
    };
    match refreshed {
        Ok(fresh) => {
            match commit(store, lease, &fresh).await {
                Ok(()) => Ok(fresh),
                // The old refresh token is spent: the new token must reach the
                // caller even though the store did not take it.
                Err(err) => {
                    tracing::error!(user = %user, error = %err, "refreshed, but the store did not take the new token");
                    Err(err.with_user_access_token(fresh))
                }
            }
        }
        Err(err) if err.refresh_may_have_happened() => {
            tracing::warn!(user = %user, "the refresh may have happened: keeping the lease until it runs out");
            Err(err)
        }
        Err(err) => {
            release(store, lease, &user).await;
            Err(err)
        }
    }
}

/// Writes `token` and releases the lease. The store's own code runs here,
/// and the old refresh token is spent: even a panic must not lose the new
/// token, so it becomes an error (which the caller hands the token with).
async fn commit(
    store: &dyn TokenStore,
    lease: super::Lease,
    token: &UserAccessToken,
) -> Result<()> {
    AssertUnwindSafe(store.commit(lease, token))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Err(Error::token_store(
                store.describe(),
                "the store panicked while writing the new token",
            ))
        })
}

/// Releases a lease; a lease that cannot be released runs out on its own.
async fn release(store: &dyn TokenStore, lease: super::Lease, user: &str) {
    if let Err(err) = store.release(lease).await {
        tracing::warn!(user = %user, error = %err, "could not release the refresh lease; it will expire");
    }
}

/// Writes the newest token this process rotated `stale` to (`fresh`, or a
/// newer one known by the time the lease is held), made without the store
/// (by a call that had none, or when the store failed to take it), into the
/// store, under its lease. Only where the store lags: it holds `stale`,
/// nothing, or a token whose rotations lead to that newest token. A store
/// holding any other token (newer, or from a new authorization) keeps it.
///
/// Returns the token the caller goes on with. A failure is an error that
/// carries that token (`token_refreshed()`): the old refresh token is spent.
pub(crate) async fn write_through(
    sdk: &DigiMe,
    client_id: &str,
    session: &SessionStore,
    stale: &UserAccessToken,
    fresh: Arc<UserAccessToken>,
) -> Result<Arc<UserAccessToken>> {
    let store: &dyn TokenStore = session.store.as_ref();
    let user = session.user.as_str();
    let refresher = &sdk.inner.refresher;
    let newest = || {
        refresher
            .rotated(client_id, stale)
            .unwrap_or_else(|| fresh.clone())
    };
    let ttl = sdk.inner.lease_ttl;
    let mut wait = LeaseWait::new(ttl);
    let (outcome, newest) = loop {
        let attempt = store.acquire_lease(user, ttl).await;
        let newest = newest();
        match attempt {
            Err(err) => break (Err(err), newest),
            Ok(LeaseAttempt::Acquired { lease, current }) => {
                let lags = match &current {
                    None => true,
                    Some(stored) => {
                        same(stored, stale)
                            || (!same(stored, &newest)
                                && refresher.leads_to(client_id, stored, &newest))
                    }
                };
                if !lags {
                    release(store, lease, user).await;
                    break (Ok(()), newest);
                }
                tracing::debug!(user, "writing a token this process rotated into the store");
                break (commit(store, lease, &newest).await, newest);
            }
            Ok(LeaseAttempt::Held {
                current,
                retry_after,
            }) => {
                if current.is_some_and(|stored| same(&stored, &newest)) {
                    break (Ok(()), newest);
                }
                if let Err(err) = wait
                    .pause(store, user, retry_after, "the new token was not written")
                    .await
                {
                    break (Err(err), newest);
                }
            }
        }
    };
    match outcome {
        Ok(()) => Ok(newest),
        Err(err) => {
            tracing::error!(user, error = %err, "the store did not take a token this process rotated");
            Err(err.with_user_access_token(Arc::unwrap_or_clone(newest)))
        }
    }
}
