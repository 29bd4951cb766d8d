//! One module per command, and what they share: a user session on the token
//! file (or the token store), whose refreshes run under its lock.

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
        Command::Token(TokenCommand::Put(args)) => token::put(global, args, out).await,
        Command::Token(TokenCommand::Get) => token::get(global, out).await,
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
    /// The token changed during the call: refreshed here, or adopted from
    /// another process that refreshed it.
    pub refreshed: bool,
    /// The token file (or the store) holds the new token.
    pub written: bool,
}

/// Runs `call` with the user's session. A refreshed token is written by the
/// token source itself, under its lock, as the refresh completes (a refresh
/// token is single-use: a later failure must not lose the new one).
pub async fn with_session<T, F, Fut>(
    ctx: &UserContext,
    call: F,
) -> Result<(T, TokenChange), Failure>
where
    F: FnOnce(UserSession) -> Fut,
    Fut: Future<Output = digime::Result<T>>,
{
    let result = call(ctx.session.clone()).await;
    let refreshed = ctx.session.refresh_count() > 0;
    match result {
        Ok(value) => Ok((
            value,
            TokenChange {
                refreshed,
                written: refreshed,
            },
        )),
        Err(err) => {
            // The refresh happened but the source did not take the new token
            // (the store failed): one more try, so that the user's consent
            // is not lost. Only while the source still holds the token this
            // command started with: never over a newer one.
            if err.token_refreshed()
                && let Some(token) = err.user_access_token()
            {
                keep_refreshed(ctx, token).await;
            }
            Err(Failure::Sdk(err))
        }
    }
}

/// Writes `token`, refreshed by this command, to the token source if it
/// still holds the token the command started with.
async fn keep_refreshed(ctx: &UserContext, token: &digime::UserAccessToken) {
    use digime::secrecy::ExposeSecret;
    let refresh_value =
        |t: &digime::UserAccessToken| t.refresh_token().value().expose_secret().to_owned();
    let stored = ctx.source.store.load(&ctx.source.user).await;
    let untouched = match &stored {
        Ok(Some(stored)) => refresh_value(&stored.token) == refresh_value(&ctx.started_with),
        Ok(None) => true,
        Err(_) => false,
    };
    if !untouched {
        return;
    }
    if let Err(save) = ctx.source.store.save(&ctx.source.user, token).await {
        eprintln!("digime: warning: the refreshed token could not be stored: {save}");
    }
}

/// The human line about the token after a call, if there is one.
pub fn token_note(change: &TokenChange, ctx: &UserContext) -> Option<String> {
    change.written.then(|| {
        format!(
            "the access token was refreshed; the new token was written to {}",
            ctx.source.describe()
        )
    })
}
