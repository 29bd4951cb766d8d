//! The rule every call made for a user follows: catch up with a newer
//! token already known, refresh first when the access token is about to
//! expire, send, and on `401 InvalidToken` refresh once and send again.
//! Every refresh is asked of the [token protocol](crate::tokens), so one
//! refresh token is spent once, whichever calls hold it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::hook::{OnTokenChange, call_hook};
use super::session::UserSession;
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::tokens::core::Versioned;
use crate::tokens::{DeskCell, Fresh, Tok};
use crate::transport::request::is_invalid_token;
use crate::transport::{Call, Reply};

/// Where a call's token comes from.
enum Source {
    /// The call's own copy (`sdk.push(&contract, &token)` and friends).
    Owned,
    /// A shared [`UserSession`].
    Session(UserSession),
}

/// A call's token: the one it started with, the one it holds now, where it
/// is refreshed, and the hook to tell about a change.
pub(crate) struct TokenState {
    source: Source,
    start: Tok,
    current: Versioned<Tok>,
    /// Where the token is refreshed, for a session of a store; else found
    /// by the token, at each need (a token a store's session has met is
    /// refreshed through that store).
    desk: Option<Arc<DeskCell>>,
    on_change: Option<OnTokenChange>,
    /// The store's error, when a refreshed token did not reach it.
    unstored: Option<Error>,
}

impl fmt::Debug for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Owned => f.debug_tuple("Owned").field(&self.current.token).finish(),
            Source::Session(session) => f.debug_tuple("Session").field(session).finish(),
        }
    }
}

/// What a call hands back about its token.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The token to store.
    pub(crate) token: UserAccessToken,
    /// True when it changed during the call.
    pub(crate) refreshed: bool,
    /// The store's error, when the new token did not reach the store.
    pub(crate) unstored: Option<Error>,
}

impl TokenState {
    pub(crate) fn owned(token: UserAccessToken) -> Self {
        let token = Tok(Arc::new(token));
        TokenState {
            source: Source::Owned,
            start: token.clone(),
            current: Versioned::new(token, 0),
            desk: None,
            on_change: None,
            unstored: None,
        }
    }

    pub(crate) fn shared(session: UserSession) -> Self {
        let current = session.current();
        TokenState {
            start: current.token.clone(),
            desk: session.store_desk().cloned(),
            source: Source::Session(session),
            current,
            on_change: None,
            unstored: None,
        }
    }

    /// Sets the hook called when this call's token changes.
    pub(crate) fn set_hook(&mut self, hook: OnTokenChange) {
        self.on_change = Some(hook);
    }

    /// The token to send now.
    pub(crate) fn current(&self) -> Arc<UserAccessToken> {
        self.current.token.0.clone()
    }

    /// The desk the call's token is refreshed at (its version there is
    /// learnt with it, for a token without a store of its own).
    fn desk(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> Arc<DeskCell> {
        if let Some(desk) = &self.desk {
            return desk.clone();
        }
        let (desk, version) = sdk
            .inner
            .tokens
            .route(&sdk.transport().client_id(contract), &self.current.token.0);
        self.current.version = version;
        desk
    }

    /// Switches to `newer` (when it is another token) and tells the hook.
    fn adopt(&mut self, newer: Versioned<Tok>) {
        if newer.token == self.current.token {
            // The same token, known at a newer version (it reached the store).
            self.current.version = self.current.version.max(newer.version);
            return;
        }
        if let Source::Session(session) = &self.source {
            session.adopt(&self.current, &newer);
        }
        self.current = newer;
        if let Some(hook) = self.on_change.as_mut() {
            call_hook(hook, &self.current.token.0);
        }
    }

    /// Switches to the newest token already known (the session's, or its
    /// desk's), without any call. True when the token must first be written
    /// to the session's store: this process rotated it without the store.
    fn catch_up(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> bool {
        if let Source::Session(session) = &self.source {
            // The session only moves forward: another token there is newer.
            let theirs = session.current();
            if theirs.token != self.current.token {
                self.adopt(theirs);
            }
        }
        let desk = self.desk(sdk, contract);
        if let Some(newest) = desk.newest()
            && newest.version > self.current.version
        {
            self.adopt(newest);
        }
        desk.store.is_some()
            && sdk
                .inner
                .tokens
                .storeless_rotation(&desk, &self.current.token)
                .is_some()
    }

    /// Refreshes the call's token (sharing a refresh already under way).
    async fn refresh(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> Result<()> {
        let desk = self.desk(sdk, contract);
        let Fresh { token, unstored } = desk
            .need(sdk.tokens(), contract, self.current.clone())
            .await?;
        if let Some(err) = unstored {
            tracing::warn!(error = %err, "the new token did not reach the token store (yet)");
            self.unstored = Some(err);
        }
        self.adopt(token);
        Ok(())
    }

    /// Whether this call's token changed.
    pub(crate) fn refreshed(&self) -> bool {
        self.current.token != self.start
    }

    /// The one finishing step of a call made for a user, through which its
    /// result passes: the value with the token to store, or the error with
    /// the new token attached. After a refresh the old refresh token is
    /// spent, so whatever fails after it (an answer that does not parse, a
    /// JWT that does not verify) must still hand the new token back.
    pub(crate) fn conclude<T>(self, result: Result<T>) -> Result<(T, Finished)> {
        match result {
            Ok(value) => Ok((value, self.finish())),
            Err(err) => Err(self.attach(err)),
        }
    }

    /// `err`, carrying this call's new token when it refreshed one.
    fn attach(&self, err: Error) -> Error {
        if self.refreshed() && err.user_access_token().is_none() {
            err.with_user_access_token(Arc::unwrap_or_clone(self.current()))
        } else {
            err
        }
    }

    /// The token to hand back to the caller, whether it changed, and the
    /// store's error if the new one did not reach it.
    pub(crate) fn finish(self) -> Finished {
        let refreshed = self.refreshed();
        Finished {
            token: Arc::unwrap_or_clone(self.current.token.0),
            refreshed,
            unstored: self.unstored,
        }
    }
}

/// Runs a call made for a user:
/// 1. catch up with a newer token already known (no call), writing a
///    rotation made without the session's store to it first;
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
    result.map_err(|err| state.attach(err))
}

async fn run_user_call<E: Serialize>(
    sdk: &DigiMe,
    contract: &ContractDetails,
    call: &Call<'_, E>,
    state: &mut TokenState,
) -> Result<Reply> {
    if state.catch_up(sdk, contract) {
        tracing::debug!(
            endpoint = call.endpoint,
            "writing a token rotated without the store to the session's store"
        );
        state.refresh(sdk, contract).await?;
    }
    let mut refreshed_here = false;
    let token = state.current();
    if token.access_token().expires_within(sdk.refresh_skew())
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
    match sdk
        .transport()
        .execute(call, Some(token.access_token().value()))
        .await
    {
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
            sdk.transport()
                .execute(call, Some(token.access_token().value()))
                .await
        }
        other => other,
    }
}
