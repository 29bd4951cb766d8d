//! `digime reauthorize --callback-port P`: the user's consent again after
//! their refresh token ran out (exit 3). Works like `authorize`, with the
//! token file's last token: the new token belongs to the same user and
//! library, and replaces the file's.

use serde_json::json;

use super::authorize::{exchange_and_save, parse_authorize_callback};
use super::callback_server::CallbackServer;
use crate::args::{Global, ReauthorizeArgs};
use crate::config;
use crate::output::{Failure, Output};

pub async fn run(global: &Global, args: ReauthorizeArgs, out: Output) -> Result<(), Failure> {
    let sdk = config::sdk(global)?;
    let contract = config::contract(global)?;
    let (token_file, old) = config::token(global)?;

    let server = CallbackServer::bind(args.callback_port).await?;
    let state = digime::auth::generate_state()?;
    let authorization = sdk
        .reauthorize(&contract, &old)
        .callback(server.url())
        .state(state.as_str())
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
        &token_file,
        browser,
        "digime is reauthorized. You can close this window.",
    )
    .await?;

    let path = token_file.path().display().to_string();
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
            "token_file": path,
            "user_id": token.user_id(),
        }),
    );
    Ok(())
}
