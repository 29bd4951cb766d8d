//! The digi.me API routes (`/v1.7/...`) and the onboard page
//! (`/apps/saas/authorize`).

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

use super::model::{LibraryEntry, ProviderEntry};
use super::server::{ApiError, RecordSlot, header_str};
use super::state::{
    AccessType, AccountRec, AuthCode, CODE_TTL_MS, Issued, Preauth, Shared, TIMESTAMP_WINDOW_MS,
};
use super::util::{hex, html_escape, now_ms, random_alnum};

type ApiResult<T = Response> = Result<T, ApiError>;

/// Claims whose values never reach the request log.
const SECRET_CLAIMS: &[&str] = &["access_token", "refresh_token", "code", "code_verifier"];
/// The largest JSON body read whole (provider pushes, authorize).
const MAX_JSON_BODY: u64 = 32 << 20;

/// Whether a route is called for a user.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserMode {
    /// No `access_token` needed (contract details, token).
    None,
    /// A valid `access_token` is required.
    Required,
    /// An `access_token` is checked when present (authorize).
    Optional,
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
}

impl Caller {
    fn user(&self) -> ApiResult<&str> {
        self.user
            .as_deref()
            .ok_or_else(|| ApiError::invalid_token("the call needs an `access_token` claim"))
    }

    fn claim_str(&self, name: &str) -> ApiResult<&str> {
        match self.claims.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::validation(format!(
                "the `{name}` claim must be a string"
            ))),
            None => Err(ApiError::validation(format!(
                "the `{name}` claim is missing"
            ))),
        }
    }

    fn require_write(&self) -> ApiResult<()> {
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
fn verify_jwt(jwt: &str, key: &DecodingKey) -> Result<Value, jsonwebtoken::errors::Error> {
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

/// Checks the Bearer JWT: PS512, the registered contract's key, the
/// `client_id`, the nonce, the timestamp and (per `mode`) the access token.
pub(crate) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    slot: &RecordSlot,
    mode: UserMode,
) -> ApiResult<Caller> {
    let auth = header_str(headers, "authorization")
        .ok_or_else(|| ApiError::validation("the Authorization header is missing"))?;
    let jwt = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::validation("the Authorization header is not `Bearer <JWT>`"))?;
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
    let client_id = match claims.get("client_id") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApiError::validation(
                "the `client_id` claim must be a string",
            ));
        }
        None => return Err(ApiError::validation("the `client_id` claim is missing")),
    };
    let found = {
        let st = shared.lock();
        st.contracts.get(&client_id).map(|c| {
            (
                c.app_id.clone(),
                c.contract_id.clone(),
                c.access_type,
                c.key.clone(),
            )
        })
    };
    let (app_id, contract_id, access_type, key) = found.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidClient",
            format!("no application and contract `{client_id}` is registered"),
        )
    })?;
    verify_jwt(jwt, &key).map_err(|e| {
        ApiError::validation(format!(
            "the Bearer JWT does not verify with contract `{contract_id}`'s key ({e})"
        ))
    })?;

    let nonce = match claims.get("nonce") {
        Some(Value::String(n)) if is_valid_nonce(n) => n.clone(),
        Some(_) => {
            return Err(ApiError::validation(
                "the `nonce` claim must be 32 characters from [A-Za-z0-9]",
            ));
        }
        None => return Err(ApiError::validation("the `nonce` claim is missing")),
    };
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

    let mut st = shared.lock();
    if !st.use_nonce(&nonce) {
        return Err(ApiError::invalid_request("the nonce was already used"));
    }
    let token_claim = match claims.get("access_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::invalid_token(
                "the `access_token` claim is not a string",
            ));
        }
    };
    let user = match (mode, token_claim) {
        (UserMode::None, _) | (UserMode::Optional, None) => None,
        (UserMode::Required, None) => {
            return Err(ApiError::invalid_token(
                "the `access_token` claim is missing",
            ));
        }
        (_, Some(token)) => {
            let grant = st
                .access
                .get(&token)
                .ok_or_else(|| ApiError::invalid_token("the access token is unknown"))?;
            if grant.client_id != client_id {
                return Err(ApiError::invalid_token(
                    "the access token was issued to another contract",
                ));
            }
            if grant.expires_ms <= now_ms() {
                return Err(ApiError::invalid_token("the access token has expired"));
            }
            Some(grant.user.clone())
        }
    };
    drop(st);
    Ok(Caller {
        client_id,
        app_id,
        contract_id,
        access_type,
        key,
        claims,
        user,
    })
}

/// `GET jwks/oauth`.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"keys": [{"kid": shared.server_key.kid, "pem": shared.server_key.public_pem}]}))
        .into_response()
}

/// `GET permission-access/contract`.
pub(crate) async fn contract(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::None)?;
    let st = shared.lock();
    let (pem, registered) = st
        .contracts
        .get(&caller.client_id)
        .map(|c| (c.public_key_pem.clone(), c.registered_ms))
        .unwrap_or_default();
    drop(st);
    Ok(Json(json!({
        "id": caller.contract_id,
        "accessType": caller.access_type.as_str(),
        "application": {
            "id": caller.app_id,
            "name": format!("Sandbox application {}", caller.app_id),
            "resources": {},
            "status": 1,
        },
        "certificate": pem,
        "certificateContractSchemaVersion": "1.0.0",
        "expirationDate": registered.saturating_add(365 * 24 * 60 * 60 * 1000),
        "partnerId": "sandbox-partner",
        "type": "json",
    }))
    .into_response())
}

/// `GET permission-access/accounts`.
pub(crate) async fn accounts(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Required)?;
    let user = caller.user()?;
    let st = shared.lock();
    let list: Vec<Value> = st
        .users
        .get(user)
        .map(|u| u.accounts.iter().map(AccountRec::to_json).collect())
        .unwrap_or_default();
    Ok(Json(Value::Array(list)).into_response())
}

/// `DELETE user`.
pub(crate) async fn delete_user(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Required)?;
    let user = caller.user()?.to_string();
    let app = caller.app_id.clone();
    let mut st = shared.lock();
    if let Some(u) = st.users.get_mut(&user) {
        u.library.retain(|e| e.app_id != app);
        u.provider.retain(|e| e.app_id != app);
    }
    let app_clients: Vec<String> = st
        .contracts
        .iter()
        .filter(|(_, c)| c.app_id == app)
        .map(|(id, _)| id.clone())
        .collect();
    st.access
        .retain(|_, g| !(g.user == user && app_clients.contains(&g.client_id)));
    st.refresh
        .retain(|_, g| !(g.user == user && app_clients.contains(&g.client_id)));
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header_str(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Checks that `jwt` has a readable header naming PS512. `malformed` and
/// `must_be` start the error messages, so that they name the JWT.
fn require_ps512(jwt: &str, malformed: &str, must_be: &str) -> ApiResult<()> {
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

/// Checks the `FileDescriptor` JWT and returns its `metadata`.
fn check_descriptor(headers: &HeaderMap, key: &DecodingKey) -> ApiResult<Value> {
    let jwt = header_str(headers, "filedescriptor")
        .ok_or_else(|| ApiError::validation("the FileDescriptor header is missing"))?;
    require_ps512(jwt, "FileDescriptor: not a JWT", "FileDescriptor: must be")?;
    let payload = verify_jwt(jwt, key).map_err(|e| {
        ApiError::validation(format!(
            "FileDescriptor: the JWT does not verify with the contract's key ({e})"
        ))
    })?;
    let obj = payload
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| {
            ApiError::validation(
                r#"FileDescriptor: the payload must be exactly {"metadata": {...}}"#,
            )
        })?;
    let metadata = obj
        .get("metadata")
        .ok_or_else(|| {
            ApiError::validation(
                r#"FileDescriptor: the payload must be exactly {"metadata": {...}}"#,
            )
        })?
        .clone();
    validate_metadata(&metadata)?;
    Ok(metadata)
}

/// The metadata schema.
fn validate_metadata(metadata: &Value) -> ApiResult<()> {
    let md = metadata
        .as_object()
        .ok_or_else(|| ApiError::validation("metadata: must be an object"))?;
    match md.get("mimeType") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::String(_)) => {
            return Err(ApiError::validation("metadata.mimeType: must not be empty"));
        }
        Some(_) => return Err(ApiError::validation("metadata.mimeType: must be a string")),
        None => return Err(ApiError::validation("metadata.mimeType: is required")),
    }
    match md.get("accounts") {
        Some(Value::Array(list)) if !list.is_empty() => {
            for (i, account) in list.iter().enumerate() {
                let ok = account
                    .as_object()
                    .and_then(|a| a.get("accountId"))
                    .is_some_and(Value::is_string);
                if !ok {
                    return Err(ApiError::validation(format!(
                        "metadata.accounts[{i}].accountId: must be a string in an object"
                    )));
                }
            }
        }
        Some(Value::Array(_)) => {
            return Err(ApiError::validation("metadata.accounts: must not be empty"));
        }
        Some(_) => {
            return Err(ApiError::validation(
                "metadata.accounts: must be an array of {accountId}",
            ));
        }
        None => return Err(ApiError::validation("metadata.accounts: is required")),
    }
    for field in ["tags", "reference"] {
        match md.get(field) {
            None => {}
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "metadata.{field}: must be an array of strings"
                )));
            }
        }
    }
    Ok(())
}

/// `POST permission-access/import`: the body is streamed.
pub(crate) async fn import(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Required)?;
    let user = caller.user()?.to_string();
    caller.require_write()?;
    if !content_type_is(&headers, "application/octet-stream") {
        return Err(ApiError::validation(
            "Content-Type: must be application/octet-stream",
        ));
    }
    let metadata = check_descriptor(&headers, &caller.key)?;

    let cap = shared.keep_bytes_cap;
    let mut body = body;
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut size: u64 = 0;
    let mut kept: Option<Vec<u8>> = Some(Vec::new());
    while let Some(data) = next_data(&mut body).await? {
        digest.update(&data);
        size = size.saturating_add(data.len() as u64);
        if size > cap {
            kept = None;
        } else if let Some(buf) = kept.as_mut() {
            buf.extend_from_slice(&data);
        }
    }
    let sha256 = hex(digest.finish().as_ref());
    slot.with(|r| {
        r.body_size = Some(size);
        r.body_sha256 = Some(sha256.clone());
    });
    let mime_type = metadata
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let entry = LibraryEntry {
        mime_type,
        size,
        sha256,
        descriptor: metadata,
        bytes: kept,
        app_id: caller.app_id.clone(),
        contract_id: caller.contract_id.clone(),
        received_at_ms: now_ms(),
    };
    let mut st = shared.lock();
    st.users.entry(user).or_default().library.push(entry);
    drop(st);
    let expires = now_ms() / 1000 + 30 * 24 * 60 * 60;
    Ok(Json(json!({"status": "delivered", "expires": expires})).into_response())
}

/// The next chunk of a request body's data (trailers are skipped), frame
/// by frame: a body is never collected whole here.
async fn next_data(body: &mut Body) -> ApiResult<Option<bytes::Bytes>> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("the body could not be read ({e})"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Reads a whole body, up to `limit` bytes.
async fn read_body(body: Body, limit: u64, slot: &RecordSlot) -> ApiResult<Vec<u8>> {
    let mut body = body;
    let mut buf = Vec::new();
    while let Some(data) = next_data(&mut body).await? {
        if buf.len() as u64 + data.len() as u64 > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationErrors",
                format!("the body is larger than {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&data);
    }
    let sha = super::util::sha256_hex(&buf);
    slot.with(|r| {
        r.body_size = Some(buf.len() as u64);
        r.body_sha256 = Some(sha);
    });
    Ok(buf)
}

/// `POST permission-access/import/h:accountId/{standard}/{version}`.
pub(crate) async fn provider(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Required)?;
    let user = caller.user()?.to_string();
    caller.require_write()?;
    let Path((standard, version)) =
        path.map_err(|e| ApiError::validation(format!("the path is malformed ({e})")))?;
    if standard != "fhir" {
        return Err(ApiError::validation(format!(
            "standard: `{standard}` is not supported (only `fhir`)"
        )));
    }
    if version != "stu3" && version != "3.0.2" {
        return Err(ApiError::validation(format!(
            "version: `{version}` is not supported (`stu3` or `3.0.2`)"
        )));
    }
    let account_id = header_str(&headers, "accountid")
        .ok_or_else(|| ApiError::validation("accountId: the header is missing"))?
        .to_string();
    let known = shared
        .lock()
        .users
        .get(&user)
        .is_some_and(|u| u.accounts.iter().any(|a| a.id == account_id));
    if !known {
        return Err(ApiError::validation(format!(
            "accountId: `{account_id}` is not one of the user's accounts"
        )));
    }
    if !content_type_is(&headers, "application/json") {
        return Err(ApiError::validation(
            "Content-Type: must be application/json",
        ));
    }
    let bytes = read_body(body, MAX_JSON_BODY, &slot).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::validation(format!("body: not JSON ({e})")))?;
    if !value.is_object() {
        return Err(ApiError::validation("body: must be a JSON object"));
    }
    let entry = ProviderEntry {
        account_id,
        standard,
        version,
        sha256: super::util::sha256_hex(&bytes),
        body: value,
        app_id: caller.app_id.clone(),
        contract_id: caller.contract_id.clone(),
        received_at_ms: now_ms(),
    };
    shared
        .lock()
        .users
        .entry(user)
        .or_default()
        .provider
        .push(entry);
    Ok(Json(json!({"status": "delivered"})).into_response())
}

/// `POST oauth/authorize`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::Optional)?;
    let bytes = read_body(body, 1 << 20, &slot).await?;
    let request: Value = serde_json::from_slice(&bytes)
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
    let redirect_uri = caller
        .claim_str("redirect_uri")
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "InvalidRedirectUri", e.message))?;
    let redirect_ok = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !redirect_ok {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRedirectUri",
            "redirect_uri: must be an absolute http or https URL",
        ));
    }
    let state = match caller.claims.get("state") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::validation("the `state` claim must be a string")),
    };
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
    let code = random_alnum(32);
    let now = now_ms();
    shared.lock().preauth.insert(
        code.clone(),
        Preauth {
            client_id: caller.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            state,
            code_challenge: challenge.to_string(),
            user: caller.user.clone(),
            expires_ms: now + CODE_TTL_MS,
            used: false,
        },
    );
    let token = shared
        .server_key
        .sign(
            &shared.jku(),
            &json!({"preauthorization_code": code, "iat": now / 1000, "exp": now / 1000 + 600}),
        )
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                e.to_string(),
            )
        })?;
    Ok(Json(json!({
        "token": token,
        "session": {"key": random_alnum(32), "expiry": now + 30 * 60 * 1000},
    }))
    .into_response())
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
    let token = shared
        .server_key
        .sign(&shared.jku(), &payload)
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                e.to_string(),
            )
        })?;
    Ok(Json(json!({"token": token})).into_response())
}

/// `POST oauth/token`: the authorization-code and refresh grants.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = authenticate(&shared, &headers, &slot, UserMode::None)?;
    let grant_type = caller.claim_str("grant_type")?;
    let issued = match grant_type {
        "authorization_code" => {
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
            st.issue(&user, &caller.client_id, &consent)
        }
        "refresh_token" => {
            let refresh = caller.claim_str("refresh_token")?;
            let mut st = shared.lock();
            let grant = st.refresh.remove(refresh).ok_or_else(|| {
                ApiError::invalid_token("the refresh token is unknown or was already used")
            })?;
            if grant.client_id != caller.client_id {
                st.refresh.insert(refresh.to_string(), grant);
                return Err(ApiError::invalid_token(
                    "the refresh token was issued to another contract",
                ));
            }
            st.access.remove(&grant.access);
            if grant.expires_ms <= now_ms() {
                return Err(ApiError::invalid_token("the refresh token has expired"));
            }
            st.refresh_count += 1;
            st.issue(&grant.user, &caller.client_id, &grant.consent_id)
        }
        other => {
            return Err(ApiError::invalid_request(format!(
                "grant_type `{other}` is not supported"
            )));
        }
    };
    token_response(&shared, &issued)
}

fn html_page(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><html><head><title>{t}</title></head><body><h1>{t}</h1><p>{m}</p><p>digi.me sandbox (not for production)</p></body></html>",
            t = html_escape(title),
            m = html_escape(message)
        ),
    )
        .into_response()
}

fn redirect(to: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(to) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "the redirect_uri does not parse",
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => html_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "the redirect URL is not a valid header",
        ),
    }
}

/// `GET /apps/saas/authorize?code=…&sourceType=pull|push[&service=…]`:
/// simulates the user's consent.
pub(crate) async fn onboard(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let mut code = None;
    let mut source_type = "pull";
    let mut service = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "sourceType" => {
                source_type = match v.as_ref() {
                    "pull" => "pull",
                    "push" => "push",
                    _ => {
                        return html_page(
                            StatusCode::BAD_REQUEST,
                            "Invalid request",
                            "sourceType must be `pull` or `push`",
                        );
                    }
                }
            }
            "service" => service = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(code) = code else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "the `code` parameter is missing",
        );
    };
    let mut st = shared.lock();
    let now = now_ms();
    let (redirect_uri, state, client_id, challenge, linked) = match st.preauth.get_mut(&code) {
        Some(p) if !p.used && p.expires_ms > now => {
            p.used = true;
            (
                p.redirect_uri.clone(),
                p.state.clone(),
                p.client_id.clone(),
                p.code_challenge.clone(),
                p.user.clone(),
            )
        }
        _ => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Invalid authorization",
                "this authorization link is unknown, expired or already used",
            );
        }
    };
    if let Some(error_code) = st.consent_failure.clone() {
        drop(st);
        return redirect(
            &redirect_uri,
            &[
                ("success", "false"),
                ("errorCode", &error_code),
                ("state", &state),
            ],
        );
    }
    let user = linked.unwrap_or_else(|| format!("user-{}", random_alnum(16)));
    let service_type_id = service
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(if source_type == "push" { 500 } else { 1 });
    let account = AccountRec::new(
        format!("acc-{}", random_alnum(12)),
        service_type_id,
        source_type,
    );
    let reference = account.reference.clone();
    st.users
        .entry(user.clone())
        .or_default()
        .accounts
        .push(account);
    let auth_code = random_alnum(32);
    st.codes.insert(
        auth_code.clone(),
        AuthCode {
            client_id,
            user,
            consent_id: format!("consent-{}", random_alnum(16)),
            code_challenge: challenge,
            expires_ms: now + CODE_TTL_MS,
            used: false,
        },
    );
    drop(st);
    redirect(
        &redirect_uri,
        &[
            ("success", "true"),
            ("code", &auth_code),
            ("state", &state),
            ("accountReference", &reference),
        ],
    )
}

/// Any other path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such endpoint in the sandbox",
    )
}

/// A known path with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "this endpoint does not take that method",
    )
}
