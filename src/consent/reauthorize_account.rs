//! `sdk.reauthorize_account(&contract, &token)`: the user's consent again
//! for one account, when digi.me says it must be reauthorized
//! (`ServiceAuthorizationError`) or its permission was revoked.
//!
//! The reference-code call (made for the user, refreshed like any other),
//! then `POST reference` with `{"type":"accountId","value":<account id>}`
//! (a Bearer JWT of only `client_id`, `nonce` and `timestamp`), whose `id` is
//! the account reference; the user is sent to
//! `{onboardUrl}reauthorize?code=…&accountRef=…`.

use std::fmt;

use serde::Deserialize;

use super::oauth::ConsentState;
use super::options::{PageOptions, page_option_setters};
use super::page::{ConsentLink, ConsentLinkFuture, ConsentPage, check_callback, page_url};
use super::reference::{ReferenceClaims, Sender, reference_code};
use super::state::{
    ConsentAccountIdMissing, ConsentAccountIdSet, ConsentCallbackMissing, ConsentCallbackSet,
    ReauthorizeAccountHasAccountId, ReauthorizeAccountHasCallback,
};
use crate::DigiMe;
use crate::client::{Outcome, TokenState, UserSession};
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::{Body, Call};
use crate::validate;

/// Reauthorizes one of the user's accounts: `callback(..)` and
/// `account_id(..)` are required (at compile time); `state(..)` and
/// `locale(..)` are optional.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// let link = sdk
///     .reauthorize_account(&contract, &token)
///     .account_id("account-id-from-read-accounts")
///     .callback("https://my.app/digime/account-reauthorized")
///     .send()
///     .await?;
/// println!("send the user to {}", link.url());
/// let token_to_store = link.into_user_access_token();
/// # let _ = token_to_store; Ok(()) }
/// ```
#[must_use = "an account reauthorization does nothing until `.send()` is awaited"]
pub struct ReauthorizeAccountBuilder<C = ConsentCallbackMissing, A = ConsentAccountIdMissing> {
    sdk: DigiMe,
    contract: ContractDetails,
    tokens: TokenState,
    callback: C,
    account_id: A,
    state: Option<ConsentState>,
    options: PageOptions,
}

impl<C: fmt::Debug, A: fmt::Debug> fmt::Debug for ReauthorizeAccountBuilder<C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReauthorizeAccountBuilder")
            .field("contract", &self.contract)
            .field("tokens", &self.tokens)
            .field("callback", &self.callback)
            .field("account_id", &self.account_id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ReauthorizeAccountBuilder {
    pub(crate) fn new(sdk: DigiMe, contract: ContractDetails, tokens: TokenState) -> Self {
        Self {
            sdk,
            contract,
            tokens,
            callback: ConsentCallbackMissing,
            account_id: ConsentAccountIdMissing,
            state: None,
            options: PageOptions::default(),
        }
    }
}

impl DigiMe {
    /// Starts reauthorizing one of the user's accounts. See
    /// [`ReauthorizeAccountBuilder`].
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let link = sdk.reauthorize_account(&contract, &token)
    ///     .callback("https://my.app/cb").account_id("acc-1").send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn reauthorize_account(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> ReauthorizeAccountBuilder {
        ReauthorizeAccountBuilder::new(
            self.clone(),
            contract.clone(),
            TokenState::owned(token.clone()),
        )
    }
}

impl UserSession {
    /// Starts reauthorizing one of the user's accounts with the session's
    /// token. See [`ReauthorizeAccountBuilder`].
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let link = session.reauthorize_account().account_id("acc-1").callback("https://my.app/cb").send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn reauthorize_account(&self) -> ReauthorizeAccountBuilder {
        ReauthorizeAccountBuilder::new(
            self.sdk().clone(),
            self.contract().clone(),
            TokenState::shared(self.clone()),
        )
    }
}

impl<A> ReauthorizeAccountBuilder<ConsentCallbackMissing, A> {
    /// Where digi.me sends the user after consent (`redirect_uri`). It must
    /// be allowed for the contract.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeAccountBuilder) { let _ = b.callback("https://my.app/cb"); }
    /// ```
    pub fn callback(
        self,
        url: impl Into<String>,
    ) -> ReauthorizeAccountBuilder<ConsentCallbackSet, A> {
        ReauthorizeAccountBuilder {
            sdk: self.sdk,
            contract: self.contract,
            tokens: self.tokens,
            callback: ConsentCallbackSet(url.into()),
            account_id: self.account_id,
            state: self.state,
            options: self.options,
        }
    }
}

impl<C> ReauthorizeAccountBuilder<C, ConsentAccountIdMissing> {
    /// The account to reauthorize: an `id` from
    /// [`read_accounts`](DigiMe::read_accounts).
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeAccountBuilder) { let _ = b.account_id("acc-1"); }
    /// ```
    pub fn account_id(
        self,
        account_id: impl Into<String>,
    ) -> ReauthorizeAccountBuilder<C, ConsentAccountIdSet> {
        ReauthorizeAccountBuilder {
            sdk: self.sdk,
            contract: self.contract,
            tokens: self.tokens,
            callback: self.callback,
            account_id: ConsentAccountIdSet(account_id.into()),
            state: self.state,
            options: self.options,
        }
    }
}

impl<C, A> ReauthorizeAccountBuilder<C, A> {
    /// A value that comes back on the callback unchanged (optional). Check
    /// it with [`AccountCallback::verify_state`](super::AccountCallback::verify_state).
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeAccountBuilder) { let _ = b.state("s-1"); }
    /// ```
    pub fn state(mut self, state: impl Into<ConsentState>) -> Self {
        self.state = Some(state.into());
        self
    }

    page_option_setters!("digime::consent::ReauthorizeAccountBuilder": locale);

    /// Called once with the new token when the SDK refreshes it during this
    /// call.
    ///
    /// ```no_run
    /// # fn f(b: digime::consent::ReauthorizeAccountBuilder) { let _ = b.on_access_token_change(|t| { let _ = t; }); }
    /// ```
    pub fn on_access_token_change(
        mut self,
        hook: impl FnMut(&UserAccessToken) + Send + 'static,
    ) -> Self {
        self.tokens.set_hook(Box::new(hook));
        self
    }

    /// Calls `oauth/token/reference` for the user, then `POST reference`
    /// for the account, and returns the `reauthorize` URL to send the user
    /// to.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for a `callback` that is not an http(s) URL, an empty or non-ASCII
    /// `account_id`, or a `state` with control characters;
    /// [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired)
    /// when the user's refresh token has run out; server errors, such as an
    /// account digi.me does not know.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) -> digime::Result<()> {
    /// let link = sdk.reauthorize_account(&c, &t).account_id("acc-1").callback("https://my.app/cb").send().await?;
    /// # let _ = link; Ok(()) }
    /// ```
    pub fn send(self) -> ConsentLinkFuture
    where
        C: ReauthorizeAccountHasCallback,
        A: ReauthorizeAccountHasAccountId,
    {
        let callback = self.callback.into_account_callback();
        let account_id = self.account_id.into_account_id();
        Box::pin(send(
            self.sdk,
            self.contract,
            self.tokens,
            callback,
            account_id,
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
    account_id: String,
    state: Option<ConsentState>,
    options: PageOptions,
) -> Result<ConsentLink> {
    check_callback(&callback)?;
    validate::header_value("account_id", &account_id)?;
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
            None,
        )
        .await?;
        let account_ref = account_reference(&sdk, &contract, &account_id).await?;
        let url = page_url(&sdk, "reauthorize", &reference.code, |q| {
            q.append_pair("accountRef", &account_ref);
            options.append_locale(q);
        })?;
        Ok(ConsentPage::new(url, reference.session))
    }
    .await;
    let (page, finished) = tokens.conclude(result)?;
    Ok(Outcome::new(page, finished))
}

/// `POST reference`: the account reference for `account_id`.
async fn account_reference(
    sdk: &DigiMe,
    contract: &ContractDetails,
    account_id: &str,
) -> Result<String> {
    #[derive(Deserialize)]
    struct ReferenceId {
        id: String,
    }
    let body = serde_json::to_vec(&serde_json::json!({ "type": "accountId", "value": account_id }))
        .map_err(|e| Error::invalid_input("account_id", e))?;
    let call = Call::post("reference", contract).body(Body::Bytes {
        content_type: "application/json",
        bytes: body.into(),
    });
    let reply = sdk.transport().execute(&call, None).await?;
    let reference: ReferenceId = reply.json("reference")?;
    Ok(reference.id)
}
