//! `sdk.authorize(&contract)`: start the consent flow for a user.
//!
//! - `mod.rs`: [`AuthorizeBuilder`], its setters and its gated `send()`;
//! - `authorization.rs`: what `send()` returns, [`Authorization`] and [`ReadSession`];
//! - `call.rs`: the `oauth/authorize` call and the onboard URL.
//!
//! Its type states are in [`consent::state`](super::state), its optional
//! settings in `auth/options.rs`.

mod authorization;
mod call;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::oauth::ConsentState;
use super::options::{PageOptions, page_option_setters};
use super::state::{
    AuthorizeHasCallback, AuthorizeHasState, ConsentCallbackMissing, ConsentCallbackSet,
    ConsentStateMissing, ConsentStateSet,
};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;

pub use authorization::{Authorization, ReadSession};

/// The future [`AuthorizeBuilder::send`] and
/// [`ReauthorizeBuilder::send`](super::ReauthorizeBuilder::send) return:
/// boxed, so that a missing field is reported once, at `.send()`, rather than
/// again at `.await`.
pub type AuthorizeFuture = Pin<Box<dyn Future<Output = Result<Authorization>> + Send + 'static>>;

/// Starts authorization: `callback(..)` and `state(..)` are required (at
/// compile time), the rest is optional.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
/// use digime::consent::SourceType;
/// let auth = sdk
///     .authorize(&contract)
///     .callback("https://my.app/digime/callback")
///     .state("opaque-value-tied-to-this-browser-session")
///     .source_type(SourceType::Push)
///     .send()
///     .await?;
/// println!("send the user to {}", auth.url());
/// // keep auth.code_verifier() until the callback arrives
/// # Ok(()) }
/// ```
#[must_use = "authorization does nothing until `.send()` is awaited"]
pub struct AuthorizeBuilder<C = ConsentCallbackMissing, S = ConsentStateMissing> {
    sdk: DigiMe,
    contract: ContractDetails,
    callback: C,
    state: S,
    user_access_token: Option<UserAccessToken>,
    options: PageOptions,
}

impl<C: fmt::Debug, S: fmt::Debug> fmt::Debug for AuthorizeBuilder<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeBuilder")
            .field("contract", &self.contract)
            .field("callback", &self.callback)
            .field("state", &self.state)
            .field("source_type", &self.options.source_type)
            .finish_non_exhaustive()
    }
}

impl DigiMe {
    /// Starts authorizing a user for `contract`. See [`AuthorizeBuilder`].
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
    /// let auth = sdk.authorize(&contract).callback("https://my.app/cb").state("s-1").send().await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn authorize(&self, contract: &ContractDetails) -> AuthorizeBuilder {
        AuthorizeBuilder {
            sdk: self.clone(),
            contract: contract.clone(),
            callback: ConsentCallbackMissing,
            state: ConsentStateMissing,
            user_access_token: None,
            options: PageOptions::default(),
        }
    }
}

impl<S> AuthorizeBuilder<ConsentCallbackMissing, S> {
    /// Where digi.me sends the user after consent (`redirect_uri`). It must
    /// be allowed for the contract.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::AuthorizeBuilder) { let _ = b.callback("https://my.app/cb"); }
    /// ```
    pub fn callback(self, url: impl Into<String>) -> AuthorizeBuilder<ConsentCallbackSet, S> {
        AuthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            callback: ConsentCallbackSet(url.into()),
            state: self.state,
            user_access_token: self.user_access_token,
            options: self.options,
        }
    }
}

impl<C> AuthorizeBuilder<C, ConsentStateMissing> {
    /// A value that comes back on the callback unchanged, such as
    /// [`ConsentState::generate`]'s (a `&str` or `String` converts). Tie it
    /// to the user's browser session and check it with
    /// [`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state).
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::AuthorizeBuilder) -> digime::Result<()> {
    /// let state = digime::consent::ConsentState::generate()?;
    /// let _ = b.state(state.clone());
    /// # Ok(()) }
    /// ```
    pub fn state(self, state: impl Into<ConsentState>) -> AuthorizeBuilder<C, ConsentStateSet> {
        AuthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            callback: self.callback,
            state: ConsentStateSet(state.into()),
            user_access_token: self.user_access_token,
            options: self.options,
        }
    }
}

impl<C, S> AuthorizeBuilder<C, S> {
    /// The user's existing token: the new contract joins the same library.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::AuthorizeBuilder, t: &digime::UserAccessToken) { let _ = b.user_access_token(t); }
    /// ```
    pub fn user_access_token(mut self, token: &UserAccessToken) -> Self {
        self.user_access_token = Some(token.clone());
        self
    }

    page_option_setters!("digime::consent::AuthorizeBuilder":
        source_type,
        service_id,
        locale,
        pull_session,
        sample_data,
        trigger_query,
        sources_scope,
        include_sample_data_only_sources,
    );

    /// Calls `oauth/authorize`, verifies the server's token, and returns the
    /// URL to send the user to, with the code verifier to keep.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for a `callback` that is not an http(s) URL or a `state` with control
    /// characters; server errors such as `InvalidRedirectUri`.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails) -> digime::Result<()> {
    /// let auth = sdk.authorize(&c).callback("https://my.app/cb").state("s").send().await?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn send(self) -> AuthorizeFuture
    where
        C: AuthorizeHasCallback,
        S: AuthorizeHasState,
    {
        let callback = self.callback.into_callback();
        let state = self.state.into_state();
        Box::pin(call::send(
            self.sdk,
            self.contract,
            callback,
            state,
            self.user_access_token,
            self.options,
        ))
    }
}
