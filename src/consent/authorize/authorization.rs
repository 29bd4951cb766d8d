//! What `oauth/authorize` (and the reauthorize flow) returns: the URL to send
//! the user to, the code verifier to keep, and the read session digi.me
//! opened.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::consent::PkceCodeVerifier;

/// What [`authorize`](crate::DigiMe::authorize) and
/// [`reauthorize`](crate::DigiMe::reauthorize) return before the user
/// consents.
///
/// ```no_run
/// # fn f(auth: digime::consent::Authorization) {
/// use digime::secrecy::ExposeSecret;
/// let url = auth.url().to_string();          // redirect the user here
/// let verifier = auth.code_verifier();       // store until the callback
/// # let _ = (url, verifier.expose_secret()); }
/// ```
pub struct Authorization {
    pub(crate) url: Url,
    pub(crate) code_verifier: PkceCodeVerifier,
    pub(crate) session: Option<ReadSession>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url.as_str())
            .field("code_verifier", &self.code_verifier)
            .field("session", &self.session)
            .finish()
    }
}

impl Authorization {
    /// The onboard URL to send the user to. It implements `Display`.
    ///
    /// ```no_run
    /// # fn f(auth: digime::consent::Authorization) { println!("{}", auth.url()); }
    /// ```
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The PKCE code verifier. Keep it (server side) until the callback:
    /// [`DigiMe::exchange_code_for_token`](crate::DigiMe::exchange_code_for_token) needs it.
    ///
    /// ```no_run
    /// # fn f(auth: digime::consent::Authorization) { let _v: &digime::consent::PkceCodeVerifier = auth.code_verifier(); }
    /// ```
    pub fn code_verifier(&self) -> &PkceCodeVerifier {
        &self.code_verifier
    }

    /// The read session digi.me opened, when its answer carried one (a
    /// missing `session` is not an error, as in the official SDK).
    ///
    /// ```no_run
    /// # fn f(auth: digime::consent::Authorization) {
    /// if let Some(session) = auth.read_session() { println!("{:?}", session.expires_at()); }
    /// # }
    /// ```
    pub fn read_session(&self) -> Option<&ReadSession> {
        self.session.as_ref()
    }
}

/// The read session a consent call opens (digi.me's `session`): its key and
/// when it expires. Not to be confused with a
/// [`UserSession`](crate::UserSession), this SDK's handle on one user's
/// token.
///
/// Its JSON form is digi.me's: `{"key": "…", "expiry": <milliseconds since
/// the Unix epoch>}`.
///
/// ```no_run
/// # fn f(s: &digime::consent::ReadSession) { println!("{} until {:?}", s.key(), s.expires_at()); }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSession {
    key: String,
    /// Milliseconds since the Unix epoch, as digi.me sends it.
    expiry: u64,
}

impl ReadSession {
    /// The session key.
    ///
    /// ```no_run
    /// # fn f(s: &digime::consent::ReadSession) { let _ = s.key(); }
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// When the session expires. An expiry past the year 9999 reads as
    /// 9999-12-31T23:59:59Z.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let s: digime::consent::ReadSession = serde_json::from_str(r#"{"key":"k","expiry":1767225600123}"#).unwrap();
    /// assert_eq!(s.expires_at(), UNIX_EPOCH + Duration::from_millis(1767225600123));
    /// ```
    pub fn expires_at(&self) -> SystemTime {
        /// 9999-12-31T23:59:59.999Z: every platform's `SystemTime` holds it.
        const LATEST_MS: u64 = 253_402_300_799_999;
        UNIX_EPOCH + Duration::from_millis(self.expiry.min(LATEST_MS))
    }
}
