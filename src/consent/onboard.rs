//! `sdk.onboard(&contract, &token)`: add a service to an authorized user's
//! library, such as the provider account (MedMij) a provider push needs.
//!
//! The reference-code call (made for the user, refreshed like any other),
//! then `{onboardUrl}onboard?code=…&sourceType=…` and the optional
//! parameters. Nothing is exchanged afterwards: the callback carries
//! `success` and `accountReference`, which matches the new account's
//! `reference` in [`read_accounts`](crate::DigiMe::read_accounts).

use std::fmt;

use super::oauth::ConsentState;
use super::options::{PageOptions, page_option_setters};
use super::page::{ConsentLink, ConsentLinkFuture, ConsentPage, check_callback, page_url};
use super::reference::{ReferenceClaims, Sender, reference_code};
use super::state::{ConsentCallbackMissing, ConsentCallbackSet, OnboardHasCallback};
use crate::DigiMe;
use crate::client::{Outcome, TokenState, UserSession};
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::validate;

/// Onboards another service for an authorized user: `callback(..)` is
/// required (at compile time), everything else is optional.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::consent::SourceType;
/// let link = sdk
///     .onboard(&contract, &token)
///     .callback("https://my.app/digime/onboarded")
///     .state("opaque-value-tied-to-this-browser-session")
///     .source_type(SourceType::Push) // services that accept provider pushes
///     .send()
///     .await?;
/// println!("send the user to {}", link.url());
/// let token_to_store = link.into_user_access_token();
/// // On the callback: AccountCallback::from_url(..)?.account_reference(),
/// // matched to an account's `reference` in read_accounts.
/// # let _ = token_to_store; Ok(()) }
/// ```
#[must_use = "onboarding does nothing until `.send()` is awaited"]
pub struct OnboardBuilder<C = ConsentCallbackMissing> {
    sdk: DigiMe,
    contract: ContractDetails,
    tokens: TokenState,
    callback: C,
    state: Option<ConsentState>,
    options: PageOptions,
}

impl<C: fmt::Debug> fmt::Debug for OnboardBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnboardBuilder")
            .field("contract", &self.contract)
            .field("tokens", &self.tokens)
            .field("callback", &self.callback)
            .field("state", &self.state)
            .field("source_type", &self.options.source_type)
            .finish_non_exhaustive()
    }
}

impl OnboardBuilder {
    pub(crate) fn new(sdk: DigiMe, contract: ContractDetails, tokens: TokenState) -> Self {
        Self {
            sdk,
            contract,
            tokens,
            callback: ConsentCallbackMissing,
            state: None,
            options: PageOptions::default(),
        }
    }
}

impl DigiMe {
    /// Starts onboarding another service (an account) for an authorized
    /// user. See [`OnboardBuilder`].
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let link = sdk.onboard(&contract, &token).callback("https://my.app/cb").service_id(420).send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn onboard(&self, contract: &ContractDetails, token: &UserAccessToken) -> OnboardBuilder {
        OnboardBuilder::new(
            self.clone(),
            contract.clone(),
            TokenState::owned(token.clone()),
        )
    }
}

impl UserSession {
    /// Starts onboarding another service with the session's token. See
    /// [`OnboardBuilder`].
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let link = session.onboard().callback("https://my.app/cb").send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn onboard(&self) -> OnboardBuilder {
        OnboardBuilder::new(
            self.sdk().clone(),
            self.contract().clone(),
            TokenState::shared(self.clone()),
        )
    }
}

impl OnboardBuilder<ConsentCallbackMissing> {
    /// Where digi.me sends the user after consent (`redirect_uri`). It must
    /// be allowed for the contract.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::OnboardBuilder) { let _ = b.callback("https://my.app/cb"); }
    /// ```
    pub fn callback(self, url: impl Into<String>) -> OnboardBuilder<ConsentCallbackSet> {
        OnboardBuilder {
            sdk: self.sdk,
            contract: self.contract,
            tokens: self.tokens,
            callback: ConsentCallbackSet(url.into()),
            state: self.state,
            options: self.options,
        }
    }
}

impl<C> OnboardBuilder<C> {
    /// A value that comes back on the callback unchanged (optional: nothing
    /// is exchanged after onboarding). Check it with
    /// [`AccountCallback::verify_state`](super::AccountCallback::verify_state).
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::OnboardBuilder) { let _ = b.state("s-1"); }
    /// ```
    pub fn state(mut self, state: impl Into<ConsentState>) -> Self {
        self.state = Some(state.into());
        self
    }

    page_option_setters!("digime::consent::OnboardBuilder":
        source_type,
        service_id,
        locale,
        pull_session,
        sample_data,
        trigger_query,
        sources_scope,
        include_sample_data_only_sources,
    );

    /// Called once with the new token when the SDK refreshes it during this
    /// call.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::OnboardBuilder) { let _ = b.on_access_token_change(|t| { let _ = t; }); }
    /// ```
    pub fn on_access_token_change(
        mut self,
        hook: impl FnMut(&UserAccessToken) + Send + 'static,
    ) -> Self {
        self.tokens.set_hook(Box::new(hook));
        self
    }

    /// Calls `oauth/token/reference` for the user (refreshing the token
    /// first when it is about to expire, and once on a 401), verifies the
    /// server's token, and returns the `onboard` URL to send the user to.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for a `callback` that is not an http(s) URL or a `state` with control
    /// characters; [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired)
    /// when the refresh token has run out; server errors such as
    /// `InvalidRedirectUri`.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) -> digime::Result<()> {
    /// let link = sdk.onboard(&c, &t).callback("https://my.app/cb").send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn send(self) -> ConsentLinkFuture
    where
        C: OnboardHasCallback,
    {
        let callback = self.callback.into_onboard_callback();
        Box::pin(send(
            self.sdk,
            self.contract,
            self.tokens,
            callback,
            self.state,
            self.options,
        ))
    }
}

async fn send(
    sdk: DigiMe,
    contract: ContractDetails,
    mut tokens: TokenState,
    callback: String,
    state: Option<ConsentState>,
    options: PageOptions,
) -> Result<ConsentLink> {
    check_callback(&callback)?;
    if let Some(state) = &state {
        validate::no_control_chars("state", state.as_str())?;
    }
    let claims = ReferenceClaims {
        redirect_uri: &callback,
        state: state.as_ref().map(ConsentState::as_str),
        code_challenge: None,
        code_challenge_method: None,
    };
    let result = async {
        let reference = reference_code(
            &sdk,
            &contract,
            Sender::Refreshing(&mut tokens),
            &claims,
            options.pull.as_ref(),
        )
        .await?;
        let url = page_url(&sdk, "onboard", &reference.code, |q| {
            options.append_source_query(q)
        })?;
        Ok(ConsentPage::new(url, reference.session))
    }
    .await;
    let (page, finished) = tokens.conclude(result)?;
    Ok(Outcome::new(page, finished))
}
