//! `POST oauth/token/reference`: the reference code that the reauthorize,
//! onboard and reauthorize-account flows start with.
//!
//! The call is made for the user (`access_token` in the Bearer JWT), with the
//! callback (`redirect_uri`), the `state` when given, and, for the
//! reauthorize flow only, the PKCE challenge. Its answer is a server JWT
//! whose payload holds `reference_code`, and maybe a session.

use serde::{Deserialize, Serialize};

use super::authorize::ReadSession;
use super::options::PullSessionOptions;
use super::page::{WithSession, agent_body};
use crate::DigiMe;
use crate::client::{TokenState, user_call};
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::{Body, Call};

/// The claims of the call beyond `client_id`, `nonce`, `timestamp` and
/// `access_token`.
#[derive(Serialize)]
pub(crate) struct ReferenceClaims<'a> {
    pub(crate) redirect_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<&'a str>,
    /// base64url(SHA-256(code verifier)): the reauthorize flow only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code_challenge_method: Option<&'static str>,
}

/// Whose token the call carries, and whether a rejected one is refreshed.
pub(crate) enum Sender<'a> {
    /// The token as it is, never refreshed: the reauthorize flow, whose
    /// user's refresh token has run out (digi.me accepts their last access
    /// token for this call).
    AsIs(&'a UserAccessToken),
    /// A call made for the user like any other: refreshed first when it is
    /// about to expire, and once on a 401.
    Refreshing(&'a mut TokenState),
}

/// What the call returns.
pub(crate) struct Reference {
    pub(crate) code: String,
    pub(crate) session: Option<ReadSession>,
}

#[derive(Deserialize)]
struct ReferencePayload {
    reference_code: String,
}

/// Makes the call and verifies the server's JWT.
pub(crate) async fn reference_code(
    sdk: &DigiMe,
    contract: &ContractDetails,
    sender: Sender<'_>,
    claims: &ReferenceClaims<'_>,
    pull: Option<&PullSessionOptions>,
) -> Result<Reference> {
    let call = Call::post("oauth/token/reference", contract)
        .claims(claims)
        .body(Body::Bytes {
            content_type: "application/json",
            bytes: agent_body(pull)?,
        });
    let reply = match sender {
        Sender::AsIs(token) => {
            sdk.transport()
                .execute(&call, Some(token.access_token().value()))
                .await?
        }
        Sender::Refreshing(tokens) => user_call(sdk, contract, &call, tokens).await?,
    };
    let (payload, response): (ReferencePayload, WithSession) = sdk
        .transport()
        .verified(&reply, "oauth/token/reference")
        .await?;
    Ok(Reference {
        code: payload.reference_code,
        session: response.session,
    })
}
