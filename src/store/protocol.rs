//! The refresh protocol over a [`TokenStore`]: one refresh per rotation
//! across every process sharing the store (see the module docs of
//! [`store`](super)).

use std::time::{Duration, Instant};

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

/// True when `stored` is another token than `stale`: someone rotated it.
fn rotated(stored: &UserAccessToken, stale: &UserAccessToken) -> bool {
    stored.refresh_token().value().expose_secret() != stale.refresh_token().value().expose_secret()
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
    let ttl = sdk.inner.lease_ttl;
    // The longest a caller waits for another's lease: long enough for a
    // holder to finish, or for a dead holder's lease to expire, twice over.
    let patience = ttl.saturating_mul(2).saturating_add(Duration::from_secs(5));
    let give_up = Instant::now().checked_add(patience);
    let started = Instant::now();
    let mut poll = POLL;
    loop {
        match store.acquire_lease(user, ttl).await? {
            LeaseAttempt::Acquired { lease, current } => {
                if let Some(stored) = current.filter(|t| rotated(t, stale)) {
                    tracing::debug!(
                        user,
                        "the token was rotated by another process: adopting it"
                    );
                    if let Err(err) = store.release(lease).await {
                        tracing::warn!(user, error = %err, "could not release the refresh lease; it will expire");
                    }
                    return Ok(stored);
                }
                return refresh_under_lease(sdk, contract, store, lease, stale, ttl).await;
            }
            LeaseAttempt::Held {
                current,
                retry_after,
            } => {
                if let Some(stored) = current.filter(|t| rotated(t, stale)) {
                    tracing::debug!(user, "another process refreshed the token: adopting it");
                    return Ok(stored);
                }
                if give_up.is_some_and(|at| Instant::now() >= at) {
                    return Err(Error::token_store(
                        store.describe(),
                        format!(
                            "the refresh lease of user `{user}` stayed held by another process \
                             for over {} s; nothing was refreshed",
                            patience.as_secs()
                        ),
                    ));
                }
                tokio::time::sleep(retry_after.clamp(Duration::from_millis(1), poll)).await;
                if started.elapsed() >= FAST_POLLING {
                    poll = (poll * 2).min(MAX_POLL);
                }
            }
        }
    }
}

/// The refresh itself, with the lease held: refresh, then write the new
/// token and release the lease in one step. A refresh that fails releases
/// the lease.
async fn refresh_under_lease(
    sdk: &DigiMe,
    contract: &ContractDetails,
    store: &dyn TokenStore,
    lease: super::Lease,
    stale: &UserAccessToken,
    ttl: Duration,
) -> Result<UserAccessToken> {
    let user = lease.user().to_owned();
    // The refresh must end before the lease does, or another process could
    // take the lease and spend the same refresh token.
    let budget = ttl - (ttl / 5).min(Duration::from_secs(2));
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
        Ok(fresh) => match store.commit(lease, &fresh).await {
            Ok(()) => Ok(fresh),
            // The old refresh token is spent: the new token must reach the
            // caller even though the store did not take it.
            Err(err) => {
                tracing::error!(user = %user, error = %err, "refreshed, but the store did not take the new token");
                Err(err.with_user_access_token(fresh))
            }
        },
        Err(err) => {
            if let Err(release) = store.release(lease).await {
                tracing::warn!(user = %user, error = %release, "could not release the refresh lease; it will expire");
            }
            Err(err)
        }
    }
}
