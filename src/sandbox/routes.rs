//! The sandbox's routes: each digi.me endpoint and each control endpoint,
//! and the layer every request passes (the request log and the faults).

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use super::state::Shared;
use super::{api, control, server};

/// All routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1.7/jwks/oauth", get(api::jwks))
        .route("/v1.7/oauth/authorize", post(api::authorize))
        .route("/v1.7/oauth/token", post(api::token))
        .route("/v1.7/oauth/token/reference", post(api::token_reference))
        .route("/v1.7/reference", post(api::reference))
        .route("/v1.7/permission-access/import", post(api::import))
        .route(
            "/v1.7/permission-access/import/h:accountId/{standard}/{version}",
            post(api::provider),
        )
        .route("/v1.7/permission-access/accounts", get(api::accounts))
        .route("/v1.7/permission-access/contract", get(api::contract))
        .route(
            "/v1.7/permission-access/revoke/h:accountId",
            get(api::revoke),
        )
        .route(
            "/v1.7/permission-access/service/h:accountId",
            delete(api::delete_account),
        )
        .route("/v1.7/user", delete(api::delete_user))
        .route("/apps/saas/authorize", get(api::onboard))
        .route("/apps/saas/user-reauth", get(api::user_reauth))
        .route("/apps/saas/onboard", get(api::onboard_service))
        .route("/apps/saas/reauthorize", get(api::reauthorize_account_page))
        .route("/apps/saas/revoke", get(api::revoke_page))
        .route("/sandbox/health", get(control::health))
        .route("/sandbox/contracts", post(control::post_contract))
        .route("/sandbox/users", post(control::post_user))
        .route("/sandbox/users/{user}/accounts", get(control::get_accounts))
        .route("/sandbox/users/{user}/token", post(control::post_token))
        .route("/sandbox/users/{user}/library", get(control::get_library))
        .route("/sandbox/users/{user}/provider", get(control::get_provider))
        .route(
            "/sandbox/users/{user}/expire-access-token",
            post(control::post_expire_access),
        )
        .route(
            "/sandbox/users/{user}/expire-refresh-token",
            post(control::post_expire_refresh),
        )
        .route(
            "/sandbox/faults",
            post(control::post_fault)
                .get(control::get_faults)
                .delete(control::delete_faults),
        )
        .route(
            "/sandbox/requests",
            get(control::get_requests).delete(control::delete_requests),
        )
        .route("/sandbox/token-lifetimes", post(control::post_lifetimes))
        .route("/sandbox/consent", post(control::post_consent))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            server::record_and_fault,
        ))
        .with_state(shared)
}
