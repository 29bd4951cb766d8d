//! What a successful push returns.

use serde::Serialize;

use crate::DigiMe;
use crate::client::{Outcome, TokenState, user_call};
use crate::contract::ContractDetails;
use crate::error::Result;
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
pub type PushOutcome = Outcome<PushReply>;

/// What digi.me answered to a push: the status and the JSON body, if any.
/// Read through [`PushOutcome::status`] and [`PushOutcome::response`].
///
/// ```no_run
/// # fn f(outcome: digime::PushOutcome) { let reply: &digime::push::PushReply = outcome.value(); let _ = reply; }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PushReply {
    status: u16,
    response: Option<serde_json::Value>,
}

/// What a push adds to its [`Outcome`].
impl Outcome<PushReply> {
    /// The HTTP status digi.me answered with (200, 201 or 204).
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { assert!((200..300).contains(&outcome.status())); }
    /// ```
    pub fn status(&self) -> u16 {
        self.value().status
    }
    /// The JSON body of the answer, when there was one, such as
    /// `{"status":"delivered","expires":…}`.
    ///
    /// ```no_run
    /// # fn f(outcome: digime::PushOutcome) { println!("{:?}", outcome.response()); }
    /// ```
    pub fn response(&self) -> Option<&serde_json::Value> {
        self.value().response.as_ref()
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
    let reply = PushReply {
        status: reply.status.as_u16(),
        response: serde_json::from_slice(&reply.body).ok(),
    };
    Ok(Outcome::new(reply, tokens.finish()))
}
