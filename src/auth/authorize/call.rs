//! The `oauth/authorize` call and the onboard URL built from its answer.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use super::Options;
use super::authorization::{Authorization, Session};
use crate::DigiMe;
use crate::auth::pkce;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::transport::{Body, Call, CallKind};
use crate::validate;

#[derive(Deserialize)]
struct AuthorizeResponse {
    token: String,
    session: Session,
}

#[derive(Deserialize)]
struct PreauthorizationPayload {
    preauthorization_code: String,
}

pub(super) async fn send(
    sdk: DigiMe,
    contract: ContractDetails,
    callback: String,
    state: String,
    options: Options,
) -> Result<Authorization> {
    let callback_url = Url::parse(&callback)
        .map_err(|e| Error::invalid_input("callback", format!("not a URL ({e})")))?;
    if !matches!(callback_url.scheme(), "http" | "https") {
        return Err(Error::invalid_input(
            "callback",
            "must be an http or https URL",
        ));
    }
    validate::no_control_chars("state", &state)?;
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
        state: &state,
        response_mode: "query",
        response_type: "code",
        code_challenge: pkce::code_challenge(&verifier),
        code_challenge_method: "S256",
    };
    let body = serde_json::json!({
        "agent": { "sdk": { "name": "rust", "version": env!("CARGO_PKG_VERSION"), "meta": {} } },
        "actions": match &options.pull { Some(pull) => serde_json::json!({ "pull": pull }), None => serde_json::json!({}) },
    });
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_input("pull_session", e))?;
    let call = Call {
        endpoint: "oauth/authorize",
        method: Method::POST,
        path: "oauth/authorize",
        contract: &contract,
        claims: &claims,
        headers: Vec::new(),
        body: Body::Bytes {
            content_type: "application/json",
            bytes: body.into(),
        },
        kind: CallKind::Idempotent,
        ambiguous: Default::default(),
    };
    let access = options
        .user_access_token
        .as_ref()
        .map(|t| t.access_token().value());
    let reply = sdk.execute(&call, access).await?;
    let response: AuthorizeResponse = reply.json("oauth/authorize")?;
    let payload: PreauthorizationPayload = sdk
        .inner
        .verifier
        .verify(&sdk.inner.http, &response.token)
        .await?;
    let url = onboard_url(&sdk, &payload.preauthorization_code, &options)?;
    Ok(Authorization {
        url,
        code_verifier: verifier,
        session: response.session,
    })
}

fn onboard_url(sdk: &DigiMe, code: &str, options: &Options) -> Result<Url> {
    let mut url = sdk
        .inner
        .onboard_url
        .join("authorize")
        .map_err(|e| Error::invalid_input("onboard_url", e))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code);
        q.append_pair("sourceType", options.source_type.as_str());
        if let Some(service) = options.service_id {
            q.append_pair("service", &service.to_string());
        }
        if let Some(locale) = &options.locale {
            q.append_pair("lng", locale);
        }
        if let Some(sample) = &options.sample_data {
            if let Some(set) = &sample.data_set {
                q.append_pair("sampleDataSet", set);
            }
            if sample.auto_onboard {
                q.append_pair("sampleDataAutoOnboard", "true");
            }
        }
        if let Some(trigger) = options.trigger_query {
            q.append_pair("triggerQuery", if trigger { "true" } else { "false" });
        }
        if let Some(scope) = &options.sources_scope {
            q.append_pair("sourcesScope", scope);
        }
        if let Some(include) = options.include_sample_data_only_sources {
            q.append_pair(
                "includeSampleDataOnlySources",
                if include { "true" } else { "false" },
            );
        }
    }
    Ok(url)
}
