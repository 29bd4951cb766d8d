//! `GET permission-access/accounts`.

use crate::DigiMe;
use crate::client::{TokenState, UserSession, user_call};
use crate::contract::ContractDetails;
use crate::error::Result;
use crate::models::ServiceAccount;
use crate::token::UserAccessToken;
use crate::transport::Call;

/// The user's accounts, with the token to store.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken, reference: &str) -> digime::Result<()> {
/// let outcome = sdk.read_accounts(&contract, &token).await?;
/// let account = outcome.find_by_reference(reference).expect("the onboarded account");
/// println!("push to {}", account.id);
/// // Take the accounts and the token to store, both by value.
/// let (accounts, token_to_store) = outcome.into_parts();
/// # let _ = (accounts, token_to_store);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccountsOutcome {
    accounts: Vec<ServiceAccount>,
    token: UserAccessToken,
    refreshed: bool,
    unstored: Option<crate::Error>,
}

impl AccountsOutcome {
    /// The accounts.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { for a in o.accounts() { println!("{} {:?}", a.id, a.reference); } }
    /// ```
    pub fn accounts(&self) -> &[ServiceAccount] {
        &self.accounts
    }

    /// The account whose `reference` is the callback's `accountReference`
    /// (`None` for an empty reference).
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { let _id = o.find_by_reference("ref-1").map(|a| a.id.clone()); }
    /// ```
    pub fn find_by_reference(&self, account_reference: &str) -> Option<&ServiceAccount> {
        if account_reference.is_empty() {
            return None;
        }
        self.accounts
            .iter()
            .find(|a| a.reference.as_deref() == Some(account_reference))
    }

    /// The user access token to store: refreshed, or the same.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { let _t = o.user_access_token(); }
    /// ```
    pub fn user_access_token(&self) -> &UserAccessToken {
        &self.token
    }

    /// True when the SDK refreshed the token during this call.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { if o.token_refreshed() { /* store it */ } }
    /// ```
    pub fn token_refreshed(&self) -> bool {
        self.refreshed
    }

    /// The token store's error, when the token refreshed during this call
    /// did not reach the session's store: the call went on with the new
    /// token, the SDK keeps trying to write it in the background, and
    /// meanwhile [`user_access_token`](Self::user_access_token) is the one
    /// copy to keep. `None` when nothing had to be written or it was.
    ///
    /// ```no_run
    /// # fn f(o: &digime::calls::AccountsOutcome) {
    /// if let Some(err) = o.token_store_error() { eprintln!("keep the token yourself: {err}"); }
    /// # }
    /// ```
    pub fn token_store_error(&self) -> Option<&crate::Error> {
        self.unstored.as_ref()
    }

    /// The token, by value.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { let _t: digime::UserAccessToken = o.into_user_access_token(); }
    /// ```
    pub fn into_user_access_token(self) -> UserAccessToken {
        self.token
    }

    /// The accounts and the token to store, by value: taking the accounts
    /// does not lose a refreshed token.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) {
    /// let (accounts, token) = o.into_parts();
    /// # let _: (Vec<digime::models::ServiceAccount>, digime::UserAccessToken) = (accounts, token); }
    /// ```
    pub fn into_parts(self) -> (Vec<ServiceAccount>, UserAccessToken) {
        (self.accounts, self.token)
    }
}

impl DigiMe {
    /// Reads the user's accounts. Refreshes the token like a push does;
    /// store [`AccountsOutcome::user_access_token`].
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// let outcome = sdk.read_accounts(&contract, &token).await?;
    /// for account in outcome.accounts() {
    ///     println!("{} ({:?}) ref {:?}", account.id, account.account_type, account.reference);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn read_accounts(
        &self,
        contract: &ContractDetails,
        token: &UserAccessToken,
    ) -> Result<AccountsOutcome> {
        self.read_accounts_with(contract, TokenState::owned(token.clone()))
            .await
    }

    pub(crate) async fn read_accounts_with(
        &self,
        contract: &ContractDetails,
        mut tokens: TokenState,
    ) -> Result<AccountsOutcome> {
        let call = Call::get("permission-access/accounts", contract);
        let result = async {
            let reply = user_call(self, contract, &call, &mut tokens).await?;
            reply.json::<Vec<ServiceAccount>>("permission-access/accounts")
        }
        .await;
        let (accounts, finished) = tokens.conclude(result)?;
        Ok(AccountsOutcome {
            accounts,
            token: finished.token,
            refreshed: finished.refreshed,
            unstored: finished.unstored,
        })
    }
}

impl UserSession {
    /// Reads the user's accounts with the session's token.
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let accounts = session.read_accounts().await?;
    /// # let _ = accounts; Ok(()) }
    /// ```
    pub async fn read_accounts(&self) -> Result<AccountsOutcome> {
        self.sdk()
            .read_accounts_with(self.contract(), TokenState::shared(self.clone()))
            .await
    }
}
