//! The token refresher: the refresh grant, and the refresh-then-retry rule
//! that every call made for a user follows.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::session::UserSession;
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::{Token, UserAccessToken};
use crate::transport::request::is_invalid_token;
use crate::transport::{Body, Call, CallKind, Reply};

/// The caller's `on_access_token_change` hook.
pub(crate) type OnTokenChange = Box<dyn FnMut(&UserAccessToken) + Send + 'static>;

/// `{"token": <server JWT>}` from `oauth/token`.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    token: String,
}

/// The verified payload of the token JWT.
#[derive(Deserialize)]
struct TokenPayload {
    access_token: TokenPart,
    refresh_token: TokenPart,
    sub: Option<String>,
    consentid: Option<String>,
}

#[derive(Deserialize)]
struct TokenPart {
    value: String,
    expires_on: u64,
}

/// A call to `oauth/token` with a grant's claims.
pub(crate) fn token_call<'a, E: Serialize>(
    contract: &'a ContractDetails,
    claims: &'a E,
) -> Call<'a, E> {
    Call {
        endpoint: "oauth/token",
        method: Method::POST,
        path: "oauth/token",
        contract,
        claims,
        headers: Vec::new(),
        body: Body::Empty,
        kind: CallKind::TokenGrant,
        ambiguous: Default::default(),
    }
}

/// Verifies the token JWT in an `oauth/token` reply and maps it to the
/// stored shape (`expires_on` → `expiry`, `sub` → `user.id`).
pub(crate) async fn token_from_reply(sdk: &DigiMe, reply: &Reply) -> Result<UserAccessToken> {
    let response: TokenResponse = reply.json("oauth/token")?;
    let payload: TokenPayload = sdk
        .inner
        .verifier
        .verify(&sdk.inner.http, &response.token)
        .await?;
    Ok(UserAccessToken::new(
        Token::from_unix_secs(payload.access_token.value, payload.access_token.expires_on),
        Token::from_unix_secs(
            payload.refresh_token.value,
            payload.refresh_token.expires_on,
        ),
        payload.sub,
        payload.consentid,
    ))
}

/// The refresh grant. A 401 (`InvalidToken` or bare) means the refresh token
/// is spent or expired: [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired).
///
/// The grant is sent again only after a failure that says digi.me did not
/// handle it. After any other failure once it may have reached digi.me (an
/// ambiguous reply, or a success whose token cannot be read), the error says
/// the refresh may have happened and carries `token`, the token the refresh
/// was attempted with: nothing newer is known.
pub(crate) async fn refresh(
    sdk: &DigiMe,
    contract: &ContractDetails,
    token: &UserAccessToken,
) -> Result<UserAccessToken> {
    #[derive(Serialize)]
    struct RefreshClaims<'a> {
        grant_type: &'static str,
        refresh_token: &'a str,
    }
    let claims = RefreshClaims {
        grant_type: "refresh_token",
        refresh_token: token.refresh_token().value().expose_secret(),
    };
    let call = token_call(contract, &claims);
    let reply = match sdk.execute(&call, None).await {
        Ok(reply) => reply,
        Err(err) if is_invalid_token(&err) => {
            let server = err
                .server()
                .cloned()
                .unwrap_or_else(|| crate::error::ServerError::new(401, None, None, None));
            return Err(Error::reauthorization_required(server));
        }
        Err(err) if call.was_ambiguous() => {
            return Err(err.mark_refresh_may_have_happened(token.clone()));
        }
        Err(err) => return Err(err),
    };
    // digi.me answered with success: the refresh happened, and the old
    // refresh token is spent even if the new one cannot be read.
    let mut fresh = token_from_reply(sdk, &reply)
        .await
        .map_err(|err| err.mark_refresh_may_have_happened(token.clone()))?;
    fresh.inherit_identity(token);
    tracing::info!(
        user = fresh.user_id().unwrap_or("-"),
        "access token refreshed"
    );
    Ok(fresh)
}

/// Where a call gets its token, and where a new one goes.
pub(crate) enum TokenState {
    /// The call's own copy of the token (`sdk.push(&contract, &token)`).
    Owned {
        token: Arc<UserAccessToken>,
        generation: u64,
        refreshed: bool,
        on_change: Option<OnTokenChange>,
    },
    /// A shared [`UserSession`]: one refresh serves every call in flight.
    Shared {
        session: UserSession,
        refreshed: bool,
        on_change: Option<OnTokenChange>,
    },
}

impl fmt::Debug for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenState::Owned { token, .. } => f.debug_tuple("Owned").field(token).finish(),
            TokenState::Shared { session, .. } => f.debug_tuple("Shared").field(session).finish(),
        }
    }
}

impl TokenState {
    pub(crate) fn owned(token: UserAccessToken) -> Self {
        TokenState::Owned {
            token: Arc::new(token),
            generation: 0,
            refreshed: false,
            on_change: None,
        }
    }

    pub(crate) fn shared(session: UserSession) -> Self {
        TokenState::Shared {
            session,
            refreshed: false,
            on_change: None,
        }
    }

    /// Sets the hook called when this call refreshes the token.
    pub(crate) fn set_hook(&mut self, hook: OnTokenChange) {
        match self {
            TokenState::Owned { on_change, .. } | TokenState::Shared { on_change, .. } => {
                *on_change = Some(hook)
            }
        }
    }

    /// The token to send now, and its generation.
    pub(crate) fn current(&self) -> (Arc<UserAccessToken>, u64) {
        match self {
            TokenState::Owned {
                token, generation, ..
            } => (token.clone(), *generation),
            TokenState::Shared { session, .. } => session.current(),
        }
    }

    /// Refreshes, unless the token is already newer than `seen`.
    async fn refresh(&mut self, sdk: &DigiMe, contract: &ContractDetails, seen: u64) -> Result<()> {
        match self {
            TokenState::Owned {
                token,
                generation,
                refreshed,
                on_change,
            } => {
                let fresh = refresh(sdk, contract, token).await?;
                *token = Arc::new(fresh);
                *generation += 1;
                *refreshed = true;
                if let Some(hook) = on_change.as_mut() {
                    hook(token);
                }
            }
            TokenState::Shared {
                session,
                refreshed,
                on_change,
            } => {
                if let Some(fresh) = session.refresh_from(seen).await?
                    && let Some(hook) = on_change.as_mut()
                {
                    hook(&fresh);
                }
                *refreshed = true;
            }
        }
        Ok(())
    }

    /// Whether this call refreshed the token.
    pub(crate) fn refreshed(&self) -> bool {
        match self {
            TokenState::Owned { refreshed, .. } | TokenState::Shared { refreshed, .. } => {
                *refreshed
            }
        }
    }

    /// The token to hand back to the caller, and whether it changed.
    pub(crate) fn finish(self) -> (UserAccessToken, bool) {
        match self {
            TokenState::Owned {
                token, refreshed, ..
            } => (Arc::unwrap_or_clone(token), refreshed),
            TokenState::Shared {
                session, refreshed, ..
            } => (Arc::unwrap_or_clone(session.current().0), refreshed),
        }
    }
}

/// Runs a call made for a user:
/// 1. refresh first when the access token expires within the skew;
/// 2. send; on a 401 `InvalidToken` (or a bare 401), refresh once, tell the
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
            err.with_user_access_token(Arc::unwrap_or_clone(state.current().0))
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
    let mut refreshed_here = false;
    let (token, generation) = state.current();
    if token.access_token().expires_within(sdk.inner.refresh_skew)
        && !token.refresh_token().expires_within(Duration::ZERO)
    {
        tracing::debug!(
            endpoint = call.endpoint,
            "access token expires soon: refreshing first"
        );
        match state.refresh(sdk, contract, generation).await {
            Ok(()) => refreshed_here = true,
            // A passing failure while the token still works: use it.
            Err(err)
                if !err.is_reauthorization_required()
                    && !token.access_token().expires_within(Duration::ZERO) =>
            {
                tracing::debug!(error = %err, "early refresh failed; the token still works");
            }
            Err(err) => return Err(err),
        }
    }
    let (token, generation) = state.current();
    match sdk.execute(call, Some(token.access_token().value())).await {
        Err(err) if is_invalid_token(&err) && !refreshed_here => {
            tracing::debug!(
                endpoint = call.endpoint,
                "access token rejected: refreshing"
            );
            state.refresh(sdk, contract, generation).await?;
            let (token, _) = state.current();
            if !call.body.can_send() {
                return Err(Error::data_not_replayable(Arc::unwrap_or_clone(token)));
            }
            sdk.execute(call, Some(token.access_token().value())).await
        }
        other => other,
    }
}
