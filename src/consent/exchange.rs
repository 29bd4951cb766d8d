//! The authorization-code grant: the callback's code for a user access token.

use secrecy::ExposeSecret;
use serde::Serialize;

use super::oauth::{AuthorizationCode, PkceCodeVerifier};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::tokens::{token_call, token_from_reply};

impl DigiMe {
    /// Exchanges the callback's code for the user's access token, proving
    /// possession with the code verifier from [`authorize`](DigiMe::authorize).
    /// The server's token is verified against its key set before it is
    /// trusted.
    ///
    /// The exchange is sent again only after a failure that says digi.me did
    /// not handle it (could not connect, 429, 503). After any other failure
    /// once it was sent (a 5xx, a lost connection, a timeout, an unreadable
    /// token), the code may already be spent: the error's
    /// [`refresh_may_have_happened`](crate::Error::refresh_may_have_happened)
    /// is true.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, auth: digime::consent::Authorization, callback_url: &str) -> digime::Result<()> {
    /// let callback = digime::consent::AuthorizeCallback::from_url(callback_url)?;
    /// callback.verify_state(&"the-state-you-sent".into())?;
    /// let token = sdk.exchange_code_for_token(&contract, callback.code(), auth.code_verifier()).await?;
    /// let to_store = serde_json::to_string(&token).unwrap();
    /// # let _ = to_store; Ok(()) }
    /// ```
    pub async fn exchange_code_for_token(
        &self,
        contract: &ContractDetails,
        code: &AuthorizationCode,
        code_verifier: &PkceCodeVerifier,
    ) -> Result<UserAccessToken> {
        let code = code.expose_secret();
        if code.is_empty() {
            return Err(Error::invalid_input("code", "must not be empty"));
        }
        crate::validate::no_control_chars("code", code)?;
        if code_verifier.expose_secret().is_empty() {
            return Err(Error::invalid_input("code_verifier", "must not be empty"));
        }
        #[derive(Serialize)]
        struct Claims<'a> {
            code: &'a str,
            code_verifier: &'a str,
            grant_type: &'static str,
        }
        let claims = Claims {
            code,
            code_verifier: code_verifier.expose_secret(),
            grant_type: "authorization_code",
        };
        let call = token_call(contract, &claims);
        let reply = self.transport().execute(&call, None).await.map_err(|err| {
            if call.was_ambiguous() {
                err.mark_code_exchange_may_have_happened()
            } else {
                err
            }
        })?;
        // A success means the code is spent, even if its token cannot be read.
        token_from_reply(self.transport(), &reply)
            .await
            .map_err(Error::mark_code_exchange_may_have_happened)
    }

    /// Refreshes a user's token now with the refresh grant. The old refresh
    /// token stops working: store the new token.
    ///
    /// Like every refresh of this SDK, it is shared: callers refreshing the
    /// same token at once make one refresh and all get its result, and a
    /// token this client already rotated is answered with the token it was
    /// rotated to, without a call.
    ///
    /// A rejected refresh token is
    /// [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired).
    /// A refresh that failed once it may have reached digi.me is not sent
    /// again (a refresh token works once): the error's
    /// [`refresh_may_have_happened`](crate::Error::refresh_may_have_happened)
    /// is true, and it carries this `token` as the token to store
    /// ([`user_access_token`](crate::Error::user_access_token)).
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let fresh = sdk.refresh(&contract, &token).await?;
    /// # let _ = fresh; Ok(()) }
    /// ```
    pub async fn refresh(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> Result<UserAccessToken> {
        let (desk, version) = self.tokens().route(
            &self.transport().client_id(contract),
            &std::sync::Arc::new(token.clone()),
        );
        let seen = crate::tokens::core::Versioned::new(
            crate::tokens::Tok(std::sync::Arc::new(token.clone())),
            version,
        );
        let fresh = desk.need(self.tokens(), contract, seen).await?;
        let token = std::sync::Arc::unwrap_or_clone(fresh.token.token.0);
        match fresh.unstored {
            Some(err) => Err(err.with_user_access_token(token)),
            None => Ok(token),
        }
    }
}
