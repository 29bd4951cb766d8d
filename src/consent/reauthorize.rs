//! `sdk.reauthorize(&contract, &token)`: the user's consent again, after
//! [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired).
//!
//! The reference-code call with a PKCE challenge, carrying the user's last
//! access token (digi.me accepts it for this call even when the refresh token
//! has run out); the user is sent to `{onboardUrl}user-reauth?code=…`; the
//! callback's code is exchanged with
//! [`exchange_code_for_token`](crate::DigiMe::exchange_code_for_token) for a
//! new token pair for the **same** user and library.

use std::fmt;

use super::authorize::{Authorization, AuthorizeFuture};
use super::oauth::ConsentState;
use super::options::{PageOptions, page_option_setters};
use super::page::{check_callback, page_url};
use super::pkce;
use super::reference::{ReferenceClaims, Sender, reference_code};
use super::state::{
    ConsentCallbackMissing, ConsentCallbackSet, ConsentStateMissing, ConsentStateSet,
    ReauthorizeHasCallback, ReauthorizeHasState,
};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::validate;

/// Reauthorizes a user whose refresh token has run out: `callback(..)` and
/// `state(..)` are required (at compile time), `locale(..)`,
/// `trigger_query(..)` and `pull_session(..)` are optional.
///
/// It returns an [`Authorization`], as [`authorize`](DigiMe::authorize)
/// does: the URL to send the user to and the code verifier to keep for the
/// exchange. The token the exchange returns belongs to the same user, with
/// the same library: nothing is split.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// # let push_result: digime::Result<()> = Ok(());
/// if let Err(err) = push_result {
///     if err.is_reauthorization_required() {
///         let auth = sdk
///             .reauthorize(&contract, &token)
///             .callback("https://my.app/digime/reauthorized")
///             .state("opaque-value-tied-to-this-browser-session")
///             .send()
///             .await?;
///         println!("send the user to {}", auth.url());
///         // keep auth.code_verifier() until the callback, then exchange its code
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "reauthorization does nothing until `.send()` is awaited"]
pub struct ReauthorizeBuilder<C = ConsentCallbackMissing, S = ConsentStateMissing> {
    sdk: DigiMe,
    contract: ContractDetails,
    token: UserAccessToken,
    callback: C,
    state: S,
    options: PageOptions,
}

impl<C: fmt::Debug, S: fmt::Debug> fmt::Debug for ReauthorizeBuilder<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReauthorizeBuilder")
            .field("contract", &self.contract)
            .field("token", &self.token)
            .field("callback", &self.callback)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl DigiMe {
    /// Starts reauthorizing a user whose refresh token has run out (after
    /// [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired)),
    /// with the token you stored for them. See [`ReauthorizeBuilder`].
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let auth = sdk.reauthorize(&contract, &token).callback("https://my.app/cb").state("s-1").send().await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn reauthorize(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> ReauthorizeBuilder {
        ReauthorizeBuilder {
            sdk: self.clone(),
            contract: contract.clone(),
            token: token.clone(),
            callback: ConsentCallbackMissing,
            state: ConsentStateMissing,
            options: PageOptions::default(),
        }
    }
}

impl<S> ReauthorizeBuilder<ConsentCallbackMissing, S> {
    /// Where digi.me sends the user after consent (`redirect_uri`). It must
    /// be allowed for the contract.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeBuilder) { let _ = b.callback("https://my.app/cb"); }
    /// ```
    pub fn callback(self, url: impl Into<String>) -> ReauthorizeBuilder<ConsentCallbackSet, S> {
        ReauthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            token: self.token,
            callback: ConsentCallbackSet(url.into()),
            state: self.state,
            options: self.options,
        }
    }
}

impl<C> ReauthorizeBuilder<C, ConsentStateMissing> {
    /// A value that comes back on the callback unchanged, such as
    /// [`ConsentState::generate`]'s (a `&str` or `String` converts). Tie it to the user's
    /// browser session and check it with
    /// [`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state)
    /// before you exchange the code.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeBuilder) { let _ = b.state("s-1"); }
    /// ```
    pub fn state(self, state: impl Into<ConsentState>) -> ReauthorizeBuilder<C, ConsentStateSet> {
        ReauthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            token: self.token,
            callback: self.callback,
            state: ConsentStateSet(state.into()),
            options: self.options,
        }
    }
}

impl<C, S> ReauthorizeBuilder<C, S> {
    page_option_setters!("digime::consent::ReauthorizeBuilder": locale, trigger_query, pull_session);

    /// Calls `oauth/token/reference` with a fresh PKCE challenge and the
    /// user's last access token, verifies the server's token, and returns
    /// the `user-reauth` URL to send the user to, with the code verifier to
    /// keep for [`exchange_code_for_token`](DigiMe::exchange_code_for_token).
    ///
    /// The token is sent as it is, never refreshed: its refresh token has
    /// run out. Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for a `callback` that is not an http(s) URL or a `state` with control
    /// characters; server errors such as `InvalidRedirectUri`, or
    /// `InvalidToken` when digi.me no longer knows the token (a later one
    /// replaced it, or the user was deleted).
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) -> digime::Result<()> {
    /// let auth = sdk.reauthorize(&c, &t).state("s").callback("https://my.app/cb").locale("nl").send().await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn send(self) -> AuthorizeFuture
    where
        C: ReauthorizeHasCallback,
        S: ReauthorizeHasState,
    {
        let callback = self.callback.into_reauthorize_callback();
        let state = self.state.into_reauthorize_state();
        Box::pin(send(
            self.sdk,
            self.contract,
            self.token,
            callback,
            state,
            self.options,
        ))
    }
}

async fn send(
    sdk: DigiMe,
    contract: ContractDetails,
    token: UserAccessToken,
    callback: String,
    state: ConsentState,
    options: PageOptions,
) -> Result<Authorization> {
    check_callback(&callback)?;
    validate::no_control_chars("state", state.as_str())?;
    let verifier = pkce::code_verifier()?;
    let claims = ReferenceClaims {
        redirect_uri: &callback,
        state: Some(state.as_str()),
        code_challenge: Some(pkce::code_challenge(&verifier)),
        code_challenge_method: Some("S256"),
    };
    let reference = reference_code(
        &sdk,
        &contract,
        Sender::AsIs(&token),
        &claims,
        options.pull.as_ref(),
    )
    .await?;
    let url = page_url(&sdk, "user-reauth", &reference.code, |q| {
        options.append_locale(q);
        options.append_trigger_query(q);
    })?;
    Ok(Authorization {
        url,
        code_verifier: verifier,
        session: reference.session,
    })
}
