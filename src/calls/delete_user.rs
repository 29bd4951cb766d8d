//! `DELETE user`.

use crate::DigiMe;
use crate::client::{TokenState, user_call};
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::Call;

impl DigiMe {
    /// Deletes the user's library for this application. The user's tokens
    /// stop working; forget them.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// sdk.delete_user(&contract, &token).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_user(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> Result<()> {
        let call = Call::delete("user", contract);
        let mut tokens = TokenState::owned(token.clone());
        user_call(self, contract, &call, &mut tokens).await?;
        Ok(())
    }
}
