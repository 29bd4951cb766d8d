//! The refresh grant (`oauth/token` with `grant_type=refresh_token`), and
//! the code both token grants share: the call and the verified reply.
//!
//! Nothing calls [`refresh`] directly but the
//! [refresher](super::refresher) (which makes sure one refresh token is
//! spent once) and the token store's lease protocol, which the refresher
//! runs.

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::{Token, UserAccessToken};
use crate::transport::request::is_invalid_token;
use crate::transport::{Body, Call, CallKind, Reply};

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
