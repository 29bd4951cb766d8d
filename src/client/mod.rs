//! The client (layer 5 of the [architecture](crate::guide::architecture)):
//! [`DigiMe`], the SDK's entry point, and its configuration; [`UserSession`],
//! one user's token shared by many calls; and the rule every call made for a
//! user follows. The operations add their entry points to these types.

mod builder;
mod hook;
mod outcome;
mod session;
mod user_call;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use builder::{DEFAULT_BASE_URL, DigiMeBuilder};
pub use outcome::Outcome;
pub use session::UserSession;
pub(crate) use user_call::{Finished, TokenState, user_call};

use crate::tokens::Tokens;
use crate::transport::Transport;

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
    pub(crate) transport: Arc<Transport>,
    pub(crate) onboard_url: Url,
    pub(crate) refresh_skew: Duration,
    pub(crate) tokens: Arc<Tokens>,
}

impl DigiMe {
    /// The application id.
    ///
    /// ```
    /// # let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert_eq!(sdk.application_id(), "app");
    /// ```
    pub fn application_id(&self) -> &str {
        &self.inner.transport.application_id
    }

    /// The API base URL, always ending in `/`.
    ///
    /// ```
    /// # let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert!(sdk.base_url().as_str().ends_with('/'));
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.inner.transport.base_url
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

    /// `"{applicationId}_{contractId}"`, the `client_id` claim.
    /// What every call is sent with.
    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// This client's token protocol.
    pub(crate) fn tokens(&self) -> &Arc<Tokens> {
        &self.inner.tokens
    }

    /// How long before its expiry an access token is refreshed first.
    pub(crate) fn refresh_skew(&self) -> Duration {
        self.inner.refresh_skew
    }
}

impl fmt::Debug for DigiMe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigiMe")
            .field("application_id", &self.inner.transport.application_id)
            .field("base_url", &self.inner.transport.base_url.as_str())
            .field("onboard_url", &self.inner.onboard_url.as_str())
            .field("max_retries", &self.inner.transport.max_retries)
            .field("read_timeout", &self.inner.transport.read_timeout)
            .field(
                "retry_ambiguous_pushes",
                &self.inner.transport.retry_ambiguous_pushes,
            )
            .finish_non_exhaustive()
    }
}
