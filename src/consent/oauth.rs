//! The OAuth values of the consent flows, one type each, as oauth2-rs has
//! them: the [`ConsentState`] sent with a flow and checked on its callback,
//! the [`AuthorizationCode`] the callback carries, and the
//! [`PkceCodeVerifier`] kept between the two. A `String` can be passed where
//! another is meant; these cannot.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::Result;

/// The `state` of a consent flow: a value tied to the user's browser
/// session, sent with the flow and checked when the callback brings it back
/// ([`AuthorizeCallback::verify_state`](super::AuthorizeCallback::verify_state)).
///
/// It is not a secret the way a token is: it travels in the consent page's
/// URL and in the callback's, and `Debug` shows it. Its JSON form is the
/// plain string, for storing it with the browser session.
///
/// ```
/// use digime::consent::ConsentState;
/// let state = ConsentState::generate()?;
/// assert_eq!(state.as_str().len(), 32);
/// assert_ne!(state, ConsentState::generate()?);
///
/// // One you stored, back from its JSON or its string:
/// let stored = serde_json::to_string(&state).unwrap();
/// let back: ConsentState = serde_json::from_str(&stored).unwrap();
/// assert_eq!(back, state);
/// assert_eq!(ConsentState::new(state.as_str()), state);
/// # Ok::<(), digime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConsentState(String);

/// The length of [`ConsentState::generate`]'s values.
const STATE_LEN: usize = 32;

impl ConsentState {
    /// A state from its value, such as one you stored with the browser
    /// session.
    ///
    /// ```
    /// let state = digime::consent::ConsentState::new("s-1");
    /// assert_eq!(state.as_str(), "s-1");
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh state: 32 characters from `[A-Za-z0-9]`, drawn from the
    /// operating system's CSPRNG. Keep it with the user's browser session.
    ///
    /// Errors: [`ErrorKind::Transport`](crate::ErrorKind::Transport) in the
    /// unlikely case the CSPRNG cannot be read; it never blocks or loops.
    ///
    /// ```
    /// let state = digime::consent::ConsentState::generate()?;
    /// assert!(state.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
    /// # Ok::<(), digime::Error>(())
    /// ```
    pub fn generate() -> Result<Self> {
        crate::signer::nonce::random_alnum(STATE_LEN).map(Self)
    }

    /// The value.
    ///
    /// ```
    /// assert_eq!(digime::consent::ConsentState::new("s").as_str(), "s");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ConsentState {
    /// ```
    /// let state: digime::consent::ConsentState = String::from("s").into();
    /// assert_eq!(state.as_str(), "s");
    /// ```
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for ConsentState {
    /// ```
    /// let state: digime::consent::ConsentState = "s".into();
    /// assert_eq!(state.as_str(), "s");
    /// ```
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Declares a secret string newtype: the value in a [`SecretString`],
/// `new`, [`ExposeSecret`], equality of the values, and a `Debug` that
/// prints `Name([redacted])`. `$attr` carries its docs and derives.
macro_rules! secret_string {
    ($(#[$attr:meta])* $name:ident, $(#[$new_doc:meta])*) => {
        $(#[$attr])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            $(#[$new_doc])*
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }
        }

        impl ExposeSecret<str> for $name {
            #[doc = concat!(
                "```\nuse digime::secrecy::ExposeSecret;\nassert_eq!(digime::consent::",
                stringify!($name),
                "::new(\"v\").expose_secret(), \"v\");\n```"
            )]
            fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose_secret() == other.expose_secret()
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_string!(
    /// The authorization code the callback after authorize or reauthorize
    /// carries ([`AuthorizeCallback::code`](super::AuthorizeCallback::code)),
    /// spent once by [`DigiMe::exchange_code_for_token`](crate::DigiMe::exchange_code_for_token).
    ///
    /// A secret: `Debug` prints `AuthorizationCode([redacted])`, and reading
    /// the value takes an explicit [`ExposeSecret::expose_secret`].
    ///
    /// ```
    /// use digime::consent::AuthorizationCode;
    /// use digime::secrecy::ExposeSecret;
    /// let code = AuthorizationCode::new("c-1");
    /// assert_eq!(code.expose_secret(), "c-1");
    /// assert_eq!(format!("{code:?}"), "AuthorizationCode([redacted])");
    /// ```
    AuthorizationCode,
    /// A code from its value, such as one your own callback handler read.
    ///
    /// ```
    /// let code = digime::consent::AuthorizationCode::new("c-1");
    /// # let _ = code;
    /// ```
);

secret_string!(
    /// The PKCE code verifier (RFC 7636) of an authorize or reauthorize call
    /// ([`Authorization::code_verifier`](super::Authorization::code_verifier)):
    /// keep it server side until the callback, then pass it to
    /// [`DigiMe::exchange_code_for_token`](crate::DigiMe::exchange_code_for_token).
    ///
    /// A secret: `Debug` prints `PkceCodeVerifier([redacted])`, and reading the
    /// value takes an explicit [`ExposeSecret::expose_secret`]. `Serialize`
    /// writes the real value, as a plain string, because storing it until the
    /// callback is what it is for.
    ///
    /// ```
    /// use digime::consent::PkceCodeVerifier;
    /// use digime::secrecy::ExposeSecret;
    /// let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    /// assert_eq!(format!("{verifier:?}"), "PkceCodeVerifier([redacted])");
    /// let stored = serde_json::to_string(&verifier).unwrap();
    /// let back: PkceCodeVerifier = serde_json::from_str(&stored).unwrap();
    /// assert_eq!(back, verifier);
    /// ```
    #[derive(Deserialize)]
    #[serde(transparent)]
    PkceCodeVerifier,
    /// A verifier from its value, such as one you stored until the callback.
    ///
    /// ```
    /// use digime::secrecy::ExposeSecret;
    /// let verifier = digime::consent::PkceCodeVerifier::new("v-1");
    /// assert_eq!(verifier.expose_secret(), "v-1");
    /// ```
);

impl Serialize for PkceCodeVerifier {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret_values() {
        let code = AuthorizationCode::new("code-value-1");
        let verifier = PkceCodeVerifier::new("verifier-value-1");
        for debug in [format!("{code:?}"), format!("{verifier:#?}")] {
            assert!(!debug.contains("value-1"), "{debug}");
        }
    }

    #[test]
    fn stored_forms_are_plain_strings() {
        let verifier = PkceCodeVerifier::new("v-1");
        assert_eq!(serde_json::to_string(&verifier).unwrap(), r#""v-1""#);
        let state = ConsentState::new("s-1");
        assert_eq!(serde_json::to_string(&state).unwrap(), r#""s-1""#);
    }
}
