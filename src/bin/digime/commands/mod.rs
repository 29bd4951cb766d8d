//! One module per command, and what they share: a user session whose
//! refreshed tokens go straight to the token file.

mod account;
mod accounts;
mod authorize;
mod callback_server;
mod contract;
mod onboard;
mod push;
mod reauthorize;
mod sandbox;
mod token;

use std::future::Future;
use std::sync::{Arc, Mutex};

use digime::UserSession;

use crate::args::{AccountCommand, Cli, Command, PushCommand, TokenCommand};
use crate::config::UserContext;
use crate::output::{Failure, Output};

/// Runs the command the user asked for.
pub async fn run(cli: Cli, out: Output) -> Result<(), Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Push(PushCommand::Library(args)) => push::library(global, args, out).await,
        Command::Push(PushCommand::Provider(args)) => push::provider(global, args, out).await,
        Command::Accounts => accounts::run(global, out).await,
        Command::Token(TokenCommand::Refresh) => token::refresh(global, out).await,
        Command::Contract => contract::run(global, out).await,
        Command::Authorize(args) => authorize::run(global, args, out).await,
        Command::Reauthorize(args) => reauthorize::run(global, args, out).await,
        Command::Onboard(args) => onboard::run(global, args, out).await,
        Command::Account(AccountCommand::Delete(args)) => account::delete(global, args, out).await,
        Command::Account(AccountCommand::RevokeUrl(args)) => {
            account::revoke_url(global, args, out).await
        }
        Command::Sandbox(args) => sandbox::run(global, args, out).await,
    }
}

/// What a call made for a user did to the token.
pub struct TokenChange {
    /// The SDK refreshed the token during the call.
    pub refreshed: bool,
    /// The token file was rewritten.
    pub written: bool,
}

/// Runs `call` with a session on the user's token. Every token the SDK
/// refreshes is written to the token file at once (a refresh token is
/// single-use: a later failure must not lose the new one), and once more at
/// the end if it still differs from the file.
pub async fn with_session<T, F, Fut>(ctx: UserContext, call: F) -> Result<(T, TokenChange), Failure>
where
    F: FnOnce(UserSession) -> Fut,
    Fut: Future<Output = digime::Result<T>>,
{
    let session = ctx.sdk.session(&ctx.contract, ctx.token);
    let written = Arc::new(Mutex::new(false));
    let hook_failure: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
    {
        let file = ctx.file.clone();
        let written = written.clone();
        let hook_failure = hook_failure.clone();
        session.on_access_token_change(move |token| match file.save_if_changed(token) {
            Ok(true) => *written.lock().unwrap_or_else(|p| p.into_inner()) = true,
            Ok(false) => {}
            Err(failure) => *hook_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure),
        });
    }
    let result = call(session.clone()).await;
    let saved = ctx.file.save_if_changed(&session.user_access_token());
    let written_now = matches!(saved, Ok(true));
    let change = TokenChange {
        refreshed: session.refresh_count() > 0,
        written: *written.lock().unwrap_or_else(|p| p.into_inner()) || written_now,
    };
    match (result, saved) {
        (Ok(value), Ok(_)) => Ok((value, change)),
        (Ok(_), Err(failure)) => Err(failure),
        (Err(err), saved) => {
            if let Err(failure) = saved {
                eprintln!("digime: warning: {failure}");
            } else if let Some(failure) = hook_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                eprintln!("digime: warning: {failure}");
            }
            Err(Failure::Sdk(err))
        }
    }
}

/// The human line about the token file after a call, if there is one.
pub fn token_note(change: &TokenChange, ctx_path: &std::path::Path) -> Option<String> {
    change.written.then(|| {
        format!(
            "the access token was refreshed; the new token was written to {}",
            ctx_path.display()
        )
    })
}
