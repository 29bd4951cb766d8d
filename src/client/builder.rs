//! `DigiMe::builder()`: the SDK's configuration.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{DigiMe, Inner};
use crate::error::{Error, Result};
use crate::tokens::Tokens;
use crate::transport::{DEFAULT_READ_TIMEOUT, ServerJwtVerifier, Transport};
use crate::validate;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.digi.me/v1.7/";

/// Builds a [`DigiMe`]. A bad setting is kept and reported by
/// [`build`](Self::build), so the chain itself never fails or panics.
///
/// ```
/// # fn main() -> digime::Result<()> {
/// use std::time::Duration;
/// let sdk = digime::DigiMe::builder()
///     .application_id("my-application-id")
///     .base_url("http://127.0.0.1:8080/v1.7/")
///     .connect_timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(sdk.base_url().as_str(), "http://127.0.0.1:8080/v1.7/");
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `.build()` is called"]
#[derive(Debug, Clone, Default)]
pub struct DigiMeBuilder {
    application_id: Option<String>,
    base_url: Option<String>,
    onboard_url: Option<String>,
    max_retries: Option<u32>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    refresh_skew: Option<Duration>,
    retry_ambiguous_pushes: bool,
    key_set_origins: Vec<String>,
    lease_ttl: Option<Duration>,
}

/// The default limit on connecting.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default lifetime of a token store's refresh lease.
pub(crate) const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

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
}

impl DigiMeBuilder {
    /// The application id digi.me gave you. Required, non-empty.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").build().unwrap();
    /// assert_eq!(sdk.application_id(), "app");
    /// ```
    pub fn application_id(mut self, application_id: impl Into<String>) -> Self {
        self.application_id = Some(application_id.into());
        self
    }

    /// The API's base URL. Default: `https://api.digi.me/v1.7/`. A trailing
    /// `/` is added if it is missing.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").base_url("http://127.0.0.1:8080/v1.7").build().unwrap();
    /// assert_eq!(sdk.base_url().as_str(), "http://127.0.0.1:8080/v1.7/");
    /// ```
    pub fn base_url(mut self, base_url: &str) -> Self {
        self.base_url = Some(base_url.to_owned());
        self
    }

    /// The onboard (consent) page's URL. Default: `/apps/saas/` on the base
    /// URL's origin, which is `https://api.digi.me/apps/saas/` in production.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").base_url("http://127.0.0.1:8080/v1.7/").build().unwrap();
    /// assert_eq!(sdk.onboard_url().as_str(), "http://127.0.0.1:8080/apps/saas/");
    /// ```
    pub fn onboard_url(mut self, onboard_url: &str) -> Self {
        self.onboard_url = Some(onboard_url.to_owned());
        self
    }

    /// How many times a failed call is retried when a retry is safe
    /// (default 2, as in the official SDK): a call makes at most
    /// `max_retries + 1` attempts, each with a new JWT. Which failures are
    /// safe to retry for which call (a push after an ambiguous failure only
    /// with [`retry_ambiguous_pushes`](Self::retry_ambiguous_pushes)), and
    /// how long the SDK waits in between, is the retry policy of the
    /// [reliability guide](crate::guide::reliability).
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").max_retries(0).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// A limit on each attempt of a call, from connecting to the end of the
    /// response (retries get a new limit each). Default: none, so that a
    /// large upload on a slow link is never cut off; the
    /// [read (idle) timeout](Self::read_timeout) still catches a stalled
    /// server.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").timeout(std::time::Duration::from_secs(30)).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A limit on connecting (default 10 s).
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").connect_timeout(std::time::Duration::from_secs(3)).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The idle timeout (default 60 s): an attempt fails when it makes no
    /// progress for this long: no chunk of the body accepted by the
    /// connection, then no response headers, then no chunk of the response
    /// body. A server that stops answering never hangs a call, while an
    /// upload that keeps moving is never cut off, however long it takes.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").read_timeout(std::time::Duration::from_secs(20)).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Send a push again after a failure that may mean digi.me stored it: a
    /// `500`, `502`, `504` or any other 5xx but `503`, or the connection
    /// lost or timed out after the whole body was sent (default `false`).
    ///
    /// Off, such a push fails at once with an error whose
    /// [`may_have_been_stored`](crate::Error::may_have_been_stored) is true:
    /// nothing is ever stored twice behind your back. On, the push is retried
    /// like any other failure (within [`max_retries`](Self::max_retries)):
    /// delivery is at-least-once, and the library may hold a duplicate. If
    /// the push still fails, its error says it may have been stored, even
    /// when the last attempt failed cleanly.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").retry_ambiguous_pushes(true).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn retry_ambiguous_pushes(mut self, retry: bool) -> Self {
        self.retry_ambiguous_pushes = retry;
        self
    }

    /// Refresh an access token before a call when it expires within this
    /// window (default 60 s), rather than waiting for a 401.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").refresh_skew(std::time::Duration::from_secs(120)).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = Some(skew);
        self
    }

    /// Also accepts a server JWT whose key set (`jku`) is on `origin`, for
    /// environments that serve their key set from another host than the
    /// API. Repeatable. By default only the API's own origin (the
    /// [`base_url`](Self::base_url)'s scheme, host and port) is trusted, and
    /// that one always is.
    ///
    /// `origin` is a URL whose scheme, host and port count (a path is
    /// ignored), such as `https://keys.example.com`. Only add a host you
    /// trust as you trust the API: whoever serves the key set vouches for
    /// every token.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder()
    ///     .application_id("app")
    ///     .allow_key_set_origin("https://keys.example.com")
    ///     .build()
    ///     .unwrap();
    /// # let _ = sdk;
    /// let err = digime::DigiMe::builder().application_id("app").allow_key_set_origin("ftp://x").build().unwrap_err();
    /// assert_eq!(err.field(), Some("key_set_origin"));
    /// ```
    pub fn allow_key_set_origin(mut self, origin: &str) -> Self {
        self.key_set_origins.push(origin.to_owned());
        self
    }

    /// How long a [`TokenStore`](crate::store::TokenStore)'s refresh lease
    /// lasts (default 30 s). The refresh made under a lease is cut off at
    /// 4/5 of it (counted from before the lease was asked for), leaving the
    /// last fifth to write the new token, so no other process can take the
    /// lease while the refresh may still complete. When a process dies holding a lease,
    /// the others wait this long before one of them refreshes instead.
    ///
    /// ```
    /// let sdk = digime::DigiMe::builder().application_id("app").lease_ttl(std::time::Duration::from_secs(10)).build().unwrap();
    /// # let _ = sdk;
    /// ```
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = Some(ttl);
        self
    }

    /// Checks every setting and builds the SDK.
    ///
    /// Errors ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)):
    /// a missing or empty `application_id`, a `base_url`, `onboard_url` or
    /// `key_set_origin` that does not parse or is not http(s).
    ///
    /// ```
    /// let err = digime::DigiMe::builder().application_id("app").base_url("not a url").build().unwrap_err();
    /// assert_eq!(err.field(), Some("base_url"));
    /// ```
    pub fn build(self) -> Result<DigiMe> {
        let application_id = self
            .application_id
            .ok_or_else(|| Error::invalid_input("application_id", "must be set"))?;
        validate::identifier("application_id", &application_id)?;
        let base_url = parse_url(
            "base_url",
            self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
        )?;
        let onboard_url = match self.onboard_url.as_deref() {
            Some(url) => parse_url("onboard_url", url)?,
            None => base_url
                .join("/apps/saas/")
                .map_err(|e| Error::invalid_input("base_url", e))?,
        };
        for (field, value) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("read_timeout", self.read_timeout),
            ("lease_ttl", self.lease_ttl),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(Error::invalid_input(field, "must be more than zero"));
            }
        }
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let read_timeout = self.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT);
        // One client, one connection pool. No reqwest `read_timeout`: it
        // also counts the upload, and so would cut off a long one. The calls
        // (`transport/request.rs`) run their own idle timeout instead, and
        // the key-set fetch a per-request one.
        let client = || {
            let mut http = reqwest::Client::builder()
                .user_agent(concat!("digime-rust/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(connect_timeout)
                // Never follow a redirect: it would carry a push's body and
                // headers to another host, and lead the key-set fetch off the
                // API origin.
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(Duration::from_secs(60));
            if let Some(timeout) = self.timeout {
                http = http.timeout(timeout);
            }
            http.build()
                .map_err(|e| Error::transport("building the HTTP client", e))
        };
        let http = client()?;
        // The token flights' own (see `tokens`): a refresh never rides on a
        // connection a caller's runtime owns.
        let flight_http = client()?;
        let mut key_set_origins = vec![base_url.origin()];
        for origin in &self.key_set_origins {
            key_set_origins.push(parse_url("key_set_origin", origin)?.origin());
        }
        let verifier = ServerJwtVerifier::new(key_set_origins, read_timeout);
        let transport = Arc::new(Transport {
            application_id,
            base_url,
            http,
            flight_http,
            verifier,
            max_retries: self.max_retries.unwrap_or(2),
            read_timeout,
            retry_ambiguous_pushes: self.retry_ambiguous_pushes,
        });
        let lease_ttl = self.lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
        Ok(DigiMe {
            inner: Arc::new(Inner {
                transport: transport.clone(),
                onboard_url,
                refresh_skew: self.refresh_skew.unwrap_or(Duration::from_secs(60)),
                tokens: Arc::new(Tokens::new(lease_ttl, transport)),
            }),
        })
    }
}

fn parse_url(field: &'static str, value: &str) -> Result<Url> {
    validate::no_control_chars(field, value)?;
    let mut text = value.trim().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    let url = Url::parse(&text).map_err(|e| Error::invalid_input(field, format!("{e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid_input(
            field,
            format!("the scheme must be http or https, not `{}`", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid_input(field, "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_input(
            field,
            "must not carry a query or a fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(field, "must not carry credentials"));
    }
    Ok(url)
}
