//! `sdk.authorize(&contract)`: start the consent flow for a user.
//!
//! - `mod.rs`: [`AuthorizeBuilder`], its setters and its gated `send()`;
//! - [`state`]: the builder's type states;
//! - `options.rs`: [`SourceType`], [`PullSessionOptions`], [`SampleDataOptions`];
//! - `authorization.rs`: what `send()` returns, [`Authorization`] and [`Session`];
//! - `call.rs`: the `oauth/authorize` call and the onboard URL.

mod authorization;
mod call;
mod options;
pub mod state;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;

pub use authorization::{Authorization, Session};
pub use options::{PullSessionOptions, SampleDataOptions, SourceType};
use state::{CallbackMissing, CallbackSet, HasCallback, HasState, StateMissing, StateSet};

/// A fresh value for [`AuthorizeBuilder::state`]: 32 characters from
/// `[A-Za-z0-9]`, drawn from the operating system's CSPRNG. Keep it with the
/// user's browser session, and check it on the callback with
/// [`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state).
///
/// Errors: [`ErrorKind::Transport`](crate::ErrorKind::Transport) in the
/// unlikely case the CSPRNG cannot be read; it never blocks or loops.
///
/// ```
/// let state = digime::auth::generate_state()?;
/// assert_eq!(state.len(), 32);
/// assert!(state.bytes().all(|b| b.is_ascii_alphanumeric()));
/// assert_ne!(state, digime::auth::generate_state()?);
/// # Ok::<(), digime::Error>(())
/// ```
pub fn generate_state() -> Result<String> {
    crate::signer::nonce::random_alnum(STATE_LEN)
}

/// The length of [`generate_state`]'s values.
const STATE_LEN: usize = 32;

/// The future [`AuthorizeBuilder::send`] returns: boxed, so that a missing
/// field is reported once, at `.send()`, rather than again at `.await`.
pub type AuthorizeFuture = Pin<Box<dyn Future<Output = Result<Authorization>> + Send + 'static>>;

#[derive(Default)]
struct Options {
    user_access_token: Option<UserAccessToken>,
    source_type: SourceType,
    service_id: Option<u64>,
    locale: Option<String>,
    pull: Option<PullSessionOptions>,
    sample_data: Option<SampleDataOptions>,
    trigger_query: Option<bool>,
    sources_scope: Option<String>,
    include_sample_data_only_sources: Option<bool>,
}

/// Starts authorization: `callback(..)` and `state(..)` are required (at
/// compile time), the rest is optional.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
/// use digime::SourceType;
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
pub struct AuthorizeBuilder<C = CallbackMissing, S = StateMissing> {
    sdk: DigiMe,
    contract: ContractDetails,
    callback: C,
    state: S,
    options: Options,
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
            callback: CallbackMissing,
            state: StateMissing,
            options: Options::default(),
        }
    }
}

impl<S> AuthorizeBuilder<CallbackMissing, S> {
    /// Where digi.me sends the user after consent (`redirect_uri`). It must
    /// be allowed for the contract.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.callback("https://my.app/cb"); }
    /// ```
    pub fn callback(self, url: impl Into<String>) -> AuthorizeBuilder<CallbackSet, S> {
        AuthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            callback: CallbackSet(url.into()),
            state: self.state,
            options: self.options,
        }
    }
}

impl<C> AuthorizeBuilder<C, StateMissing> {
    /// A value that comes back on the callback unchanged, such as one from
    /// [`generate_state`]. Tie it to the user's browser session and check it
    /// with [`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state).
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.state("s-1"); }
    /// ```
    pub fn state(self, state: impl Into<String>) -> AuthorizeBuilder<C, StateSet> {
        AuthorizeBuilder {
            sdk: self.sdk,
            contract: self.contract,
            callback: self.callback,
            state: StateSet(state.into()),
            options: self.options,
        }
    }
}

impl<C, S> AuthorizeBuilder<C, S> {
    /// The user's existing token: the new contract joins the same library.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder, t: &digime::UserAccessToken) { let _ = b.user_access_token(t); }
    /// ```
    pub fn user_access_token(mut self, token: &UserAccessToken) -> Self {
        self.options.user_access_token = Some(token.clone());
        self
    }

    /// Which services the consent page lists (default [`SourceType::Pull`]).
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.source_type(digime::SourceType::Push); }
    /// ```
    pub fn source_type(mut self, source_type: SourceType) -> Self {
        self.options.source_type = source_type;
        self
    }

    /// Go straight to one service (`service=<id>`).
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.service_id(420); }
    /// ```
    pub fn service_id(mut self, service_id: u64) -> Self {
        self.options.service_id = Some(service_id);
        self
    }

    /// The consent page's language (`lng=<locale>`), such as `nl`.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.locale("nl"); }
    /// ```
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.options.locale = Some(locale.into());
        self
    }

    /// Options for the read session (scope and limits).
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.pull_session(Default::default()); }
    /// ```
    pub fn pull_session(mut self, options: PullSessionOptions) -> Self {
        self.options.pull = Some(options);
        self
    }

    /// Offer digi.me's sample data.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.sample_data(Default::default()); }
    /// ```
    pub fn sample_data(mut self, options: SampleDataOptions) -> Self {
        self.options.sample_data = Some(options);
        self
    }

    /// Passed to the consent page as `triggerQuery`.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.trigger_query(true); }
    /// ```
    pub fn trigger_query(mut self, trigger: bool) -> Self {
        self.options.trigger_query = Some(trigger);
        self
    }

    /// Passed to the consent page as `sourcesScope`.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.sources_scope("medmij"); }
    /// ```
    pub fn sources_scope(mut self, scope: impl Into<String>) -> Self {
        self.options.sources_scope = Some(scope.into());
        self
    }

    /// Passed to the consent page as `includeSampleDataOnlySources`.
    ///
    /// ```no_run
    /// # fn f(b: digime::auth::AuthorizeBuilder) { let _ = b.include_sample_data_only_sources(true); }
    /// ```
    pub fn include_sample_data_only_sources(mut self, include: bool) -> Self {
        self.options.include_sample_data_only_sources = Some(include);
        self
    }

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
        C: HasCallback,
        S: HasState,
    {
        let callback = self.callback.into_callback();
        let state = self.state.into_state();
        Box::pin(call::send(
            self.sdk,
            self.contract,
            callback,
            state,
            self.options,
        ))
    }
}
