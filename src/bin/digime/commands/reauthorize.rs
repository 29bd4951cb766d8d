//! `digime reauthorize --callback-port P`: the user's consent again after
//! their refresh token ran out (exit 3). Works like `authorize`, with the
//! last token of the token file (or store): the new token belongs to the
//! same user and library, and is written through the token source as
//! `authorize` writes it.

use serde_json::json;

use super::authorize::{exchange_and_save, parse_authorize_callback};
use super::callback_server::CallbackServer;
use crate::args::{Global, ReauthorizeArgs};
use crate::config;
use crate::output::{Failure, Output};

pub async fn run(global: &Global, args: ReauthorizeArgs, out: Output) -> Result<(), Failure> {
    let sdk = config::sdk(global)?;
    let contract = config::contract(global)?;
    // The last token: its refresh token has run out, and no refresh is
    // tried; it is sent as it is.
    let ctx = config::user_context(global).await?;
    let old = ctx.session.user_access_token();

    let server = CallbackServer::bind(args.callback_port).await?;
    let state = digime::consent::ConsentState::generate()?;
    let authorization = sdk
        .reauthorize(&contract, &old)
        .callback(server.url())
        .state(state.clone())
        .send()
        .await?;
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
        &ctx.source,
        browser,
        "digime is reauthorized. You can close this window.",
    )
    .await?;

    let path = ctx.source.describe();
    out.result(
        || {
            let mut text = format!("reauthorized; token written to {path}\n");
            if let Some(user) = token.user_id() {
                text.push_str(&format!("user {user}\n"));
            }
            text
        },
        json!({
            "reauthorized": true,
            "token_file": ctx.source.file.as_ref().map(|p| p.display().to_string()),
            "token_store": ctx.source.store.describe(),
            "user": ctx.source.user,
            "user_id": token.user_id(),
        }),
    );
    Ok(())
}
