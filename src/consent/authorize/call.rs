//! The `oauth/authorize` call and the onboard URL built from its answer.

use serde::{Deserialize, Serialize};

use super::authorization::Authorization;
use crate::DigiMe;
use crate::consent::oauth::ConsentState;
use crate::consent::options::PageOptions;
use crate::consent::page::{WithSession, agent_body, check_callback, page_url};
use crate::consent::pkce;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::{Body, Call};
use crate::validate;

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
    let call = Call::post("oauth/authorize", &contract)
        .claims(&claims)
        .body(Body::Bytes {
            content_type: "application/json",
            bytes: agent_body(options.pull.as_ref())?,
        });
    let access = user_access_token.as_ref().map(|t| t.access_token().value());
    let reply = sdk.transport().execute(&call, access).await?;
    let (payload, response): (PreauthorizationPayload, WithSession) =
        sdk.transport().verified(&reply, "oauth/authorize").await?;
    let url = page_url(&sdk, "authorize", &payload.preauthorization_code, |q| {
        options.append_source_query(q)
    })?;
    Ok(Authorization {
        url,
        code_verifier: verifier,
        session: response.session,
    })
}
