//! [`Outcome`]: what a call made for a user returns, with the token to store.

use crate::token::UserAccessToken;

/// What a call made for a user returns: its value, and the user access token
/// to store (the SDK may have refreshed it during the call).
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// let outcome = sdk.revoke_account_url(&contract, &token, "acc-1", "https://my.app/revoked").await?;
/// println!("send the user to {}", outcome.value());
/// let (location, token_to_store) = outcome.into_parts();
/// # let _ = (location, token_to_store); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    value: T,
    token: UserAccessToken,
    refreshed: bool,
    unstored: Option<crate::Error>,
}

impl<T> Outcome<T> {
    pub(crate) fn new(value: T, finished: crate::client::Finished) -> Self {
        Self {
            value,
            token: finished.token,
            refreshed: finished.refreshed,
            unstored: finished.unstored,
        }
    }

    /// What the call returned.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::Outcome<url::Url>) { println!("{}", o.value()); }
    /// ```
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The user access token to store: refreshed, or the same.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::Outcome<()>) { let _t = o.user_access_token(); }
    /// ```
    pub fn user_access_token(&self) -> &UserAccessToken {
        &self.token
    }

    /// True when the SDK refreshed the token during this call.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::Outcome<()>) { if o.token_refreshed() { /* store it */ } }
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
    /// # fn f(o: &digime::calls::Outcome<()>) {
    /// if let Some(err) = o.token_store_error() { eprintln!("keep the token yourself: {err}"); }
    /// # }
    /// ```
    pub fn token_store_error(&self) -> Option<&crate::Error> {
        self.unstored.as_ref()
    }

    /// The token to store, by value.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::Outcome<()>) { let _t: digime::UserAccessToken = o.into_user_access_token(); }
    /// ```
    pub fn into_user_access_token(self) -> UserAccessToken {
        self.token
    }

    /// The value and the token to store, by value: taking the value does
    /// not lose a refreshed token.
    ///
    /// ```no_run
    /// # fn f(o: digime::calls::Outcome<url::Url>) { let (_location, _token) = o.into_parts(); }
    /// ```
    pub fn into_parts(self) -> (T, UserAccessToken) {
        (self.value, self.token)
    }
}
