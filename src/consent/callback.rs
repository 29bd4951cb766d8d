//! The callbacks after consent: [`AuthorizeCallback`]
//! (`?success=true&code=…&state=…&accountReference=…`, after authorize and
//! reauthorize) and [`AccountCallback`] (`?success=true&accountReference=…`,
//! after onboarding a service or reauthorizing an account).

use std::fmt;

use url::Url;

use super::oauth::{AuthorizationCode, ConsentState};
use crate::error::{Error, Result};

/// The query digi.me sends the user back with, parsed.
///
/// ```
/// use digime::consent::AuthorizeCallback;
/// # fn main() -> digime::Result<()> {
/// let cb = AuthorizeCallback::from_url(
///     "https://my.app/cb?success=true&code=c-1&state=s-1&accountReference=ref-9",
/// )?;
/// cb.verify_state(&"s-1".into())?;
/// assert_eq!(cb.account_reference(), Some("ref-9"));
///
/// let denied = AuthorizeCallback::from_query("success=false&errorCode=ConsentDeclined&state=s-1").unwrap_err();
/// assert_eq!(denied.kind(), digime::ErrorKind::AuthorizationFailed);
/// assert_eq!(denied.code(), Some("ConsentDeclined"));
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizeCallback {
    code: AuthorizationCode,
    state: Option<ConsentState>,
    account_reference: Option<String>,
}

impl fmt::Debug for AuthorizeCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeCallback")
            .field("code", &self.code)
            .field("state", &self.state)
            .field("account_reference", &self.account_reference)
            .finish()
    }
}

impl AuthorizeCallback {
    /// Parses the full callback URL.
    ///
    /// ```
    /// let err = digime::consent::AuthorizeCallback::from_url("not a url").unwrap_err();
    /// assert_eq!(err.field(), Some("callback_url"));
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_query(parse_url(url)?.query().unwrap_or(""))
    }

    /// Parses the query string alone (with or without the leading `?`).
    ///
    /// ```
    /// let cb = digime::consent::AuthorizeCallback::from_query("?success=true&code=c&state=s").unwrap();
    /// assert_eq!(cb.state().map(|s| s.as_str()), Some("s"));
    /// ```
    pub fn from_query(query: &str) -> Result<Self> {
        let fields = CallbackFields::parse(query)?;
        let code = fields
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::invalid_input("callback_query", "`code` is missing"))?;
        Ok(Self {
            code: AuthorizationCode::new(code),
            state: fields.state.map(ConsentState::from),
            account_reference: fields.account_reference,
        })
    }

    /// The authorization code, for [`DigiMe::exchange_code_for_token`](crate::DigiMe::exchange_code_for_token).
    ///
    /// ```
    /// use digime::secrecy::ExposeSecret;
    /// let cb = digime::consent::AuthorizeCallback::from_query("success=true&code=c-1").unwrap();
    /// assert_eq!(cb.code().expose_secret(), "c-1");
    /// ```
    pub fn code(&self) -> &AuthorizationCode {
        &self.code
    }

    /// The state, as it came back.
    ///
    /// ```
    /// let cb = digime::consent::AuthorizeCallback::from_query("success=true&code=c&state=s").unwrap();
    /// assert_eq!(cb.state().map(|s| s.as_str()), Some("s"));
    /// ```
    pub fn state(&self) -> Option<&ConsentState> {
        self.state.as_ref()
    }

    /// The reference of the account the user onboarded: match it to an
    /// account's `reference` in read accounts to get its `id`.
    ///
    /// ```
    /// let cb = digime::consent::AuthorizeCallback::from_query("success=true&code=c&accountReference=r").unwrap();
    /// assert_eq!(cb.account_reference(), Some("r"));
    /// ```
    pub fn account_reference(&self) -> Option<&str> {
        self.account_reference.as_deref()
    }

    /// Checks that the state is the one sent with the authorization
    /// (compared in constant time). A mismatch is an
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming
    /// `state`: do not exchange the code.
    ///
    /// ```
    /// let cb = digime::consent::AuthorizeCallback::from_query("success=true&code=c&state=s").unwrap();
    /// assert!(cb.verify_state(&"s".into()).is_ok());
    /// assert_eq!(cb.verify_state(&"other".into()).unwrap_err().field(), Some("state"));
    /// ```
    pub fn verify_state(&self, expected: &ConsentState) -> Result<()> {
        verify_state(self.state.as_ref(), expected)
    }
}

/// The redirect after onboarding a service or reauthorizing an account:
/// `?success=true&accountReference=…&state=…`, with no code (nothing is
/// exchanged after these flows).
///
/// ```
/// use digime::consent::AccountCallback;
/// # fn main() -> digime::Result<()> {
/// let cb = AccountCallback::from_url("https://my.app/onboarded?success=true&accountReference=ref-9&state=s-1")?;
/// cb.verify_state(&"s-1".into())?;
/// assert_eq!(cb.account_reference(), Some("ref-9"));
///
/// let denied = AccountCallback::from_query("success=false&errorCode=ConsentDeclined").unwrap_err();
/// assert_eq!(denied.kind(), digime::ErrorKind::AuthorizationFailed);
/// assert_eq!(denied.code(), Some("ConsentDeclined"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCallback {
    state: Option<ConsentState>,
    account_reference: Option<String>,
}

impl AccountCallback {
    /// Parses the full callback URL.
    ///
    /// ```
    /// let err = digime::consent::AccountCallback::from_url("not a url").unwrap_err();
    /// assert_eq!(err.field(), Some("callback_url"));
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_query(parse_url(url)?.query().unwrap_or(""))
    }

    /// Parses the query string alone (with or without the leading `?`).
    ///
    /// ```
    /// let cb = digime::consent::AccountCallback::from_query("?success=true&accountReference=r").unwrap();
    /// assert_eq!(cb.account_reference(), Some("r"));
    /// ```
    pub fn from_query(query: &str) -> Result<Self> {
        let fields = CallbackFields::parse(query)?;
        Ok(Self {
            state: fields.state.map(ConsentState::from),
            account_reference: fields.account_reference,
        })
    }

    /// The reference of the account the user onboarded or reauthorized:
    /// match it to an account's `reference` in read accounts
    /// ([`AccountsOutcome::find_by_reference`](crate::calls::AccountsOutcome::find_by_reference)).
    ///
    /// ```
    /// let cb = digime::consent::AccountCallback::from_query("success=true&accountReference=r").unwrap();
    /// assert_eq!(cb.account_reference(), Some("r"));
    /// ```
    pub fn account_reference(&self) -> Option<&str> {
        self.account_reference.as_deref()
    }

    /// The state, as it came back.
    ///
    /// ```
    /// let cb = digime::consent::AccountCallback::from_query("success=true&state=s").unwrap();
    /// assert_eq!(cb.state().map(|s| s.as_str()), Some("s"));
    /// ```
    pub fn state(&self) -> Option<&ConsentState> {
        self.state.as_ref()
    }

    /// Checks that the state is the one sent with the call (compared in
    /// constant time). A mismatch is an
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming
    /// `state`.
    ///
    /// ```
    /// let cb = digime::consent::AccountCallback::from_query("success=true&state=s").unwrap();
    /// assert!(cb.verify_state(&"s".into()).is_ok());
    /// assert_eq!(cb.verify_state(&"other".into()).unwrap_err().field(), Some("state"));
    /// ```
    pub fn verify_state(&self, expected: &ConsentState) -> Result<()> {
        verify_state(self.state.as_ref(), expected)
    }
}

/// Parses a callback URL, naming `callback_url` when it is not one.
fn parse_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| Error::invalid_input("callback_url", format!("not a URL ({e})")))
}

/// What every callback carries. `success=false` is an
/// [`ErrorKind::AuthorizationFailed`](crate::ErrorKind::AuthorizationFailed)
/// with the `errorCode`.
struct CallbackFields {
    code: Option<String>,
    state: Option<String>,
    account_reference: Option<String>,
}

impl CallbackFields {
    fn parse(query: &str) -> Result<Self> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut success = None;
        let mut code = None;
        let mut state = None;
        let mut account_reference = None;
        let mut error_code = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "success" => &mut success,
                "code" => &mut code,
                "state" => &mut state,
                "accountReference" => &mut account_reference,
                "errorCode" => &mut error_code,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::invalid_input(
                    "callback_query",
                    format!("`{key}` appears more than once"),
                ));
            }
            *slot = Some(value.into_owned());
        }
        match success.as_deref() {
            Some("true") => Ok(Self {
                code,
                state,
                account_reference: account_reference.filter(|r| !r.is_empty()),
            }),
            Some("false") => Err(Error::authorization_failed(error_code)),
            Some(_) => Err(Error::invalid_input(
                "callback_query",
                "`success` must be `true` or `false`",
            )),
            None => Err(Error::invalid_input(
                "callback_query",
                "`success` is missing",
            )),
        }
    }
}

/// The state check both callbacks make, in constant time.
fn verify_state(got: Option<&ConsentState>, expected: &ConsentState) -> Result<()> {
    let same = aws_lc_rs::constant_time::verify_slices_are_equal(
        got.map_or("", ConsentState::as_str).as_bytes(),
        expected.as_str().as_bytes(),
    )
    .is_ok();
    if same && got.is_some() {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "state",
            "the callback's state does not match the one sent with the call",
        ))
    }
}
