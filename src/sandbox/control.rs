//! The control operations, shared by the Rust API and the HTTP control
//! routes (`/sandbox/...`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::model::{Fault, LibraryEntry, ProviderEntry, RequestRecord};
use super::server::ApiError;
use super::state::{AccessType, AccountRec, Shared};
use super::util::{now_ms, random_alnum};
use crate::error::{Error, Result};
use crate::models::ServiceAccount;
use crate::token::{Token, UserAccessToken};

type ApiResult<T = Response> = std::result::Result<T, ApiError>;

impl Shared {
    pub(crate) fn create_user(&self, user_id: &str, accounts: &[String]) -> Result<()> {
        crate::validate::identifier("user_id", user_id)?;
        for (i, id) in accounts.iter().enumerate() {
            crate::validate::identifier("accounts", id)?;
            if accounts[..i].contains(id) {
                return Err(Error::invalid_input(
                    "accounts",
                    format!("account id `{id}` is given twice"),
                ));
            }
        }
        self.lock().add_user(user_id, accounts);
        Ok(())
    }

    pub(crate) fn mint(
        &self,
        app_id: &str,
        contract_id: &str,
        user_id: &str,
    ) -> Result<UserAccessToken> {
        let client_id = format!("{app_id}_{contract_id}");
        let mut st = self.lock();
        if !st.contracts.contains_key(&client_id) {
            return Err(Error::invalid_input(
                "contract_id",
                format!("no contract `{contract_id}` is registered for application `{app_id}`"),
            ));
        }
        if !st.users.contains_key(user_id) {
            return Err(Error::invalid_input(
                "user_id",
                format!("no user `{user_id}` exists; create it first"),
            ));
        }
        let consent = format!("consent-{}", random_alnum(16));
        let issued = st.issue(user_id, &client_id, &consent);
        Ok(UserAccessToken::new(
            Token::from_unix_secs(issued.access, issued.access_expiry_s),
            Token::from_unix_secs(issued.refresh, issued.refresh_expiry_s),
            Some(issued.user),
            Some(issued.consent_id),
        ))
    }

    pub(crate) fn library(&self, user_id: &str) -> Vec<LibraryEntry> {
        self.lock()
            .users
            .get(user_id)
            .map(|u| u.library.clone())
            .unwrap_or_default()
    }

    pub(crate) fn provider_pushes(&self, user_id: &str) -> Vec<ProviderEntry> {
        self.lock()
            .users
            .get(user_id)
            .map(|u| u.provider.clone())
            .unwrap_or_default()
    }

    /// The user's accounts as `permission-access/accounts` and the control
    /// routes answer them.
    pub(crate) fn accounts_json(&self, user_id: &str) -> Vec<Value> {
        self.lock()
            .users
            .get(user_id)
            .map(|u| u.accounts.iter().map(AccountRec::to_json).collect())
            .unwrap_or_default()
    }

    /// The user's accounts: their wire JSON, read as the SDK reads it.
    pub(crate) fn accounts(&self, user_id: &str) -> Vec<ServiceAccount> {
        self.accounts_json(user_id)
            .into_iter()
            .map(|a| serde_json::from_value(a).expect("the sandbox's accounts are ServiceAccounts"))
            .collect()
    }

    pub(crate) fn user_exists(&self, user_id: &str) -> bool {
        self.lock().users.contains_key(user_id)
    }

    /// Expires every access token of the user now; returns how many.
    pub(crate) fn expire_access(&self, user_id: &str) -> usize {
        let now = now_ms();
        let mut st = self.lock();
        let mut n = 0;
        for grant in st.access.values_mut().filter(|g| g.user == user_id) {
            grant.expires_ms = grant.expires_ms.min(now.saturating_sub(1));
            n += 1;
        }
        n
    }

    /// Expires every refresh token of the user now; returns how many.
    pub(crate) fn expire_refresh(&self, user_id: &str) -> usize {
        let now = now_ms();
        let mut st = self.lock();
        let mut n = 0;
        for grant in st.refresh.values_mut().filter(|g| g.user == user_id) {
            grant.expires_ms = grant.expires_ms.min(now.saturating_sub(1));
            n += 1;
        }
        n
    }

    pub(crate) fn set_lifetimes(&self, access: Duration, refresh: Duration) {
        let mut st = self.lock();
        st.access_lifetime = access;
        st.refresh_lifetime = refresh;
    }

    pub(crate) fn inject_fault(&self, mut fault: Fault) {
        if fault.count == 0 {
            return;
        }
        fault.path = super::state::normalize_fault_path(&fault.path).to_string();
        self.lock().faults.push(fault);
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub(crate) fn set_consent_failure(&self, code: Option<String>) {
        self.lock().consent_failure = code;
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.lock().records.iter().cloned().collect()
    }

    pub(crate) fn refresh_count(&self) -> usize {
        self.lock().refresh_count
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidSandboxRequest", message)
}

fn from_error(err: Error) -> ApiError {
    bad(err.to_string())
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| bad(format!("the JSON body is invalid: {e}")))
}

fn no_user(user: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("no user `{user}` in the sandbox"),
    )
}

/// `GET /sandbox/health`.
pub(crate) async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractReq {
    app_id: String,
    contract_id: String,
    #[serde(default)]
    public_key_pem: Option<String>,
    #[serde(default)]
    access_type: Option<String>,
}

/// `POST /sandbox/contracts`.
pub(crate) async fn post_contract(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let req: ContractReq = parse(&body)?;
    let access = match req.access_type.as_deref() {
        None | Some("w") => AccessType::Write,
        Some("r") => AccessType::Read,
        Some(other) => return Err(bad(format!("access_type `{other}` must be \"r\" or \"w\""))),
    };
    let (pem, private) = match req.public_key_pem {
        Some(pem) => (pem, None),
        None => {
            let private = super::util::generate_private_key_pem().map_err(from_error)?;
            (private.clone(), Some(private))
        }
    };
    let client_id = shared
        .register(&req.app_id, &req.contract_id, &pem, access)
        .map_err(from_error)?;
    let mut out = json!({
        "client_id": client_id,
        "app_id": req.app_id,
        "contract_id": req.contract_id,
        "access_type": access.as_str(),
    });
    if let Some(private) = private {
        out["private_key_pem"] = Value::String(private);
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserReq {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

/// `POST /sandbox/users`.
pub(crate) async fn post_user(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let req: UserReq = parse(&body)?;
    let user = req
        .user_id
        .unwrap_or_else(|| format!("user-{}", random_alnum(16)));
    shared
        .create_user(&user, &req.accounts)
        .map_err(from_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": user, "accounts": shared.accounts_json(&user)})),
    )
        .into_response())
}

/// `GET /sandbox/users/{user}/accounts`.
pub(crate) async fn get_accounts(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> ApiResult {
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    Ok(Json(shared.accounts_json(&user)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintReq {
    app_id: String,
    contract_id: String,
}

/// `POST /sandbox/users/{user}/token`.
pub(crate) async fn post_token(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: MintReq = parse(&body)?;
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    let token = shared
        .mint(&req.app_id, &req.contract_id, &user)
        .map_err(from_error)?;
    Ok(Json(token).into_response())
}

/// `GET /sandbox/users/{user}/library`.
pub(crate) async fn get_library(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> ApiResult {
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    Ok(Json(shared.library(&user)).into_response())
}

/// `GET /sandbox/users/{user}/provider`.
pub(crate) async fn get_provider(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> ApiResult {
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    Ok(Json(shared.provider_pushes(&user)).into_response())
}

/// `POST /sandbox/users/{user}/expire-access-token`.
pub(crate) async fn post_expire_access(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> ApiResult {
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    let n = shared.expire_access(&user);
    Ok(Json(json!({"expired": n})).into_response())
}

/// `POST /sandbox/users/{user}/expire-refresh-token`.
pub(crate) async fn post_expire_refresh(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> ApiResult {
    if !shared.user_exists(&user) {
        return Err(no_user(&user));
    }
    let n = shared.expire_refresh(&user);
    Ok(Json(json!({"expired": n})).into_response())
}

/// `POST /sandbox/faults`.
pub(crate) async fn post_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let fault: Fault = parse(&body)?;
    if fault.path.trim_matches('/').is_empty() {
        return Err(bad("`path` is required"));
    }
    let kinds = [
        fault.status.is_some(),
        fault.delay_ms.is_some(),
        fault.drop_connection,
    ];
    if !kinds.iter().any(|k| *k) {
        return Err(bad("give one of `status`, `delay_ms` or `drop_connection`"));
    }
    if fault.status.is_some() && fault.drop_connection {
        return Err(bad("`status` and `drop_connection` exclude each other"));
    }
    if fault
        .status
        .is_some_and(|status| !(100..=599).contains(&status))
    {
        return Err(bad("`status` must be an HTTP status (100-599)"));
    }
    shared.inject_fault(fault);
    Ok((StatusCode::CREATED, Json(json!({"status": "injected"}))).into_response())
}

/// `GET /sandbox/faults`: the pending faults.
pub(crate) async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    let faults = shared.lock().faults.clone();
    Json(faults).into_response()
}

/// `DELETE /sandbox/faults`.
pub(crate) async fn delete_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /sandbox/requests`.
pub(crate) async fn get_requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.requests()).into_response()
}

/// `DELETE /sandbox/requests`.
pub(crate) async fn delete_requests(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().records.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimesReq {
    #[serde(default)]
    access_secs: Option<f64>,
    #[serde(default)]
    refresh_secs: Option<f64>,
}

/// `POST /sandbox/token-lifetimes`.
pub(crate) async fn post_lifetimes(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let req: LifetimesReq = parse(&body)?;
    let to_duration = |secs: f64, name: &str| {
        Duration::try_from_secs_f64(secs)
            .map_err(|_| bad(format!("`{name}` must be a non-negative number of seconds")))
    };
    let (mut access, mut refresh) = {
        let st = shared.lock();
        (st.access_lifetime, st.refresh_lifetime)
    };
    if let Some(s) = req.access_secs {
        access = to_duration(s, "access_secs")?;
    }
    if let Some(s) = req.refresh_secs {
        refresh = to_duration(s, "refresh_secs")?;
    }
    shared.set_lifetimes(access, refresh);
    Ok(Json(json!({
        "access_secs": access.as_secs_f64(),
        "refresh_secs": refresh.as_secs_f64(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentReq {
    #[serde(default)]
    failure: Option<String>,
}

/// `POST /sandbox/consent`.
pub(crate) async fn post_consent(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let req: ConsentReq = parse(&body)?;
    shared.set_consent_failure(req.failure.clone());
    Ok(Json(json!({"failure": req.failure})).into_response())
}
