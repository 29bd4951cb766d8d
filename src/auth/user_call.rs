//! The rule every call made for a user follows: refresh first when the
//! access token is about to expire, send, and on `401 InvalidToken` refresh
//! once and send again. Refreshes go through the
//! [refresher](super::refresher), so one refresh token is spent once,
//! whichever calls hold it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::session::{CatchUp, UserSession};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::request::is_invalid_token;
use crate::transport::{Call, Reply};

/// The caller's `on_access_token_change` hook.
pub(crate) type OnTokenChange = Box<dyn FnMut(&UserAccessToken) + Send + 'static>;

/// Calls a hook with a new token. A hook that panics is reported in the log
/// and does not take the call down with it: the call's outcome still carries
/// the token to store.
pub(crate) fn call_hook(hook: &mut OnTokenChange, token: &UserAccessToken) {
    if catch_unwind(AssertUnwindSafe(|| hook(token))).is_err() {
        tracing::error!(
            "the on_access_token_change hook panicked; the new token is still in the call's outcome"
        );
    }
}

/// Where a call's token comes from.
enum Source {
    /// The call's own copy (`sdk.push(&contract, &token)` and friends).
    Owned,
    /// A shared [`UserSession`].
    Session(UserSession),
}

/// A call's token: the one it started with, the one it holds now, and the
/// hook to tell about a change.
pub(crate) struct TokenState {
    source: Source,
    start: Arc<UserAccessToken>,
    current: Arc<UserAccessToken>,
    on_change: Option<OnTokenChange>,
}

impl fmt::Debug for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Owned => f.debug_tuple("Owned").field(&self.current).finish(),
            Source::Session(session) => f.debug_tuple("Session").field(session).finish(),
        }
    }
}

impl TokenState {
    pub(crate) fn owned(token: UserAccessToken) -> Self {
        let token = Arc::new(token);
        TokenState {
            source: Source::Owned,
            start: token.clone(),
            current: token,
            on_change: None,
        }
    }

    pub(crate) fn shared(session: UserSession) -> Self {
        let token = session.current();
        TokenState {
            source: Source::Session(session),
            start: token.clone(),
            current: token,
            on_change: None,
        }
    }

    /// Sets the hook called when this call's token changes.
    pub(crate) fn set_hook(&mut self, hook: OnTokenChange) {
        self.on_change = Some(hook);
    }

    /// The token to send now.
    pub(crate) fn current(&self) -> Arc<UserAccessToken> {
        self.current.clone()
    }

    /// Switches to `newer` (when it is another token) and tells the hook.
    fn adopt(&mut self, newer: Arc<UserAccessToken>) {
        if Arc::ptr_eq(&self.current, &newer) {
            return;
        }
        self.current = newer;
        if let Some(hook) = self.on_change.as_mut() {
            call_hook(hook, &self.current);
        }
    }

    /// Switches to the newest token already known, without any call: the
    /// one this client rotated the call's token to, or the session's. True
    /// when the call's session has a store that lags behind such a rotation
    /// (see [`CatchUp::StoreLags`]).
    fn catch_up(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> bool {
        let newer = match &self.source {
            Source::Owned => sdk
                .inner
                .refresher
                .rotated(&sdk.client_id(contract), &self.current),
            Source::Session(session) => match session.catch_up(&self.current) {
                CatchUp::Newer(newer) => Some(newer),
                CatchUp::StoreLags => return true,
                CatchUp::Current => None,
            },
        };
        if let Some(newer) = newer {
            self.adopt(newer);
        }
        false
    }

    /// Refreshes the call's token (sharing a refresh already running).
    async fn refresh(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> Result<()> {
        let newer = match &self.source {
            Source::Owned => {
                sdk.inner
                    .refresher
                    .refresh(sdk, contract, self.current.clone(), None)
                    .await?
            }
            Source::Session(session) => session.refresh_from(&self.current).await?,
        };
        self.adopt(newer);
        Ok(())
    }

    /// Whether this call's token changed.
    pub(crate) fn refreshed(&self) -> bool {
        !Arc::ptr_eq(&self.start, &self.current)
    }

    /// The token to hand back to the caller, and whether it changed.
    pub(crate) fn finish(self) -> (UserAccessToken, bool) {
        let refreshed = self.refreshed();
        (Arc::unwrap_or_clone(self.current), refreshed)
    }
}

/// Runs a call made for a user:
/// 1. catch up with a rotation this client already made (no call);
/// 2. refresh first when the access token expires within the skew;
/// 3. send; on a 401 `InvalidToken` (or a bare 401), refresh once, tell the
///    caller the new token, and send once more with a new JWT. A body that
///    cannot be sent again (a one-shot reader) ends the call with
///    [`ErrorKind::DataNotReplayable`](crate::ErrorKind::DataNotReplayable),
///    which carries the new token.
pub(crate) async fn user_call<E: Serialize>(
    sdk: &DigiMe,
    contract: &ContractDetails,
    call: &Call<'_, E>,
    state: &mut TokenState,
) -> Result<Reply> {
    let result = run_user_call(sdk, contract, call, state).await;
    // The old refresh token is spent once a refresh happened: a failure
    // after it must still hand the new token back, or the user is lost.
    result.map_err(|err| {
        if state.refreshed() && err.user_access_token().is_none() {
            err.with_user_access_token(Arc::unwrap_or_clone(state.current()))
        } else {
            err
        }
    })
}

async fn run_user_call<E: Serialize>(
    sdk: &DigiMe,
    contract: &ContractDetails,
    call: &Call<'_, E>,
    state: &mut TokenState,
) -> Result<Reply> {
    if state.catch_up(sdk, contract) {
        // This client rotated the session's token without its store: the
        // store gets the new token before anything else (or another process
        // would load the spent one), then the call uses it. No refresh.
        tracing::debug!(
            endpoint = call.endpoint,
            "writing a rotated token to the session's store"
        );
        state.refresh(sdk, contract).await?;
    }
    let mut refreshed_here = false;
    let token = state.current();
    if token.access_token().expires_within(sdk.inner.refresh_skew)
        && !token.refresh_token().expires_within(Duration::ZERO)
    {
        tracing::debug!(
            endpoint = call.endpoint,
            "access token expires soon: refreshing first"
        );
        match state.refresh(sdk, contract).await {
            Ok(()) => refreshed_here = true,
            // A passing failure while the token still works: use it. Not
            // after a refresh that may have happened: the token this call
            // holds may be revoked, and the caller must hear of it.
            Err(err)
                if !err.is_reauthorization_required()
                    && !err.refresh_may_have_happened()
                    && !token.access_token().expires_within(Duration::ZERO) =>
            {
                tracing::debug!(error = %err, "early refresh failed; the token still works");
            }
            Err(err) => return Err(err),
        }
    }
    let token = state.current();
    match sdk.execute(call, Some(token.access_token().value())).await {
        Err(err) if is_invalid_token(&err) && !refreshed_here => {
            tracing::debug!(
                endpoint = call.endpoint,
                "access token rejected: refreshing"
            );
            state.refresh(sdk, contract).await?;
            let token = state.current();
            if !call.body.can_send() {
                return Err(Error::data_not_replayable(Arc::unwrap_or_clone(token)));
            }
            sdk.execute(call, Some(token.access_token().value())).await
        }
        other => other,
    }
}
