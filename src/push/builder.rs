//! [`PushBuilder`]: a push before its mode is chosen, and the entry points
//! that start one ([`DigiMe::push`], [`UserSession::push`]).

use super::{LibraryPush, ProviderPush, PushContext};
use crate::DigiMe;
use crate::client::{TokenState, UserSession};
use crate::contract::ContractDetails;
use crate::token::UserAccessToken;

/// A push for one user, before its mode is chosen. There is no `send()`
/// here: call [`library()`](Self::library) or [`provider()`](Self::provider).
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::{Account, FileDescriptor};
/// let outcome = sdk
///     .push(&contract, &token)
///     .library()
///     .file(b"hello".to_vec(), "hello.txt")
///     .descriptor(FileDescriptor::builder().mime_type("text/plain").accounts(vec![Account::new("a-1")]).build())
///     .send()
///     .await?;
/// # let _ = outcome; Ok(()) }
/// ```
#[must_use = "a push does nothing until a mode is chosen and `.send()` is awaited"]
#[derive(Debug)]
pub struct PushBuilder {
    ctx: PushContext,
}

impl PushBuilder {
    pub(crate) fn new(sdk: DigiMe, contract: ContractDetails, tokens: TokenState) -> Self {
        Self {
            ctx: PushContext {
                sdk,
                contract,
                tokens,
            },
        }
    }

    /// Push a file into the user's library (`POST permission-access/import`).
    ///
    /// ```no_run
    /// # fn f(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
    /// let push = sdk.push(&c, &t).library().file(b"data".to_vec(), "data.bin");
    /// # let _ = push; }
    /// ```
    pub fn library(self) -> LibraryPush {
        LibraryPush::new(self.ctx)
    }

    /// Push a FHIR record to a provider account
    /// (`POST permission-access/import/h:accountId/{standard}/{version}`).
    ///
    /// ```no_run
    /// # fn f(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
    /// let push = sdk.push(&c, &t).provider().standard(digime::Standard::Fhir);
    /// # let _ = push; }
    /// ```
    pub fn provider(self) -> ProviderPush {
        ProviderPush::new(self.ctx)
    }
}

/// The entry points of a push.
impl DigiMe {
    /// Starts a push for one user. Choose where the data goes next:
    /// [`library()`](PushBuilder::library) or
    /// [`provider()`](PushBuilder::provider).
    ///
    /// The contract and the token are cloned (both are cheap), so the
    /// builder and its future borrow nothing.
    ///
    /// Pushes from copies of the same stored token share one refresh: the
    /// first to need it refreshes, the others wait for it, and a later push
    /// with the old copy gets the new token (see
    /// [`PushOutcome::token_refreshed`](crate::PushOutcome::token_refreshed)).
    /// For processes that share users, keep tokens in a
    /// [`TokenStore`](crate::store::TokenStore) and push through
    /// [`session_from_store`](DigiMe::session_from_store).
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// use digime::{FhirVersion, Standard};
    /// let outcome = sdk
    ///     .push(&contract, &token)
    ///     .provider()
    ///     .standard(Standard::Fhir)
    ///     .version(FhirVersion::Stu3)
    ///     .account_id("account-id-from-read-accounts")
    ///     .data(serde_json::json!({ "resourceType": "Bundle" }))
    ///     .send()
    ///     .await?;
    /// # let _ = outcome; Ok(()) }
    /// ```
    pub fn push(&self, contract: &ContractDetails, token: &UserAccessToken) -> PushBuilder {
        PushBuilder::new(
            self.clone(),
            contract.clone(),
            TokenState::owned(token.clone()),
        )
    }
}

impl UserSession {
    /// Starts a push for this user, with the session's token.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { let _ = session.push().library(); }
    /// ```
    pub fn push(&self) -> PushBuilder {
        PushBuilder::new(
            self.sdk().clone(),
            self.contract().clone(),
            TokenState::shared(self.clone()),
        )
    }
}
