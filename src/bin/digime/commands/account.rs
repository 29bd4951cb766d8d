//! `digime account delete ID` and `digime account revoke-url ID --redirect
//! URL`: one of the user's accounts.

use serde_json::json;

use super::{token_note, with_session};
use crate::args::{AccountDeleteArgs, AccountRevokeUrlArgs, Global};
use crate::config;
use crate::output::{Failure, Output};

/// `digime account delete ID`: the account leaves the user's library.
pub async fn delete(global: &Global, args: AccountDeleteArgs, out: Output) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let id = args.id;
    let (_, change) = with_session(&ctx, |session| {
        let id = id.clone();
        async move { session.delete_account(&id).await }
    })
    .await?;
    out.result(
        || {
            let mut text = format!("account {id} deleted\n");
            if let Some(note) = token_note(&change, &ctx) {
                text.push_str(&note);
                text.push('\n');
            }
            text
        },
        json!({
            "deleted": true,
            "account_id": id,
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}

/// `digime account revoke-url ID --redirect URL`: where to send the user to
/// revoke this application's permission for the account.
pub async fn revoke_url(
    global: &Global,
    args: AccountRevokeUrlArgs,
    out: Output,
) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let (id, redirect) = (args.id, args.redirect);
    let (outcome, change) = with_session(&ctx, |session| {
        let (id, redirect) = (id.clone(), redirect.clone());
        async move { session.revoke_account_url(&id, &redirect).await }
    })
    .await?;
    let location = outcome.value().to_string();
    out.result(
        || {
            let mut text = format!("{location}\n");
            if let Some(note) = token_note(&change, &ctx) {
                text.push_str(&note);
                text.push('\n');
            }
            text
        },
        json!({
            "location": location,
            "account_id": id,
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}
