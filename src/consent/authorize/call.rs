//! The `oauth/authorize` call and the onboard URL built from its answer.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::authorization::{Authorization, ReadSession};
use crate::DigiMe;
use crate::consent::oauth::ConsentState;
use crate::consent::options::PageOptions;
use crate::consent::page::{agent_body, check_callback, page_url};
use crate::consent::pkce;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::{Body, Call, CallKind};
use crate::validate;

#[derive(Deserialize)]
struct AuthorizeResponse {
    token: String,
    /// Missing is not an error (the official SDK defaults it too).
    #[serde(default)]
    session: Option<ReadSession>,
}

#[derive(Deserialize)]
struct PreauthorizationPayload {
    preauthorization_code: String,
}

pub(super) async fn send(
    sdk: DigiMe,
    contract: ContractDetails,
    callback: String,
    state: ConsentState,
    user_access_token: Option<UserAccessToken>,
    options: PageOptions,
) -> Result<Authorization> {
    check_callback(&callback)?;
    validate::no_control_chars("state", state.as_str())?;
    let verifier = pkce::code_verifier()?;

    #[derive(Serialize)]
    struct Claims<'a> {
        redirect_uri: &'a str,
        state: &'a str,
        response_mode: &'static str,
        response_type: &'static str,
        code_challenge: String,
        code_challenge_method: &'static str,
    }
    let claims = Claims {
        redirect_uri: &callback,
        state: state.as_str(),
        response_mode: "query",
        response_type: "code",
        code_challenge: pkce::code_challenge(&verifier),
        code_challenge_method: "S256",
    };
    let call = Call {
        endpoint: "oauth/authorize",
        method: Method::POST,
        path: "oauth/authorize",
        contract: &contract,
        claims: &claims,
        headers: Vec::new(),
        body: Body::Bytes {
            content_type: "application/json",
            bytes: agent_body(options.pull.as_ref())?,
        },
        kind: CallKind::Idempotent,
        ambiguous: Default::default(),
    };
    let access = user_access_token.as_ref().map(|t| t.access_token().value());
    let reply = sdk.transport().execute(&call, access).await?;
    let response: AuthorizeResponse = reply.json("oauth/authorize")?;
    let payload: PreauthorizationPayload = sdk.transport().verify(&response.token).await?;
    let url = page_url(&sdk, "authorize", &payload.preauthorization_code, |q| {
        options.append_source_query(q)
    })?;
    Ok(Authorization {
        url,
        code_verifier: verifier,
        session: response.session,
    })
}
