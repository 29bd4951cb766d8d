//! The token refresher: the refresh grant, and the refresh-then-retry rule
//! that every call made for a user follows.

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::{Token, UserAccessToken};
use crate::transport::request::is_invalid_token;
use crate::transport::{Body, Call, Reply};

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
        Token::new(payload.access_token.value, payload.access_token.expires_on),
        Token::new(payload.refresh_token.value, payload.refresh_token.expires_on),
        payload.sub,
        payload.consentid,
    ))
}

/// The refresh grant. A 401 (`InvalidToken` or bare) means the refresh token
/// is spent or expired: [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired).
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
    let call = Call {
        endpoint: "oauth/token",
        method: Method::POST,
        path: "oauth/token",
        contract,
        claims: &claims,
        headers: Vec::new(),
        body: Body::Empty,
        side_effect: false,
    };
    let reply = match sdk.execute(&call, None).await {
        Ok(reply) => reply,
        Err(err) if is_invalid_token(&err) => {
            let server = err.server().cloned().unwrap_or_else(|| {
                crate::error::ServerError::new(401, None, None, None)
            });
            return Err(Error::reauthorization_required(server));
        }
        Err(err) => return Err(err),
    };
    let mut fresh = token_from_reply(sdk, &reply).await?;
    fresh.inherit_identity(token);
    tracing::info!(user = fresh.user_id().unwrap_or("-"), "access token refreshed");
    Ok(fresh)
}

/// The token of one call (or one push), and what happened to it.
pub(crate) struct TokenState {
    pub(crate) token: UserAccessToken,
    pub(crate) refreshed: bool,
    pub(crate) on_change: Option<OnTokenChange>,
}

impl TokenState {
    pub(crate) fn new(token: UserAccessToken, on_change: Option<OnTokenChange>) -> Self {
        Self {
            token,
            refreshed: false,
            on_change,
        }
    }

    async fn refresh(&mut self, sdk: &DigiMe, contract: &ContractDetails) -> Result<()> {
        self.token = refresh(sdk, contract, &self.token).await?;
        self.refreshed = true;
        if let Some(hook) = self.on_change.as_mut() {
            hook(&self.token);
        }
        Ok(())
    }
}

/// Runs a call made for a user:
/// 1. refresh first when the access token expires within the skew;
/// 2. send; on a 401 `InvalidToken` (or a bare 401), refresh once, tell the
///    caller the new token, and send once more with a new JWT.
pub(crate) async fn user_call<E: Serialize>(
    sdk: &DigiMe,
    contract: &ContractDetails,
    call: &Call<'_, E>,
    state: &mut TokenState,
) -> Result<Reply> {
    let mut refreshed_here = false;
    if state
        .token
        .access_token()
        .expires_within(sdk.inner.refresh_skew)
        && !state.token.refresh_token().expires_within(std::time::Duration::ZERO)
    {
        tracing::debug!(endpoint = call.endpoint, "access token expires soon: refreshing first");
        state.refresh(sdk, contract).await?;
        refreshed_here = true;
    }
    match sdk
        .execute(call, Some(state.token.access_token().value()))
        .await
    {
        Err(err) if is_invalid_token(&err) && !refreshed_here => {
            tracing::debug!(endpoint = call.endpoint, "access token rejected: refreshing");
            state.refresh(sdk, contract).await?;
            sdk.execute(call, Some(state.token.access_token().value()))
                .await
        }
        other => other,
    }
}
