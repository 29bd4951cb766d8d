//! What a successful push returns.

use serde::Serialize;

use crate::DigiMe;
use crate::client::{TokenState, user_call};
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::Call;

/// A push that digi.me acknowledged.
///
/// Always store [`user_access_token`](Self::user_access_token): it is the
/// refreshed token when the SDK had to refresh, or the same one.
///
/// ```no_run
/// # async fn run(outcome: digime::PushOutcome) {
/// if outcome.token_refreshed() {
///     let json = serde_json::to_string(outcome.user_access_token()).unwrap();
///     // persist `json` for this user
/// #   let _ = json;
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub(crate) token: UserAccessToken,
    pub(crate) refreshed: bool,
    pub(crate) unstored: Option<crate::Error>,
    pub(crate) status: u16,
    pub(crate) response: Option<serde_json::Value>,
}

impl PushOutcome {
    /// The user access token to store: refreshed, or the same.
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { let _t: &digime::UserAccessToken = outcome.user_access_token(); }
    /// ```
    pub fn user_access_token(&self) -> &UserAccessToken {
        &self.token
    }

    /// The token, by value.
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { let _t: digime::UserAccessToken = outcome.into_user_access_token(); }
    /// ```
    pub fn into_user_access_token(self) -> UserAccessToken {
        self.token
    }

    /// True when the SDK refreshed the token during this push.
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { if outcome.token_refreshed() { /* store it */ } }
    /// ```
    pub fn token_refreshed(&self) -> bool {
        self.refreshed
    }

    /// The token store's error, when the token refreshed during this call
    /// did not reach the session's store: the call went on with the new
    /// token, the SDK keeps trying to write it in the background, and
    /// meanwhile [`user_access_token`](Self::user_access_token) is the one
    /// copy to keep. `None` when nothing had to be written or it was.
    ///
    /// ```no_run
    /// # fn f(o: &digime::PushOutcome) {
    /// if let Some(err) = o.token_store_error() { eprintln!("keep the token yourself: {err}"); }
    /// # }
    /// ```
    pub fn token_store_error(&self) -> Option<&crate::Error> {
        self.unstored.as_ref()
    }

    /// The HTTP status digi.me answered with (200, 201 or 204).
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { assert!((200..300).contains(&outcome.status())); }
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON body of the answer, when there was one, such as
    /// `{"status":"delivered","expires":…}`.
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { println!("{:?}", outcome.response()); }
    /// ```
    pub fn response(&self) -> Option<&serde_json::Value> {
        self.response.as_ref()
    }
}

/// Runs a push's call for the user and turns the reply into an outcome.
///
/// Once any attempt of the push may have been stored, its error says so,
/// whatever failed last (a later clean failure, a refresh).
pub(crate) async fn run_push<E: Serialize>(
    sdk: &DigiMe,
    contract: &ContractDetails,
    mut tokens: TokenState,
    call: &Call<'_, E>,
) -> Result<PushOutcome> {
    let reply = user_call(sdk, contract, call, &mut tokens)
        .await
        .map_err(|err| {
            if call.was_ambiguous() {
                err.mark_may_have_been_stored(sdk.transport().retry_ambiguous_pushes)
            } else {
                err
            }
        })?;
    let finished = tokens.finish();
    Ok(PushOutcome {
        status: reply.status.as_u16(),
        response: serde_json::from_slice(&reply.body).ok(),
        token: finished.token,
        refreshed: finished.refreshed,
        unstored: finished.unstored,
    })
}
