//! `POST permission-access/import` (a file into the library, streamed) and
//! `POST permission-access/import/h:accountId/{standard}/{version}` (a FHIR
//! record to a provider account), with the `FileDescriptor` checks.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};

use super::ApiResult;
use super::authenticate::{UserMode, authenticate, require_ps512, verify_jwt};
use super::body::{content_type_is, next_data, read_body};
use crate::sandbox::model::{LibraryEntry, ProviderEntry};
use crate::sandbox::server::{ApiError, RecordSlot, header_str};
use crate::sandbox::state::Shared;
use crate::sandbox::util::{hex, now_ms, sha256_hex};

/// The largest provider push (a JSON body, read whole).
const MAX_JSON_BODY: u64 = 32 << 20;

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
        received_at: SystemTime::now(),
    };
    let mut st = shared.lock();
    st.users.entry(user).or_default().library.push(entry);
    drop(st);
    let expires = now_ms() / 1000 + 30 * 24 * 60 * 60;
    Ok(Json(json!({"status": "delivered", "expires": expires})).into_response())
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
    let authorized = shared
        .lock()
        .users
        .get(&user)
        .and_then(|u| u.accounts.iter().find(|a| a.id == account_id))
        .map(|a| a.authorized);
    match authorized {
        None => {
            return Err(ApiError::validation(format!(
                "accountId: `{account_id}` is not one of the user's accounts"
            )));
        }
        Some(false) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ServiceAuthorizationError",
                format!(
                    "the user revoked the permission for account `{account_id}`: it must be \
                     reauthorized"
                ),
            ));
        }
        Some(true) => {}
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
        sha256: sha256_hex(&bytes),
        body: value,
        app_id: caller.app_id.clone(),
        contract_id: caller.contract_id.clone(),
        received_at: SystemTime::now(),
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
