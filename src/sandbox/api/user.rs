//! `DELETE user`: the user's data for the caller's application, and their
//! tokens, are gone.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::ApiResult;
use super::authenticate::{UserMode, authenticate};
use crate::sandbox::server::RecordSlot;
use crate::sandbox::state::Shared;

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
