//! One account of the user: `GET permission-access/revoke/h:accountId` (where
//! to send the user to revoke the application's permission for it) and
//! `DELETE permission-access/service/h:accountId`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::json;

use super::ApiResult;
use super::authenticate::{UserMode, authenticate};
use super::oauth::is_absolute_http_url;
use crate::sandbox::server::{ApiError, RecordSlot, header_str};
use crate::sandbox::state::{CODE_TTL_MS, Revocation, Shared};
use crate::sandbox::util::{now_ms, random_alnum};

/// The caller's user and the account the `accountId` header names: one of
/// that user's accounts, or `406 ValidationErrors`.
fn user_and_account(
    shared: &Shared,
    headers: &HeaderMap,
    slot: &RecordSlot,
) -> ApiResult<(String, String)> {
    let caller = authenticate(shared, headers, slot, UserMode::Required)?;
    let user = caller.user()?.to_string();
    let account_id = header_str(headers, "accountid")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::validation("accountId: the header is missing"))?;
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
    Ok((user, account_id.to_string()))
}

/// `GET permission-access/revoke/h:accountId`: `{"location"}`, a page where
/// the user revokes the permission (the sandbox revokes at once when it is
/// opened) and is then sent to `redirectUri`.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, account_id) = user_and_account(&shared, &headers, &slot)?;
    let redirect_uri = header_str(&headers, "redirecturi")
        .filter(|r| is_absolute_http_url(r))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRedirectUri",
                "redirectUri: the header must be an absolute http or https URL",
            )
        })?
        .to_string();
    let code = random_alnum(32);
    shared.lock().revocations.insert(
        code.clone(),
        Revocation {
            user,
            account_id,
            redirect_uri,
            expires_ms: now_ms() + CODE_TTL_MS,
            used: false,
        },
    );
    let location = format!("{}revoke?code={code}", shared.onboard_url);
    Ok(Json(json!({ "location": location })).into_response())
}

/// `DELETE permission-access/service/h:accountId`: the account is gone from
/// the user's accounts (what was pushed to it stays in the library).
pub(crate) async fn delete_account(
    State(shared): State<Arc<Shared>>,
    Extension(slot): Extension<RecordSlot>,
    headers: HeaderMap,
) -> ApiResult {
    let (user, account_id) = user_and_account(&shared, &headers, &slot)?;
    if let Some(u) = shared.lock().users.get_mut(&user) {
        u.accounts.retain(|a| a.id != account_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
