//! The check every API route makes first: the Bearer JWT. PS512, signed by
//! the registered contract's key, a known `client_id`, a fresh nonce, a
//! timestamp within the window and, per route, a valid access token.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::ApiResult;
use crate::sandbox::server::{ApiError, RecordSlot, header_str};
use crate::sandbox::state::{AccessType, Shared, State, TIMESTAMP_WINDOW_MS};
use crate::sandbox::util::now_ms;

/// Claims whose values never reach the request log.
const SECRET_CLAIMS: &[&str] = &["access_token", "refresh_token", "code", "code_verifier"];

/// Whether a route is called for a user.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserMode {
    /// No `access_token` needed (contract info, token).
    None,
    /// A valid `access_token` is required.
    Required,
    /// An `access_token` is checked when present (authorize).
    Optional,
    /// A valid `access_token` is required, or the last one of a user whose
    /// refresh token has run out (`oauth/token/reference`: the handler
    /// accepts such a lapsed token for the reauthorize flow only).
    RequiredOrLapsed,
}

/// An authenticated caller.
pub(crate) struct Caller {
    pub(crate) client_id: String,
    pub(crate) app_id: String,
    pub(crate) contract_id: String,
    pub(crate) access_type: AccessType,
    pub(crate) key: Arc<DecodingKey>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) user: Option<String>,
    /// The `access_token` has expired, and so has its refresh token
    /// ([`UserMode::RequiredOrLapsed`] only).
    pub(crate) lapsed: bool,
}

impl Caller {
    pub(super) fn user(&self) -> ApiResult<&str> {
        self.user
            .as_deref()
            .ok_or_else(|| ApiError::invalid_token("the call needs an `access_token` claim"))
    }

    pub(super) fn claim_str(&self, name: &str) -> ApiResult<&str> {
        string_claim(&self.claims, name)
    }

    pub(super) fn require_write(&self) -> ApiResult<()> {
        if self.access_type == AccessType::Write {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "InsufficientScope",
                format!(
                    "contract `{}` is a read contract: it may not push data",
                    self.contract_id
                ),
            ))
        }
    }
}

/// Checks the Bearer JWT: PS512, the registered contract's key, the
/// `client_id`, the nonce, the timestamp and (per `mode`) the access token.
pub(crate) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    slot: &RecordSlot,
    mode: UserMode,
) -> ApiResult<Caller> {
    let jwt = bearer_jwt(headers)?;
    require_ps512(jwt, "the Bearer JWT is malformed", "the Bearer JWT must be")?;
    let claims = read_payload(jwt)
        .ok_or_else(|| ApiError::validation("the Bearer JWT payload is not a JSON object"))?;
    slot.with(|r| {
        r.claims = Some(redact(&claims));
        r.nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_string);
    });
    let client_id = string_claim(&claims, "client_id")?.to_owned();
    let contract = registered_contract(shared, &client_id)?;
    verify_jwt(jwt, &contract.key).map_err(|e| {
        ApiError::validation(format!(
            "the Bearer JWT does not verify with contract `{}`'s key ({e})",
            contract.contract_id
        ))
    })?;
    let nonce = nonce_claim(&claims)?;
    check_timestamp(&claims)?;

    let mut st = shared.lock();
    if !st.use_nonce(nonce) {
        return Err(ApiError::invalid_request("the nonce was already used"));
    }
    let (user, lapsed) = user_of(&st, &claims, &client_id, mode)?;
    drop(st);
    Ok(Caller {
        client_id,
        app_id: contract.app_id,
        contract_id: contract.contract_id,
        access_type: contract.access_type,
        key: contract.key,
        claims,
        user,
        lapsed,
    })
}

/// The JWT of the `Authorization: Bearer <JWT>` header.
fn bearer_jwt(headers: &HeaderMap) -> ApiResult<&str> {
    let auth = header_str(headers, "authorization")
        .ok_or_else(|| ApiError::validation("the Authorization header is missing"))?;
    auth.strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::validation("the Authorization header is not `Bearer <JWT>`"))
}

/// A claim that must be a string.
fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> ApiResult<&'a str> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::validation(format!(
            "the `{name}` claim must be a string"
        ))),
        None => Err(ApiError::validation(format!(
            "the `{name}` claim is missing"
        ))),
    }
}

/// What the sandbox knows of a registered application and contract.
struct Registered {
    app_id: String,
    contract_id: String,
    access_type: AccessType,
    key: Arc<DecodingKey>,
}

/// The contract registered as `client_id`, or `403 InvalidClient`.
fn registered_contract(shared: &Shared, client_id: &str) -> ApiResult<Registered> {
    let st = shared.lock();
    st.contracts
        .get(client_id)
        .map(|c| Registered {
            app_id: c.app_id.clone(),
            contract_id: c.contract_id.clone(),
            access_type: c.access_type,
            key: c.key.clone(),
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "InvalidClient",
                format!("no application and contract `{client_id}` is registered"),
            )
        })
}

/// The `nonce` claim: 32 characters from `[A-Za-z0-9]`.
fn nonce_claim(claims: &Map<String, Value>) -> ApiResult<&str> {
    match claims.get("nonce") {
        Some(Value::String(n)) if is_valid_nonce(n) => Ok(n),
        Some(_) => Err(ApiError::validation(
            "the `nonce` claim must be 32 characters from [A-Za-z0-9]",
        )),
        None => Err(ApiError::validation("the `nonce` claim is missing")),
    }
}

/// The `timestamp` claim: milliseconds, within the window of the server's
/// clock.
fn check_timestamp(claims: &Map<String, Value>) -> ApiResult<()> {
    let timestamp = match claims.get("timestamp") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| {
                ApiError::validation("the `timestamp` claim must be milliseconds since the epoch")
            })?,
        Some(_) => {
            return Err(ApiError::validation(
                "the `timestamp` claim must be a JSON number (milliseconds)",
            ));
        }
        None => return Err(ApiError::validation("the `timestamp` claim is missing")),
    };
    if now_ms().abs_diff(timestamp) > TIMESTAMP_WINDOW_MS {
        return Err(ApiError::invalid_request(
            "the `timestamp` claim is more than 5 minutes from the server's clock",
        ));
    }
    Ok(())
}

/// The user the `access_token` claim stands for, as `mode` requires it, and
/// whether the token is a lapsed one.
fn user_of(
    st: &State,
    claims: &Map<String, Value>,
    client_id: &str,
    mode: UserMode,
) -> ApiResult<(Option<String>, bool)> {
    let token_claim = match claims.get("access_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(ApiError::invalid_token(
                "the `access_token` claim is not a string",
            ));
        }
    };
    match (mode, token_claim) {
        (UserMode::None, _) | (UserMode::Optional, None) => Ok((None, false)),
        (UserMode::Required | UserMode::RequiredOrLapsed, None) => Err(ApiError::invalid_token(
            "the `access_token` claim is missing",
        )),
        (_, Some(token)) => {
            let grant = st
                .access
                .get(token)
                .ok_or_else(|| ApiError::invalid_token("the access token is unknown"))?;
            if grant.client_id != client_id {
                return Err(ApiError::invalid_token(
                    "the access token was issued to another contract",
                ));
            }
            if grant.expires_ms > now_ms() {
                Ok((Some(grant.user.clone()), false))
            } else if mode == UserMode::RequiredOrLapsed && st.is_lapsed(grant) {
                Ok((Some(grant.user.clone()), true))
            } else {
                Err(ApiError::invalid_token("the access token has expired"))
            }
        }
    }
}

/// The claims as logged: secret values replaced.
fn redact(claims: &Map<String, Value>) -> Value {
    let mut out = claims.clone();
    for key in SECRET_CLAIMS {
        if let Some(v) = out.get_mut(*key) {
            *v = Value::String("[redacted]".into());
        }
    }
    Value::Object(out)
}

/// The unverified payload of a JWT, when it is a JSON object.
fn read_payload(jwt: &str) -> Option<Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (_, payload, _, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if rest.is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Verifies a PS512 JWT's signature (no claim checks).
pub(super) fn verify_jwt(
    jwt: &str,
    key: &DecodingKey,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::PS512);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, key, &validation).map(|d| d.claims)
}

fn is_valid_nonce(nonce: &str) -> bool {
    nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Checks that `jwt` has a readable header naming PS512. `malformed` and
/// `must_be` start the error messages, so that they name the JWT.
pub(super) fn require_ps512(jwt: &str, malformed: &str, must_be: &str) -> ApiResult<()> {
    let header = jsonwebtoken::decode_header(jwt)
        .map_err(|e| ApiError::validation(format!("{malformed} ({e})")))?;
    if header.alg != Algorithm::PS512 {
        return Err(ApiError::validation(format!(
            "{must_be} signed with PS512, not {:?}",
            header.alg
        )));
    }
    Ok(())
}
