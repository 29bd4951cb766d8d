//! `POST oauth/token/reference` (the reference code of the reauthorize,
//! onboard and reauthorize-account flows) and `POST reference` (an account
//! reference for the reauthorize page).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::ApiResult;
use super::authenticate::{UserMode, authenticate};
use super::body::read_body;
use super::oauth::{
    check_agent_body, code_challenge_claim, optional_string_claim, redirect_uri_claim, server_jwt,
};
use crate::sandbox::server::{ApiError, RecordSlot};
use crate::sandbox::state::{AccountReference, CODE_TTL_MS, ReferenceCode, Shared};
use crate::sandbox::util::{now_ms, random_alnum};

/// The largest body either call reads.
const MAX_BODY: u64 = 1 << 20;

/// The claims `POST reference` takes: no others.
const REFERENCE_CLAIMS: [&str; 3] = ["client_id", "nonce", "timestamp"];

/// `POST oauth/token/reference`.
pub(crate) async fn token_reference(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::RequiredOrLapsed)?;
    let user = caller.user()?.to_string();
    let bytes = read_body(body, MAX_BODY, &slot).await?;
    let has_actions = check_agent_body(&bytes)?;
    let redirect_uri = redirect_uri_claim(&caller)?;
    let state = optional_string_claim(&caller, "state")?;
    let pkce = (
        caller.claims.contains_key("code_challenge"),
        caller.claims.get("code_challenge_method"),
    );
    let code_challenge = match pkce {
        (false, None) => None,
        (true, Some(Value::String(method))) if method == "S256" => {
            Some(code_challenge_claim(&caller)?)
        }
        (true, Some(_)) => {
            return Err(ApiError::validation(
                "the `code_challenge_method` claim must be \"S256\"",
            ));
        }
        _ => {
            return Err(ApiError::validation(
                "the `code_challenge` and `code_challenge_method` claims go together",
            ));
        }
    };
    // The last access token of a user whose refresh token ran out opens the
    // reauthorize flow (with a code challenge), and nothing else.
    if caller.lapsed && code_challenge.is_none() {
        return Err(ApiError::invalid_token("the access token has expired"));
    }
    let access_token = caller.claim_str("access_token")?.to_string();
    let code = random_alnum(32);
    let now = now_ms();
    shared.lock().references.insert(
        code.clone(),
        ReferenceCode {
            client_id: caller.client_id.clone(),
            redirect_uri,
            state,
            user,
            code_challenge,
            access_token,
            expires_ms: now + CODE_TTL_MS,
            used: false,
        },
    );
    let token = server_jwt(
        &shared,
        &json!({"reference_code": code, "iat": now / 1000, "exp": now / 1000 + 600}),
    )?;
    // A session is opened for read-session options only: without `actions`
    // the answer has no `session`.
    let mut answer = json!({ "token": token });
    if has_actions {
        answer["session"] = json!({"key": random_alnum(32), "expiry": now + 30 * 60 * 1000});
    }
    Ok(Json(answer).into_response())
}

/// `POST reference`: `{"type":"accountId","value":<account id>}` → `{"id"}`.
pub(crate) async fn reference(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::None)?;
    if let Some(extra) = caller
        .claims
        .keys()
        .find(|k| !REFERENCE_CLAIMS.contains(&k.as_str()))
    {
        return Err(ApiError::validation(format!(
            "the `{extra}` claim does not belong here: the Bearer JWT of `reference` holds only \
             client_id, nonce and timestamp"
        )));
    }
    let bytes = read_body(body, MAX_BODY, &slot).await?;
    let request: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::validation(format!("body: not JSON ({e})")))?;
    if request.get("type").and_then(Value::as_str) != Some("accountId") {
        return Err(ApiError::validation(
            "body: type must be \"accountId\" (the sandbox knows no other reference)",
        ));
    }
    let account_id = request
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::validation("body: value must be a non-empty account id"))?
        .to_string();
    let mut st = shared.lock();
    let known = st
        .users
        .values()
        .any(|u| u.accounts.iter().any(|a| a.id == account_id));
    if !known {
        return Err(ApiError::validation(format!(
            "value: no account `{account_id}` exists"
        )));
    }
    let id = format!("accref-{}", random_alnum(24));
    st.account_refs.insert(
        id.clone(),
        AccountReference {
            client_id: caller.client_id.clone(),
            account_id,
            expires_ms: now_ms() + CODE_TTL_MS,
        },
    );
    drop(st);
    Ok(Json(json!({ "id": id })).into_response())
}
