//! `GET permission-access/accounts`.

use crate::DigiMe;
use crate::client::{Outcome, TokenState, UserSession, user_call};
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
pub type AccountsOutcome = Outcome<Vec<ServiceAccount>>;

/// What read accounts adds to its [`Outcome`].
impl Outcome<Vec<ServiceAccount>> {
    /// The accounts.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::AccountsOutcome) { for a in o.accounts() { println!("{} {:?}", a.id, a.reference); } }
    /// ```
    pub fn accounts(&self) -> &[ServiceAccount] {
        self.value()
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
        self.value()
            .iter()
            .find(|a| a.reference.as_deref() == Some(account_reference))
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
        Ok(Outcome::new(accounts, finished))
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
