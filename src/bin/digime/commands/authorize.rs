//! `digime authorize --callback-port P`: print the onboard URL, wait on
//! 127.0.0.1:P for the redirect after consent, check the state, exchange the
//! code and write the token file (0600).

use digime::consent::{AuthorizeCallback, ConsentState};
use serde_json::json;

use super::callback_server::{Browser, CallbackServer};
use crate::args::{AuthorizeArgs, Global};
use crate::config::{self, TokenSource};
use crate::output::{Failure, Output};

pub async fn run(global: &Global, args: AuthorizeArgs, out: Output) -> Result<(), Failure> {
    let sdk = config::sdk(global)?;
    let contract = config::contract(global)?;
    let source = config::token_source(global).await?;

    let server = CallbackServer::bind(args.callback_port).await?;
    let state = digime::consent::ConsentState::generate()?;
    let mut request = sdk
        .authorize(&contract)
        .callback(server.url())
        .state(state.clone())
        .source_type(args.source_type.to_sdk());
    if let Some(service) = args.service {
        request = request.service_id(service);
    }
    let authorization = request.send().await?;
    let (callback, browser) = server
        .wait(
            &out,
            authorization.url().as_str(),
            &state,
            parse_authorize_callback,
        )
        .await?;
    let token = exchange_and_save(
        &sdk,
        &contract,
        &callback,
        authorization.code_verifier(),
        &source,
        browser,
        "digime is authorized. You can close this window.",
    )
    .await?;

    let reference = callback.account_reference().map(str::to_owned);
    let account_id = match &reference {
        Some(reference) => {
            onboarded_account(&sdk, &contract, &token, reference, &source, &out).await
        }
        None => None,
    };

    let path = source.describe();
    out.result(
        || {
            let mut text = format!("authorized; token written to {path}\n");
            if let Some(user) = token.user_id() {
                text.push_str(&format!("user {user}\n"));
            }
            match (&account_id, &reference) {
                (Some(id), Some(r)) => text.push_str(&format!("account {id} (reference {r})\n")),
                (None, Some(r)) => text.push_str(&format!("account reference {r}\n")),
                _ => {}
            }
            text
        },
        json!({
            "authorized": true,
            "token_file": source.file.as_ref().map(|p| p.display().to_string()),
            "token_store": source.store.describe(),
            "user": source.user,
            "user_id": token.user_id(),
            "account_reference": reference,
            "account_id": account_id,
        }),
    );
    Ok(())
}

/// The id of the account the user just onboarded (its `reference`): what
/// `push provider --account-id` needs. Best effort: the token is already
/// saved, so a failure is a warning.
async fn onboarded_account(
    sdk: &digime::DigiMe,
    contract: &digime::ContractDetails,
    token: &digime::UserAccessToken,
    reference: &str,
    source: &TokenSource,
    out: &Output,
) -> Option<String> {
    match sdk.read_accounts(contract, token).await {
        Ok(accounts) => {
            if accounts.token_refreshed() {
                let _ = source
                    .store
                    .save(&source.user, accounts.user_access_token())
                    .await;
            }
            accounts.find_by_reference(reference).map(|a| a.id.clone())
        }
        Err(err) => {
            out.note(&format!(
                "digime: warning: could not read the accounts: {err}"
            ));
            None
        }
    }
}

/// The redirect after authorize or reauthorize: a code, and our state.
pub fn parse_authorize_callback(
    query: &str,
    state: &ConsentState,
) -> digime::Result<AuthorizeCallback> {
    let callback = AuthorizeCallback::from_query(query)?;
    callback.verify_state(state)?;
    Ok(callback)
}

/// Exchanges the callback's code, writes the token through the token
/// source (the token file, or the store), and tells the browser how it went
/// (`done` on success).
pub async fn exchange_and_save(
    sdk: &digime::DigiMe,
    contract: &digime::ContractDetails,
    callback: &AuthorizeCallback,
    verifier: &digime::consent::PkceCodeVerifier,
    source: &TokenSource,
    browser: Browser,
    done: &'static str,
) -> Result<digime::UserAccessToken, Failure> {
    let token = match sdk
        .exchange_code_for_token(contract, callback.code(), verifier)
        .await
    {
        Ok(token) => token,
        Err(err) => {
            browser
                .answer(
                    502,
                    "Authorization failed",
                    "The code could not be exchanged for a token. See the terminal.",
                )
                .await;
            return Err(err.into());
        }
    };
    if let Err(err) = source.store.save(&source.user, &token).await {
        browser
            .answer(
                500,
                "Authorization failed",
                "The token could not be saved. See the terminal.",
            )
            .await;
        return Err(Failure::config(format!(
            "the token could not be stored: {err}"
        )));
    }
    browser.answer(200, "Authorized", done).await;
    Ok(token)
}
