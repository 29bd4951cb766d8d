//! `digime token refresh`: refresh the user access token now.

use digime::UserAccessToken;
use serde_json::json;

use super::with_session;
use crate::args::Global;
use crate::config;
use crate::output::{Failure, Output, relative, unix_seconds};

pub async fn refresh(global: &Global, out: Output) -> Result<(), Failure> {
    let ctx = config::user_context(global)?;
    let token_path = ctx.file.path().to_path_buf();
    let (token, change): (UserAccessToken, _) =
        with_session(ctx, |session| async move { session.refresh().await }).await?;
    let access = unix_seconds(token.access_token().expires_at());
    let refresh = unix_seconds(token.refresh_token().expires_at());
    out.result(
        || {
            format!(
                "token refreshed and written to {}\naccess token expires at {access} ({})\nrefresh token expires at {refresh} ({})\n",
                token_path.display(),
                relative(access),
                relative(refresh),
            )
        },
        // Expiries and ids only: never the token values.
        json!({
            "refreshed": true,
            "token_file": token_path.display().to_string(),
            "token_written": change.written,
            "user_id": token.user_id(),
            "access_token_expiry": access,
            "refresh_token_expiry": refresh,
        }),
    );
    Ok(())
}
