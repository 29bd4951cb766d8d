//! One module per command, and what they share: a user session on the token
//! file (or the token store), whose refreshes run under its lock.

mod account;
mod accounts;
mod authorize;
mod bulk;
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
/// SDK to the token source as the refresh completes (a refresh token is
/// single-use: a later failure must not lose the new one). When the source
/// failed to take it, the SDK keeps trying: the command waits for that, a
/// little, before it exits, and warns if the token is still not written.
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
    let written = match ctx.session.flush(FLUSH_WITHIN).await {
        Ok(()) => refreshed,
        Err(err) => {
            eprintln!("digime: warning: {err}");
            false
        }
    };
    match result {
        Ok(value) => Ok((value, TokenChange { refreshed, written })),
        Err(err) => Err(Failure::Sdk(err)),
    }
}

/// How long a command waits, before it exits, for a refreshed token the
/// token source failed to take at first.
const FLUSH_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The human line about the token after a call, if there is one.
pub fn token_note(change: &TokenChange, ctx: &UserContext) -> Option<String> {
    change.written.then(|| {
        format!(
            "the access token was refreshed; the new token was written to {}",
            ctx.source.describe()
        )
    })
}
