//! The refresh grant (`oauth/token` with `grant_type=refresh_token`), split
//! in its two steps, for the protocol to decide between them: the grant
//! itself, and the verification of the token digi.me answered with. Also
//! what both token grants share (the code exchange uses it too): the call
//! and the verified reply.

use secrecy::{ExposeSecret, SecretString};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

use crate::contract::ContractDetails;
use crate::error::{Error, ErrorKind, Result, ServerError};
use crate::token::{Token, UserAccessToken};
use crate::transport::request::is_invalid_token;
use crate::transport::{Call, CallKind, Reply, Transport};

/// `{"token": <server JWT>}` from `oauth/token`.
#[derive(Deserialize)]
struct TokenResponse {
    token: String,
}

/// The verified payload of the token JWT.
#[derive(Deserialize)]
struct TokenPayload {
    #[serde(deserialize_with = "object")]
    access_token: TokenPart,
    #[serde(deserialize_with = "object")]
    refresh_token: TokenPart,
    sub: Option<String>,
    consentid: Option<String>,
}

/// A token part read from a JSON object only: serde's derive alone would
/// also take an array (`["…", 0]` as value and expiry), a shape digi.me
/// never sends. It is an invalid response, like any other wrong shape.
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> std::result::Result<T, D::Error> {
    let fields = serde_json::Map::deserialize(deserializer)?;
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(D::Error::custom)
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
    Call::post("oauth/token", contract)
        .claims(claims)
        .kind(CallKind::TokenGrant)
}

/// The token JWT of an `oauth/token` reply, not yet verified.
fn token_jwt(reply: &Reply) -> Result<SecretString> {
    let response: TokenResponse = reply.json("oauth/token")?;
    Ok(SecretString::from(response.token))
}

/// Verifies a token JWT from `oauth/token` and maps it to the stored shape
/// (`expires_on` → `expiry`, `sub` → `user.id`).
pub(crate) async fn verify_token(
    transport: &Transport,
    http: &reqwest::Client,
    jwt: &SecretString,
) -> Result<UserAccessToken> {
    let payload: TokenPayload = transport.verifier.verify(http, jwt.expose_secret()).await?;
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

/// Verifies the token JWT in an `oauth/token` reply (the code exchange).
pub(crate) async fn token_from_reply(
    transport: &Transport,
    reply: &Reply,
) -> Result<UserAccessToken> {
    verify_token(transport, &transport.http, &token_jwt(reply)?).await
}

/// How a refresh grant ended, for the protocol's core.
pub(crate) enum Granted {
    /// digi.me answered with a token (not yet verified).
    Answer(SecretString),
    /// digi.me refused the refresh token (`401 InvalidToken`).
    Refused(Error),
    /// It may have happened: the answer is lost or unreadable.
    Unsure(Error),
    /// It certainly did not happen.
    Failed(Error),
}

/// The refresh grant for `token`, sent on `http`.
///
/// Sent again only after a failure that says digi.me did not handle it. A
/// 401 with digi.me's `InvalidToken` code is a refusal; a bare 401 (from a
/// proxy, say) is not: it did not come from digi.me's token endpoint.
pub(crate) async fn grant(
    transport: &Transport,
    http: &reqwest::Client,
    contract: &ContractDetails,
    token: &UserAccessToken,
) -> Granted {
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
    match transport.execute_on(http, &call, None).await {
        Ok(reply) => match token_jwt(&reply) {
            Ok(jwt) => Granted::Answer(jwt),
            // A success whose token cannot be read: the refresh happened.
            Err(err) => Granted::Unsure(err),
        },
        Err(err) if is_refusal(&err) => {
            let server = err
                .server()
                .cloned()
                .unwrap_or_else(|| ServerError::new(401, None, None, None));
            Granted::Refused(Error::reauthorization_required(server))
        }
        Err(err) if call.was_ambiguous() => Granted::Unsure(err),
        Err(err) => Granted::Failed(err),
    }
}

/// digi.me's refusal of a refresh token: a 401 with its `InvalidToken` code.
fn is_refusal(err: &Error) -> bool {
    is_invalid_token(err) && err.code() == Some("InvalidToken")
}

/// True when a verification failure may pass (the key set could not be
/// fetched: a transport failure, a server error, an unreadable answer; or
/// it does not have the token's key yet), as opposed to a token that does
/// not verify.
pub(crate) fn may_pass(err: &Error) -> bool {
    !matches!(err.kind(), ErrorKind::TokenVerification) || crate::transport::is_unknown_kid(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_may_pass_a_bad_signature_does_not() {
        let missing = Error::token_verification("no key").with_source(crate::transport::UnknownKid);
        assert!(may_pass(&missing));
        assert!(!may_pass(&Error::token_verification(
            "the signature does not verify"
        )));
        assert!(may_pass(&Error::invalid_response(
            "the key set is not JSON"
        )));
    }
}
