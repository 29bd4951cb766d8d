//! `GET permission-access/accounts`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::Value;

use super::ApiResult;
use super::authenticate::{UserMode, authenticate};
use crate::sandbox::server::RecordSlot;
use crate::sandbox::state::{AccountRec, Shared};

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
