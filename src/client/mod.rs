//! [`DigiMe`]: the SDK's entry point, and its configuration.

mod builder;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub(crate) use builder::DEFAULT_READ_TIMEOUT;
pub use builder::{DEFAULT_BASE_URL, DigiMeBuilder};

use crate::auth::{ServerJwtVerifier, TokenState};
use crate::contract::ContractDetails;
use crate::push::PushBuilder;
use crate::token::UserAccessToken;
use crate::tokens::Tokens;

/// The digi.me SDK: build it once and share it.
///
/// It holds one HTTP client (one connection pool) and the key-set cache.
/// Cloning is cheap (an `Arc`), and it is `Send + Sync`.
///
/// ```no_run
/// # async fn run(pem: &str, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::{Account, ContractDetails, DigiMe, FileDescriptor};
///
/// let sdk = DigiMe::builder().application_id("my-application-id").build()?;
/// let contract = ContractDetails::new("my-contract-id", pem)?;
/// let outcome = sdk
///     .push(&contract, &token)
///     .library()
///     .file(b"%PDF-1.7".to_vec(), "report.pdf")
///     .descriptor(
///         FileDescriptor::builder()
///             .mime_type("application/pdf")
///             .accounts(vec![Account::new("account-in-my-system")])
///             .build(),
///     )
///     .send()
///     .await?;
/// let _store_this = outcome.user_access_token();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DigiMe {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) application_id: String,
    pub(crate) base_url: Url,
    pub(crate) onboard_url: Url,
    /// The one HTTP client (one connection pool). Its calls run their own
    /// idle timeout: reqwest's would also count the upload.
    pub(crate) http: reqwest::Client,
    pub(crate) verifier: ServerJwtVerifier,
    pub(crate) max_retries: u32,
    pub(crate) refresh_skew: Duration,
    /// The idle timeout: the longest an attempt may go without progress
    /// (body sent, response received).
    pub(crate) read_timeout: Duration,
    /// Send a push again after a failure that may mean it was stored.
    pub(crate) retry_ambiguous_pushes: bool,
    /// The token flights' own client: its connections live on the runtime
    /// the flights run on, which no caller can shut down.
    pub(crate) flight_http: reqwest::Client,
    /// The token protocol: one refresh per rotation, whoever asks.
    pub(crate) tokens: Tokens,
}

impl DigiMe {
    /// Starts configuring the SDK.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("my-application-id").build().unwrap();
    /// assert_eq!(sdk.base_url().as_str(), "https://api.digi.me/v1.7/");
    /// ```
    pub fn builder() -> DigiMeBuilder {
        DigiMeBuilder::default()
    }

    /// The application id.
    ///
    /// ```
    /// # let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert_eq!(sdk.application_id(), "app");
    /// ```
    pub fn application_id(&self) -> &str {
        &self.inner.application_id
    }

    /// The API base URL, always ending in `/`.
    ///
    /// ```
    /// # let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert!(sdk.base_url().as_str().ends_with('/'));
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The onboard (consent) page's URL, always ending in `/`.
    ///
    /// ```
    /// # let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert_eq!(sdk.onboard_url().as_str(), "https://api.digi.me/apps/saas/");
    /// ```
    pub fn onboard_url(&self) -> &Url {
        &self.inner.onboard_url
    }

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

    /// `"{applicationId}_{contractId}"`, the `client_id` claim.
    pub(crate) fn client_id(&self, contract: &ContractDetails) -> String {
        format!("{}_{}", self.inner.application_id, contract.contract_id())
    }
}

impl fmt::Debug for DigiMe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigiMe")
            .field("application_id", &self.inner.application_id)
            .field("base_url", &self.inner.base_url.as_str())
            .field("onboard_url", &self.inner.onboard_url.as_str())
            .field("max_retries", &self.inner.max_retries)
            .field("read_timeout", &self.inner.read_timeout)
            .field("retry_ambiguous_pushes", &self.inner.retry_ambiguous_pushes)
            .finish_non_exhaustive()
    }
}
