//! `digime token refresh|put|get`: the user access token.

use std::io::Read;

use digime::UserAccessToken;
use serde_json::json;

use super::with_session;
use crate::args::{Global, TokenPutArgs};
use crate::config;
use crate::output::{Failure, Output, relative, unix_seconds};

/// `digime token refresh`: refresh now (or adopt the refresh another
/// process just made), under the token source's lock.
pub async fn refresh(global: &Global, out: Output) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let (token, change): (UserAccessToken, _) =
        with_session(&ctx, |session| async move { session.refresh().await }).await?;
    let access = unix_seconds(token.access_token().expires_at());
    let refresh = unix_seconds(token.refresh_token().expires_at());
    let location = ctx.source.describe();
    out.result(
        || {
            format!(
                "token refreshed and written to {location}\naccess token expires at {access} ({})\nrefresh token expires at {refresh} ({})\n",
                relative(access),
                relative(refresh),
            )
        },
        // Expiries and ids only: never the token values.
        json!({
            "refreshed": true,
            "token_file": ctx.source.file.as_ref().map(|p| p.display().to_string()),
            "token_store": ctx.source.store.describe(),
            "user": ctx.source.user,
            "token_written": change.written,
            "user_id": token.user_id(),
            "access_token_expiry": access,
            "refresh_token_expiry": refresh,
        }),
    );
    Ok(())
}

/// `digime token put FILE`: store a token as the user's token.
pub async fn put(global: &Global, args: TokenPutArgs, out: Output) -> Result<(), Failure> {
    let source = config::token_source(global).await?;
    let from_stdin = args.file.as_os_str() == "-";
    let text = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read the token from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file.display())))?
    };
    let what = if from_stdin {
        "stdin".to_owned()
    } else {
        args.file.display().to_string()
    };
    let token: UserAccessToken = serde_json::from_str(&text).map_err(|e| {
        // A line and column, never the content: it holds secrets.
        Failure::usage(format!(
            "{what} is not a digi.me user access token (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let saved = source.store.save(&source.user, &token).await?;
    if saved.already_rotated {
        // Stored all the same: the operator asked for it, and may know
        // better (a store restored from an older backup, say).
        out.note(
            "digime: warning: this token is older than one the store held (a backup put back?): \
             its refresh token was already rotated away, so digi.me will refuse to refresh it, \
             and the user will have to be reauthorized once its access token expires",
        );
    }
    let location = source.describe();
    out.result(
        || format!("stored the token as {location}\n"),
        json!({
            "stored": true,
            "user": source.user,
            "token_store": source.store.describe(),
            "version": saved.version,
            "already_rotated": saved.already_rotated,
            "user_id": token.user_id(),
            "access_token_expiry": unix_seconds(token.access_token().expires_at()),
            "refresh_token_expiry": unix_seconds(token.refresh_token().expires_at()),
        }),
    );
    Ok(())
}

/// `digime token get`: print the user's stored token, as JSON. This is the
/// one command that prints secret values: it is how an operator takes a
/// token out of the store.
pub async fn get(global: &Global, out: Output) -> Result<(), Failure> {
    let source = config::token_source(global).await?;
    let token = source
        .store
        .load(&source.user)
        .await?
        .map(|stored| stored.token)
        .ok_or_else(|| Failure::config(format!("no token is stored as {}", source.describe())))?;
    // The token's own JSON (the TypeScript SDK's field order), in both
    // output modes: it is already one JSON object.
    let json = serde_json::to_string(&token)
        .map_err(|e| Failure::config(format!("cannot encode the token ({:?})", e.classify())))?;
    out.raw_line(&json);
    Ok(())
}
