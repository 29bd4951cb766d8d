//! The OAuth endpoints: `GET jwks/oauth` (the server's key set),
//! `POST oauth/authorize` (a preauthorization code for the onboard page) and
//! `POST oauth/token` (the authorization-code and refresh grants).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::ApiResult;
use super::authenticate::{Caller, UserMode, authenticate};
use super::body::read_body;
use crate::sandbox::server::{ApiError, RecordSlot};
use crate::sandbox::state::{CODE_TTL_MS, Issued, Preauth, Shared};
use crate::sandbox::util::{now_ms, random_alnum};

/// The largest `oauth/authorize` body read.
const MAX_AUTHORIZE_BODY: u64 = 1 << 20;

/// `GET jwks/oauth`.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"keys": [{"kid": shared.server_key.kid, "pem": shared.server_key.public_pem}]}))
        .into_response()
}

/// `POST oauth/authorize`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Optional)?;
    let bytes = read_body(body, MAX_AUTHORIZE_BODY, &slot).await?;
    check_agent_body(&bytes)?;
    let redirect_uri = redirect_uri_claim(&caller)?;
    let state = optional_string_claim(&caller, "state")?.unwrap_or_default();
    for (claim, expected) in [
        ("response_mode", "query"),
        ("response_type", "code"),
        ("code_challenge_method", "S256"),
    ] {
        if caller.claim_str(claim)? != expected {
            return Err(ApiError::validation(format!(
                "the `{claim}` claim must be \"{expected}\""
            )));
        }
    }
    let challenge = code_challenge_claim(&caller)?;
    let code = random_alnum(32);
    let now = now_ms();
    shared.lock().preauth.insert(
        code.clone(),
        Preauth {
            client_id: caller.client_id.clone(),
            redirect_uri,
            state,
            code_challenge: challenge,
            user: caller.user.clone(),
            expires_ms: now + CODE_TTL_MS,
            used: false,
        },
    );
    let token = server_jwt(
        &shared,
        &json!({"preauthorization_code": code, "iat": now / 1000, "exp": now / 1000 + 600}),
    )?;
    Ok(Json(json!({
        "token": token,
        "session": {"key": random_alnum(32), "expiry": now + 30 * 60 * 1000},
    }))
    .into_response())
}

/// The body of `oauth/authorize` and `oauth/token/reference`: JSON with a
/// non-empty `agent.sdk.name`, and `actions`, when present, an object.
/// Returns whether `actions` is present.
pub(super) fn check_agent_body(bytes: &[u8]) -> ApiResult<bool> {
    let request: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::validation(format!("body: not JSON ({e})")))?;
    let sdk_name = request
        .pointer("/agent/sdk/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if sdk_name.is_none() {
        return Err(ApiError::validation(
            "body: agent.sdk.name is required (a non-empty string)",
        ));
    }
    match request.get("actions") {
        None => Ok(false),
        Some(Value::Object(_)) => Ok(true),
        Some(_) => Err(ApiError::validation(
            "body: actions must be an object (leave it out when there are no session options)",
        )),
    }
}

/// The `redirect_uri` claim: an absolute http(s) URL, or
/// `400 InvalidRedirectUri`.
pub(super) fn redirect_uri_claim(caller: &Caller) -> ApiResult<String> {
    let redirect_uri = caller
        .claim_str("redirect_uri")
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "InvalidRedirectUri", e.message))?;
    if !is_absolute_http_url(redirect_uri) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRedirectUri",
            "redirect_uri: must be an absolute http or https URL",
        ));
    }
    Ok(redirect_uri.to_string())
}

/// An absolute http or https URL with a host.
pub(super) fn is_absolute_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A claim that may be missing (or null), else a string.
pub(super) fn optional_string_claim(caller: &Caller, name: &str) -> ApiResult<Option<String>> {
    match caller.claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::validation(format!(
            "the `{name}` claim must be a string"
        ))),
    }
}

/// The `code_challenge` claim: base64url(SHA-256(code_verifier)), 43
/// characters without padding.
pub(super) fn code_challenge_claim(caller: &Caller) -> ApiResult<String> {
    let challenge = caller.claim_str("code_challenge")?;
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::validation(
            "the `code_challenge` claim must be base64url(SHA-256(code_verifier)) without padding",
        ));
    }
    Ok(challenge.to_string())
}

fn token_response(shared: &Shared, issued: &Issued) -> ApiResult {
    let now_s = now_ms() / 1000;
    let payload = json!({
        "access_token": {"value": issued.access, "expires_on": issued.access_expiry_s},
        "refresh_token": {"value": issued.refresh, "expires_on": issued.refresh_expiry_s},
        "sub": issued.user,
        "consentid": issued.consent_id,
        "token_type": "Bearer",
        "iat": now_s,
    });
    let token = server_jwt(shared, &payload)?;
    Ok(Json(json!({"token": token})).into_response())
}

/// `payload` signed with the server's key, its `jku` on this sandbox.
pub(super) fn server_jwt(shared: &Shared, payload: &Value) -> ApiResult<String> {
    shared.server_key.sign(&shared.jku(), payload).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            e.to_string(),
        )
    })
}

/// `POST oauth/token`: the authorization-code and refresh grants.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::None)?;
    let issued = match caller.claim_str("grant_type")? {
        "authorization_code" => authorization_code_grant(&shared, &caller)?,
        "refresh_token" => refresh_grant(&shared, &caller)?,
        other => {
            return Err(ApiError::invalid_request(format!(
                "grant_type `{other}` is not supported"
            )));
        }
    };
    token_response(&shared, &issued)
}

/// The authorization-code grant: a single-use code, issued to this
/// contract, not expired, whose PKCE challenge the `code_verifier` meets.
fn authorization_code_grant(shared: &Shared, caller: &Caller) -> ApiResult<Issued> {
    let code = caller.claim_str("code")?;
    let verifier = caller.claim_str("code_verifier")?;
    let mut st = shared.lock();
    let found = st
        .codes
        .get_mut(code)
        .ok_or_else(|| ApiError::invalid_request("the authorization code is unknown"))?;
    if found.used {
        return Err(ApiError::invalid_request(
            "the authorization code was already used",
        ));
    }
    found.used = true;
    if found.client_id != caller.client_id {
        return Err(ApiError::invalid_request(
            "the authorization code was issued to another contract",
        ));
    }
    if found.expires_ms <= now_ms() {
        return Err(ApiError::invalid_request(
            "the authorization code has expired",
        ));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != found.code_challenge {
        return Err(ApiError::invalid_request(
            "the code_verifier does not match the code_challenge (PKCE S256)",
        ));
    }
    let (user, consent) = (found.user.clone(), found.consent_id.clone());
    // A reauthorization replaces the lapsed pair it was made with.
    if let Some(lapsed) = found.replaces.take() {
        st.end_pair(&lapsed);
    }
    Ok(st.issue(&user, &caller.client_id, &consent))
}

/// The refresh grant. A valid refresh token is spent, and its access token
/// with it. An expired one is kept, so that a second try still says it
/// expired, and so is its access token: the reauthorize flow accepts it.
fn refresh_grant(shared: &Shared, caller: &Caller) -> ApiResult<Issued> {
    let refresh = caller.claim_str("refresh_token")?;
    let mut st = shared.lock();
    let grant = st.refresh.get(refresh).ok_or_else(|| {
        ApiError::invalid_token("the refresh token is unknown or was already used")
    })?;
    if grant.client_id != caller.client_id {
        return Err(ApiError::invalid_token(
            "the refresh token was issued to another contract",
        ));
    }
    if grant.expires_ms <= now_ms() {
        return Err(ApiError::invalid_token(
            "the refresh token has expired: the user must reauthorize",
        ));
    }
    let grant = st
        .refresh
        .remove(refresh)
        .ok_or_else(|| ApiError::invalid_token("the refresh token is unknown"))?;
    st.access.remove(&grant.access);
    st.refresh_count += 1;
    Ok(st.issue(&grant.user, &caller.client_id, &grant.consent_id))
}
