//! `sdk.authorize(&contract)`: start the consent flow for a user.

use std::fmt;

use reqwest::Method;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::pkce;
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::{Body, Call, CallKind};
use crate::typestate::sealed::Sealed;
use crate::typestate::state_pair;
use crate::validate;

state_pair!(
    /// Authorize: `.callback(..)` has not been called.
    CallbackMissing,
    /// Authorize: the callback URL is set.
    CallbackSet(String)
);
state_pair!(
    /// Authorize: `.state(..)` has not been called.
    StateMissing,
    /// Authorize: the state is set.
    StateSet(String)
);

/// Proof that an authorize call has its callback URL.
#[diagnostic::on_unimplemented(
    message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
    label = "this authorize call has no callback URL yet"
)]
pub trait HasCallback: Sealed {
    #[doc(hidden)]
    fn into_callback(self) -> String;
}
impl HasCallback for CallbackSet {
    fn into_callback(self) -> String {
        self.0
    }
}

/// Proof that an authorize call has its state.
#[diagnostic::on_unimplemented(
    message = "the state is missing: call `.state(..)` with a value you can check on the callback before `.send()`",
    label = "this authorize call has no state yet"
)]
pub trait HasState: Sealed {
    #[doc(hidden)]
    fn into_state(self) -> String;
}
impl HasState for StateSet {
    fn into_state(self) -> String {
        self.0
    }
}

/// Which services the consent page offers.
///
/// ```
/// assert_eq!(digime::SourceType::Push.as_str(), "push");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceType {
    /// Services digi.me reads from (the default).
    #[default]
    Pull,
    /// Only services that accept provider pushes (such as MedMij).
    Push,
}

impl SourceType {
    /// `pull` or `push`, as in the onboard URL.
    ///
    /// ```
    /// assert_eq!(digime::SourceType::Pull.as_str(), "pull");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceType::Pull => "pull",
            SourceType::Push => "push",
        }
    }
}

/// Options of the read ("pull") session opened with the authorization: the
/// scope and the limits, passed to digi.me as they are.
///
/// ```
/// let options = digime::auth::PullSessionOptions {
///     scope: Some(serde_json::json!({ "timeRanges": [{ "last": "7d" }] })),
///     limits: Some(serde_json::json!({ "duration": { "sourceFetch": 60 } })),
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PullSessionOptions {
    /// The scope (`CAScope` in digi.me's documentation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Value>,
    /// The limits, such as `{"duration":{"sourceFetch":60}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
}

/// Sample-data options for testing the consent page with digi.me's sample
/// sources.
///
/// ```
/// let sample = digime::auth::SampleDataOptions { data_set: Some("default".into()), auto_onboard: true };
/// # let _ = sample;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleDataOptions {
    /// The sample data set to offer (`sampleDataSet`).
    pub data_set: Option<String>,
    /// Onboard the sample source without asking (`sampleDataAutoOnboard`).
    pub auto_onboard: bool,
}

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
    /// A value that comes back on the callback unchanged. Tie it to the
    /// user's browser session and check it with
    /// [`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state).
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
    pub async fn send(self) -> Result<Authorization>
    where
        C: HasCallback,
        S: HasState,
    {
        let callback = self.callback.into_callback();
        let state = self.state.into_state();
        send(self.sdk, self.contract, callback, state, self.options).await
    }
}

/// What `oauth/authorize` returns before the user consents.
///
/// ```no_run
/// # fn f(auth: digime::auth::Authorization) {
/// use digime::secrecy::ExposeSecret;
/// let url = auth.url().to_string();          // redirect the user here
/// let verifier = auth.code_verifier();       // store until the callback
/// # let _ = (url, verifier.expose_secret()); }
/// ```
pub struct Authorization {
    url: Url,
    code_verifier: SecretString,
    session: Session,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url.as_str())
            .field("code_verifier", &"[redacted]")
            .field("session", &self.session)
            .finish()
    }
}

impl Authorization {
    /// The onboard URL to send the user to. It implements `Display`.
    ///
    /// ```no_run
    /// # fn f(auth: digime::auth::Authorization) { println!("{}", auth.url()); }
    /// ```
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The PKCE code verifier. Keep it (server side) until the callback:
    /// [`DigiMe::exchange_code_for_token`] needs it.
    ///
    /// ```no_run
    /// # fn f(auth: digime::auth::Authorization) { let _v: &digime::secrecy::SecretString = auth.code_verifier(); }
    /// ```
    pub fn code_verifier(&self) -> &SecretString {
        &self.code_verifier
    }

    /// The session digi.me opened.
    ///
    /// ```no_run
    /// # fn f(auth: digime::auth::Authorization) { println!("{}", auth.session().expiry()); }
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }
}

/// The session `oauth/authorize` opens: its key and expiry.
///
/// ```no_run
/// # fn f(s: &digime::auth::Session) { println!("{} until {}", s.key(), s.expiry()); }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    key: String,
    expiry: u64,
}

impl Session {
    /// The session key.
    ///
    /// ```no_run
    /// # fn f(s: &digime::auth::Session) { let _ = s.key(); }
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// When the session expires, as digi.me gives it (milliseconds since the
    /// Unix epoch).
    ///
    /// ```no_run
    /// # fn f(s: &digime::auth::Session) { let _ = s.expiry(); }
    /// ```
    pub fn expiry(&self) -> u64 {
        self.expiry
    }
}

#[derive(Deserialize)]
struct AuthorizeResponse {
    token: String,
    session: Session,
}

#[derive(Deserialize)]
struct PreauthorizationPayload {
    preauthorization_code: String,
}

async fn send(
    sdk: DigiMe,
    contract: ContractDetails,
    callback: String,
    state: String,
    options: Options,
) -> Result<Authorization> {
    let callback_url = Url::parse(&callback)
        .map_err(|e| Error::invalid_input("callback", format!("not a URL ({e})")))?;
    if !matches!(callback_url.scheme(), "http" | "https") {
        return Err(Error::invalid_input(
            "callback",
            "must be an http or https URL",
        ));
    }
    validate::no_control_chars("state", &state)?;
    let verifier = pkce::code_verifier()?;

    #[derive(Serialize)]
    struct Claims<'a> {
        redirect_uri: &'a str,
        state: &'a str,
        response_mode: &'static str,
        response_type: &'static str,
        code_challenge: String,
        code_challenge_method: &'static str,
    }
    let claims = Claims {
        redirect_uri: &callback,
        state: &state,
        response_mode: "query",
        response_type: "code",
        code_challenge: pkce::code_challenge(&verifier),
        code_challenge_method: "S256",
    };
    let body = serde_json::json!({
        "agent": { "sdk": { "name": "rust", "version": env!("CARGO_PKG_VERSION"), "meta": {} } },
        "actions": match &options.pull { Some(pull) => serde_json::json!({ "pull": pull }), None => serde_json::json!({}) },
    });
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_input("pull_session", e))?;
    let call = Call {
        endpoint: "oauth/authorize",
        method: Method::POST,
        path: "oauth/authorize",
        contract: &contract,
        claims: &claims,
        headers: Vec::new(),
        body: Body::Bytes {
            content_type: "application/json",
            bytes: body.into(),
        },
        kind: CallKind::Idempotent,
        ambiguous: Default::default(),
    };
    let access = options
        .user_access_token
        .as_ref()
        .map(|t| t.access_token().value());
    let reply = sdk.execute(&call, access).await?;
    let response: AuthorizeResponse = reply.json("oauth/authorize")?;
    let payload: PreauthorizationPayload = sdk
        .inner
        .verifier
        .verify(&sdk.inner.http, &response.token)
        .await?;
    let url = onboard_url(&sdk, &payload.preauthorization_code, &options)?;
    Ok(Authorization {
        url,
        code_verifier: verifier,
        session: response.session,
    })
}

fn onboard_url(sdk: &DigiMe, code: &str, options: &Options) -> Result<Url> {
    let mut url = sdk
        .inner
        .onboard_url
        .join("authorize")
        .map_err(|e| Error::invalid_input("onboard_url", e))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code);
        q.append_pair("sourceType", options.source_type.as_str());
        if let Some(service) = options.service_id {
            q.append_pair("service", &service.to_string());
        }
        if let Some(locale) = &options.locale {
            q.append_pair("lng", locale);
        }
        if let Some(sample) = &options.sample_data {
            if let Some(set) = &sample.data_set {
                q.append_pair("sampleDataSet", set);
            }
            if sample.auto_onboard {
                q.append_pair("sampleDataAutoOnboard", "true");
            }
        }
        if let Some(trigger) = options.trigger_query {
            q.append_pair("triggerQuery", if trigger { "true" } else { "false" });
        }
        if let Some(scope) = &options.sources_scope {
            q.append_pair("sourcesScope", scope);
        }
        if let Some(include) = options.include_sample_data_only_sources {
            q.append_pair(
                "includeSampleDataOnlySources",
                if include { "true" } else { "false" },
            );
        }
    }
    Ok(url)
}
