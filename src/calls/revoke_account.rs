//! `GET permission-access/revoke/h:accountId`: where to send the user to
//! revoke this application's permission for one of their accounts.

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::Outcome;
use crate::DigiMe;
use crate::client::{TokenState, UserSession, user_call};
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::Call;
use crate::validate;

impl DigiMe {
    /// Asks digi.me where to send the user to revoke this application's
    /// permission for one of their accounts. digi.me sends the user back to
    /// `callback` afterwards (the call's `redirectUri` header). Refreshes
    /// the token like a push does; store [`Outcome::user_access_token`].
    ///
    /// The account stays listed; once the user has revoked it, its
    /// `accessTokenStatus` says it is not authorized, and
    /// [`reauthorize_account`](DigiMe::reauthorize_account) asks for the
    /// permission again.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `account_id` (empty, not ASCII) or `callback` (not an
    /// absolute http(s) URL); server errors, such as an account that is
    /// not the user's.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let outcome = sdk.revoke_account_url(&contract, &token, "acc-1", "https://my.app/revoked").await?;
    /// println!("send the user to {}", outcome.value());
    /// # Ok(()) }
    /// ```
    pub async fn revoke_account_url(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
        account_id: impl AsRef<str>,
        callback: impl AsRef<str>,
    ) -> Result<Outcome<Url>> {
        self.revoke_account_url_with(
            contract,
            TokenState::owned(token.clone()),
            account_id.as_ref(),
            callback.as_ref(),
        )
        .await
    }

    pub(crate) async fn revoke_account_url_with(
        &self,
        contract: &ContractDetails,
        mut tokens: TokenState,
        account_id: &str,
        callback: &str,
    ) -> Result<Outcome<Url>> {
        validate::header_value("account_id", account_id)?;
        validate::header_value("callback", callback)?;
        let absolute = Url::parse(callback)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !absolute {
            return Err(Error::invalid_input(
                "callback",
                "must be an absolute http or https URL",
            ));
        }
        let header = |value: &str| {
            HeaderValue::try_from(value).map_err(|e| Error::invalid_input("account_id", e))
        };
        let call = Call::get("permission-access/revoke", contract)
            .path("permission-access/revoke/h:accountId")
            .header(HeaderName::from_static("accountid"), header(account_id)?)
            .header(HeaderName::from_static("redirecturi"), header(callback)?);
        let reply = user_call(self, contract, &call, &mut tokens).await?;
        #[derive(Deserialize)]
        struct Location {
            location: String,
        }
        let finished = tokens.finish();
        let location = reply
            .json::<Location>("permission-access/revoke")
            .and_then(|l| {
                Url::parse(&l.location).map_err(|_| {
                    Error::invalid_response(
                        "permission-access/revoke answered a location that is not a URL",
                    )
                })
            });
        match location {
            Ok(location) => Ok(Outcome::new(location, finished)),
            Err(err) if finished.refreshed => Err(err.with_user_access_token(finished.token)),
            Err(err) => Err(err),
        }
    }
}

impl UserSession {
    /// Asks digi.me where to send the user to revoke this application's
    /// permission for one of their accounts, with the session's token. See
    /// [`DigiMe::revoke_account_url`].
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let outcome = session.revoke_account_url("acc-1", "https://my.app/revoked").await?;
    /// # let _ = outcome; Ok(()) }
    /// ```
    pub async fn revoke_account_url(
        &self,
        account_id: impl AsRef<str>,
        callback: impl AsRef<str>,
    ) -> Result<Outcome<Url>> {
        self.sdk()
            .revoke_account_url_with(
                self.contract(),
                TokenState::shared(self.clone()),
                account_id.as_ref(),
                callback.as_ref(),
            )
            .await
    }
}
