//! `DELETE permission-access/service/h:accountId`: one account out of the
//! user's library.

use reqwest::header::{HeaderName, HeaderValue};

use super::Outcome;
use crate::DigiMe;
use crate::client::{TokenState, UserSession, user_call};
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::Call;
use crate::validate;

impl DigiMe {
    /// Deletes one of the user's accounts: read accounts no longer lists
    /// it, and a provider push to it is refused. The user and their other
    /// accounts stay. Refreshes the token like a push does; store
    /// [`Outcome::user_access_token`].
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `account_id` (empty, not ASCII); server errors, such as an
    /// account that is not the user's.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let outcome = sdk.delete_account(&contract, &token, "acc-1").await?;
    /// let token_to_store = outcome.into_user_access_token();
    /// # let _ = token_to_store; Ok(()) }
    /// ```
    pub async fn delete_account(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
        account_id: impl AsRef<str>,
    ) -> Result<Outcome<()>> {
        self.delete_account_with(
            contract,
            TokenState::owned(token.clone()),
            account_id.as_ref(),
        )
        .await
    }

    pub(crate) async fn delete_account_with(
        &self,
        contract: &ContractDetails,
        mut tokens: TokenState,
        account_id: &str,
    ) -> Result<Outcome<()>> {
        validate::header_value("account_id", account_id)?;
        let header =
            HeaderValue::try_from(account_id).map_err(|e| Error::invalid_input("account_id", e))?;
        let call = Call::delete("permission-access/service", contract)
            .path("permission-access/service/h:accountId")
            .header(HeaderName::from_static("accountid"), header);
        user_call(self, contract, &call, &mut tokens).await?;
        Ok(Outcome::new((), tokens.finish()))
    }
}

impl UserSession {
    /// Deletes one of the user's accounts with the session's token. See
    /// [`DigiMe::delete_account`].
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// session.delete_account("acc-1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_account(&self, account_id: impl AsRef<str>) -> Result<Outcome<()>> {
        self.sdk()
            .delete_account_with(
                self.contract(),
                TokenState::shared(self.clone()),
                account_id.as_ref(),
            )
            .await
    }
}
