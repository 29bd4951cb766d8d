//! The digi.me API routes (`/v1.7/...`) and the consent pages
//! (`/apps/saas/...`), one file per endpoint group:
//!
//! - `authenticate.rs`: the Bearer JWT check every route makes first;
//! - `body.rs`: reading request bodies (streamed, or whole up to a limit);
//! - `oauth.rs`: `jwks/oauth`, `oauth/authorize`, `oauth/token`;
//! - `onboard.rs`: the consent page the authorize URL opens;
//! - `reference.rs`: `oauth/token/reference` and `reference`, the calls the
//!   reauthorize, onboard and reauthorize-account flows start with;
//! - `consent.rs`: the lifecycle's consent pages (`user-reauth`, `onboard`,
//!   `reauthorize`, `revoke`);
//! - `import.rs`: `permission-access/import`, library and provider pushes;
//! - `accounts.rs`: `permission-access/accounts`;
//! - `account.rs`: one account, `permission-access/revoke/h:accountId` and
//!   `DELETE permission-access/service/h:accountId`;
//! - `contract.rs`: `permission-access/contract`;
//! - `user.rs`: `DELETE user`.

mod account;
mod accounts;
mod authenticate;
mod body;
mod consent;
mod contract;
mod import;
mod oauth;
mod onboard;
mod reference;
mod user;

use axum::http::StatusCode;
use axum::response::Response;

use super::server::ApiError;

pub(crate) use account::{delete_account, revoke};
pub(crate) use accounts::accounts;
pub(crate) use consent::{
    onboard as onboard_service, reauthorize as reauthorize_account_page, revoke as revoke_page,
    user_reauth,
};
pub(crate) use contract::contract;
pub(crate) use import::{import, provider};
pub(crate) use oauth::{authorize, jwks, token};
pub(crate) use onboard::onboard;
pub(crate) use reference::{reference, token_reference};
pub(crate) use user::delete_user;

type ApiResult<T = Response> = Result<T, ApiError>;

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
