//! `GET permission-access/contract`: what digi.me says about the caller's
//! contract.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::json;

use super::ApiResult;
use super::authenticate::{UserMode, authenticate};
use crate::sandbox::server::RecordSlot;
use crate::sandbox::state::Shared;

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
