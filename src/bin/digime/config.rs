//! Turns the global flags (or their environment variables) into an SDK
//! client, a contract and the user's token source, with exit-2 errors that
//! say which setting is missing or wrong.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use digime::store::{FileTokenStore, TokenStore};
use digime::{ContractDetails, DigiMe, ErrorKind, UserSession};

use crate::args::Global;
use crate::output::Failure;

/// The user key of the token file (a token file holds one user's token).
const FILE_USER: &str = "default";

fn required<'a, T>(
    value: &'a Option<T>,
    flag: &str,
    env: &str,
    what: &str,
) -> Result<&'a T, Failure> {
    value
        .as_ref()
        .ok_or_else(|| Failure::config(format!("{what} is not set: pass {flag} or set {env}")))
}

/// The SDK client: `--app-id`, `--base-url` and `--lease-ttl`.
pub fn sdk(global: &Global) -> Result<DigiMe, Failure> {
    let app_id = required(
        &global.app_id,
        "--app-id",
        "DIGIME_APP_ID",
        "the application id",
    )?;
    let mut builder = DigiMe::builder()
        .application_id(app_id.as_str())
        .lease_ttl(Duration::from_secs(global.lease_ttl));
    if let Some(base_url) = &global.base_url {
        builder = builder.base_url(base_url);
    }
    builder.build().map_err(|e| Failure::config(format!("{e}")))
}

/// The contract: `--contract-id` and the key at `--key`.
pub fn contract(global: &Global) -> Result<ContractDetails, Failure> {
    let contract_id = required(
        &global.contract_id,
        "--contract-id",
        "DIGIME_CONTRACT_ID",
        "the contract id",
    )?;
    let key_file = required(
        &global.key_file,
        "--key",
        "DIGIME_KEY_FILE",
        "the contract key",
    )?;
    let pem = std::fs::read_to_string(key_file).map_err(|e| {
        Failure::config(format!(
            "cannot read the key file {}: {e}",
            key_file.display()
        ))
    })?;
    // The SDK's message names the problem, never the key material.
    ContractDetails::new(contract_id.as_str(), &pem).map_err(|e| {
        Failure::config(format!(
            "the key file {} is not usable: {e}",
            key_file.display()
        ))
    })
}

/// Where the user's token lives: `--token-store` and `--user`, else the
/// `--token` file (a store of one token, locked while it is refreshed).
pub struct TokenSource {
    pub store: Arc<dyn TokenStore>,
    pub user: String,
    /// The token file, when there is no store.
    pub file: Option<PathBuf>,
}

impl TokenSource {
    /// Where the token is, for messages: the token file, or the user in the
    /// store (never a password).
    pub fn describe(&self) -> String {
        match &self.file {
            Some(path) => path.display().to_string(),
            None => format!("user {} in {}", self.user, self.store.describe()),
        }
    }
}

/// The token source the flags name.
pub async fn token_source(global: &Global) -> Result<TokenSource, Failure> {
    if let Some(url) = &global.token_store {
        let user = required(&global.user, "--user", "DIGIME_USER", "the user")?;
        let store = digime::store::open(url)
            .await
            .map_err(|e| Failure::config(format!("{e}")))?;
        return Ok(TokenSource {
            store,
            user: user.clone(),
            file: None,
        });
    }
    let path = token_path(global)?;
    Ok(TokenSource {
        store: Arc::new(FileTokenStore::single_file(path)),
        user: FILE_USER.to_owned(),
        file: Some(path.to_path_buf()),
    })
}

/// The path given with `--token`.
pub fn token_path(global: &Global) -> Result<&Path, Failure> {
    required(
        &global.token_file,
        "--token",
        "DIGIME_TOKEN_FILE",
        "the token file (or --token-store and --user)",
    )
    .map(PathBuf::as_path)
}

/// Everything a call made for a user needs, checked before any request.
pub struct UserContext {
    pub session: UserSession,
    pub source: TokenSource,
}

/// The user's session on the token source: its token is read now, and
/// every refresh goes through the source's lock (or lease).
pub async fn user_context(global: &Global) -> Result<UserContext, Failure> {
    let sdk = sdk(global)?;
    let contract = contract(global)?;
    let source = token_source(global).await?;
    let session = sdk
        .session_from_store(&contract, source.store.clone(), source.user.as_str())
        .await
        .map_err(|e| match (&source.file, e.kind()) {
            (Some(path), ErrorKind::InvalidInput) => Failure::config(format!(
                "cannot read the token file {}: it does not exist",
                path.display()
            )),
            _ => Failure::config(format!("{e}")),
        })?;
    Ok(UserContext { session, source })
}
