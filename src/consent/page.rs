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
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

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
pub struct ConsentLink {
    pub(crate) url: Url,
    pub(crate) session: Option<ReadSession>,
    pub(crate) token: UserAccessToken,
    pub(crate) refreshed: bool,
    pub(crate) unstored: Option<crate::Error>,
}

impl fmt::Debug for ConsentLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentLink")
            .field("url", &self.url.as_str())
            .field("session", &self.session)
            .field("token", &self.token)
            .field("refreshed", &self.refreshed)
            .finish()
    }
}

impl ConsentLink {
    /// The consent page to send the user to. It implements `Display`.
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { println!("{}", link.url()); }
    /// ```
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The read session digi.me opened, when its answer carried one (it does
    /// when read-session options were sent).
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { let _ = link.read_session().map(|s| s.key()); }
    /// ```
    pub fn read_session(&self) -> Option<&ReadSession> {
        self.session.as_ref()
    }

    /// The user access token to store: refreshed during the call, or the
    /// same.
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { let _t = link.user_access_token(); }
    /// ```
    pub fn user_access_token(&self) -> &UserAccessToken {
        &self.token
    }

    /// True when the SDK refreshed the token during this call.
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { if link.token_refreshed() { /* store it */ } }
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
    /// # fn f(o: &digime::consent::ConsentLink) {
    /// if let Some(err) = o.token_store_error() { eprintln!("keep the token yourself: {err}"); }
    /// # }
    /// ```
    pub fn token_store_error(&self) -> Option<&crate::Error> {
        self.unstored.as_ref()
    }

    /// The token to store, by value.
    ///
    /// ```no_run
    /// # fn f(link: digime::consent::ConsentLink) { let _t: digime::UserAccessToken = link.into_user_access_token(); }
    /// ```
    pub fn into_user_access_token(self) -> UserAccessToken {
        self.token
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
