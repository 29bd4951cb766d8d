//! Turns the global flags (or their environment variables) into an SDK
//! client, a contract and a token, with exit-2 errors that say which
//! setting is missing or wrong.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use digime::{ContractDetails, DigiMe, UserAccessToken};

use crate::args::Global;
use crate::output::Failure;
use crate::token_file::TokenFile;

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

/// The SDK client: `--app-id` and `--base-url`.
pub fn sdk(global: &Global) -> Result<DigiMe, Failure> {
    let app_id = required(
        &global.app_id,
        "--app-id",
        "DIGIME_APP_ID",
        "the application id",
    )?;
    let mut builder = DigiMe::builder().application_id(app_id.as_str());
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

/// The path given with `--token`.
pub fn token_path(global: &Global) -> Result<&Path, Failure> {
    required(
        &global.token_file,
        "--token",
        "DIGIME_TOKEN_FILE",
        "the token file",
    )
    .map(PathBuf::as_path)
}

/// The token file, read and parsed.
pub fn token(global: &Global) -> Result<(Arc<TokenFile>, UserAccessToken), Failure> {
    TokenFile::load(token_path(global)?)
}

/// Everything a call made for a user needs, checked before any request.
pub struct UserContext {
    pub sdk: DigiMe,
    pub contract: ContractDetails,
    pub file: Arc<TokenFile>,
    pub token: UserAccessToken,
}

pub fn user_context(global: &Global) -> Result<UserContext, Failure> {
    let sdk = sdk(global)?;
    let contract = contract(global)?;
    let (file, token) = token(global)?;
    Ok(UserContext {
        sdk,
        contract,
        file,
        token,
    })
}
