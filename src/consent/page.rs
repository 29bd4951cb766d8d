//! What the consent flows share: the callback URL check, the request body
//! (`{"agent": …, "actions": …}`), the consent page's URL, and
//! [`ConsentLink`], what onboarding a service and reauthorizing an account
//! return.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use url::form_urlencoded::Serializer;
use url::{Url, UrlQuery};

use super::authorize::ReadSession;
use super::options::PullSessionOptions;
use crate::DigiMe;
use crate::client::Outcome;
use crate::error::{Error, Result};

/// Checks the callback URL (`redirect_uri`): an absolute http or https URL.
pub(crate) fn check_callback(callback: &str) -> Result<()> {
    let url = Url::parse(callback)
        .map_err(|e| Error::invalid_input("callback", format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid_input(
            "callback",
            "must be an http or https URL",
        ));
    }
    Ok(())
}

/// The JSON body of `oauth/authorize` and `oauth/token/reference`: this
/// SDK's name and version, and the read session's options as `actions`,
/// left out when there are none (as the official SDK leaves them out).
pub(crate) fn agent_body(pull: Option<&PullSessionOptions>) -> Result<Bytes> {
    let mut body = serde_json::json!({
        "agent": { "sdk": { "name": "rust", "version": env!("CARGO_PKG_VERSION"), "meta": {} } },
    });
    if let Some(pull) = pull {
        body["actions"] = serde_json::json!({ "pull": pull });
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|e| Error::invalid_input("pull_session", e))
}

/// `{onboardUrl}{page}?code=<code>` and the query `more` appends.
pub(crate) fn page_url(
    sdk: &DigiMe,
    page: &str,
    code: &str,
    more: impl FnOnce(&mut Serializer<'_, UrlQuery<'_>>),
) -> Result<Url> {
    let mut url = sdk
        .inner
        .onboard_url
        .join(page)
        .map_err(|e| Error::invalid_input("onboard_url", e))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code);
        more(&mut q);
    }
    Ok(url)
}

/// What [`onboard`](crate::DigiMe::onboard) and
/// [`reauthorize_account`](crate::DigiMe::reauthorize_account) return: the
/// consent page to send the user to, and the token to store.
///
/// Nothing is exchanged after these flows: the user's token stays the one
/// you have, unless the SDK refreshed it during the call
/// ([`token_refreshed`](Self::token_refreshed)); store
/// [`user_access_token`](Self::user_access_token) either way.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// let link = sdk.onboard(&contract, &token).callback("https://my.app/onboarded").send().await?;
/// println!("send the user to {}", link.url());
/// let to_store = link.into_user_access_token();
/// # let _ = to_store; Ok(()) }
/// ```
pub type ConsentLink = Outcome<ConsentPage>;

/// Where a consent flow sends the user: the page, and the read session
/// digi.me opened, if any. Read through [`ConsentLink::url`] and
/// [`ConsentLink::read_session`].
///
/// ```no_run
/// # fn f(link: digime::consent::ConsentLink) { let page: &digime::consent::ConsentPage = link.value(); println!("{page:?}"); }
/// ```
#[non_exhaustive]
pub struct ConsentPage {
    url: Url,
    session: Option<ReadSession>,
}

impl ConsentPage {
    pub(crate) fn new(url: Url, session: Option<ReadSession>) -> Self {
        Self { url, session }
    }
}

impl fmt::Debug for ConsentPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentPage")
            .field("url", &self.url.as_str())
            .field("session", &self.session)
            .finish()
    }
}

/// What a consent flow adds to its [`Outcome`].
impl Outcome<ConsentPage> {
    /// The consent page to send the user to. It implements `Display`.
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { println!("{}", link.url()); }
    /// ```
    pub fn url(&self) -> &Url {
        &self.value().url
    }
    /// The read session digi.me opened, when its answer carried one (it does
    /// when read-session options were sent).
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { let _ = link.read_session().map(|s| s.key()); }
    /// ```
    pub fn read_session(&self) -> Option<&ReadSession> {
        self.value().session.as_ref()
    }
}

/// The future the onboard and reauthorize-account builders' `send()`
/// returns: boxed, so that a missing input is reported once, at `.send()`.
pub type ConsentLinkFuture = Pin<Box<dyn Future<Output = Result<ConsentLink>> + Send + 'static>>;

/// The fields next to the token in the answers of `oauth/authorize` and
/// `oauth/token/reference`.
#[derive(serde::Deserialize)]
pub(crate) struct WithSession {
    /// Missing is not an error (the official SDK defaults it too).
    #[serde(default)]
    pub(crate) session: Option<ReadSession>,
}
