//! `digime onboard --callback-port P [--service ID] [--source-type push|pull]`:
//! add a service (such as the provider account a provider push needs) to
//! the user's library: print the consent URL, wait for the redirect, and
//! report the new account's id. The token file is rewritten only when the
//! token was refreshed on the way.

use digime::consent::{AccountCallback, ConsentState};
use serde_json::json;

use super::callback_server::CallbackServer;
use super::{token_note, with_session};
use crate::args::{Global, OnboardArgs};
use crate::config;
use crate::output::{Failure, Output};

pub async fn run(global: &Global, args: OnboardArgs, out: Output) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let server = CallbackServer::bind(args.callback_port).await?;
    let state = digime::consent::ConsentState::generate()?;
    let (waited, change) = with_session(&ctx, |session| async move {
        let mut request = session
            .onboard()
            .callback(server.url())
            .state(state.clone())
            .source_type(args.source_type.to_sdk());
        if let Some(service) = args.service {
            request = request.service_id(service);
        }
        let link = request.send().await?;
        let (callback, browser) = match server
            .wait(&out, link.url().as_str(), &state, parse_account_callback)
            .await
        {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        browser
            .answer(
                200,
                "Onboarded",
                "The service is added. You can close this window.",
            )
            .await;
        // The new account's id, for `push provider --account-id`. Best
        // effort: the service is onboarded whatever this says.
        let reference = callback.account_reference().map(str::to_owned);
        let mut account_id = None;
        if let Some(reference) = &reference {
            match session.read_accounts().await {
                Ok(accounts) => {
                    account_id = accounts.find_by_reference(reference).map(|a| a.id.clone());
                }
                Err(err) => out.note(&format!(
                    "digime: warning: could not read the accounts: {err}"
                )),
            }
        }
        Ok(Ok((reference, account_id)))
    })
    .await?;
    let (reference, account_id) = waited?;
    out.result(
        || {
            let mut text = String::from("onboarded\n");
            match (&account_id, &reference) {
                (Some(id), Some(r)) => text.push_str(&format!("account {id} (reference {r})\n")),
                (None, Some(r)) => text.push_str(&format!("account reference {r}\n")),
                _ => {}
            }
            if let Some(note) = token_note(&change, &ctx) {
                text.push_str(&note);
                text.push('\n');
            }
            text
        },
        json!({
            "onboarded": true,
            "account_reference": reference,
            "account_id": account_id,
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}

/// The redirect after onboarding: an account reference, and our state.
fn parse_account_callback(query: &str, state: &ConsentState) -> digime::Result<AccountCallback> {
    let callback = AccountCallback::from_query(query)?;
    callback.verify_state(state)?;
    Ok(callback)
}
