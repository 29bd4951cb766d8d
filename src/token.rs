//! The user access token: what a caller stores per user between calls.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// A user's access and refresh tokens, as digi.me issues them.
///
/// Its JSON form is the one the official TypeScript SDK stores, byte for
/// byte, so a token saved by either SDK loads in the other:
///
/// ```
/// # fn main() -> Result<(), serde_json::Error> {
/// let stored = r#"{"accessToken":{"value":"a-1","expiry":1767225600},"refreshToken":{"value":"r-1","expiry":1769817600},"user":{"id":"user-id"},"consentid":"consent-id"}"#;
/// let token: digime::UserAccessToken = serde_json::from_str(stored)?;
/// assert_eq!(token.access_token().expiry(), 1767225600);
/// assert_eq!(token.user_id(), Some("user-id"));
/// // Serialize writes the real values: it is the storage format.
/// assert_eq!(serde_json::to_string(&token)?, stored);
/// // Debug never shows them.
/// assert!(!format!("{token:?}").contains("a-1"));
/// # Ok(()) }
/// ```
///
/// `Debug` shows the expiries, the user and consent ids, and only the keys
/// of fields this SDK does not know (their values could be anything).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAccessToken {
    access_token: Token,
    refresh_token: Token,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<TokenUser>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "consentid")]
    consent_id: Option<String>,
    /// Fields this SDK does not know, kept so that nothing stored is lost.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for UserAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UserAccessToken");
        d.field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("user", &self.user)
            .field("consent_id", &self.consent_id);
        if !self.other.is_empty() {
            d.field("other_keys", &self.other.keys().collect::<Vec<_>>());
        }
        d.finish()
    }
}

/// The `user` part of a [`UserAccessToken`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TokenUser {
    id: String,
}

impl UserAccessToken {
    /// A token from its two parts. `user_id` and `consent_id` are optional, as
    /// in the stored JSON.
    ///
    /// ```
    /// use digime::{Token, UserAccessToken};
    /// let token = UserAccessToken::new(
    ///     Token::new("access-value", 1767225600),
    ///     Token::new("refresh-value", 1769817600),
    ///     Some("user-id".to_string()),
    ///     None,
    /// );
    /// assert_eq!(token.refresh_token().expiry(), 1769817600);
    /// ```
    pub fn new(
        access_token: Token,
        refresh_token: Token,
        user_id: Option<String>,
        consent_id: Option<String>,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            user: user_id.map(|id| TokenUser { id }),
            consent_id,
            other: serde_json::Map::new(),
        }
    }

    /// The access token, sent with every call made for the user.
    ///
    /// ```
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", 1), digime::Token::new("r", 2), None, None);
    /// assert_eq!(token.access_token().expiry(), 1);
    /// ```
    pub fn access_token(&self) -> &Token {
        &self.access_token
    }

    /// The refresh token, used once to get a new pair.
    ///
    /// ```
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", 1), digime::Token::new("r", 2), None, None);
    /// assert_eq!(token.refresh_token().expiry(), 2);
    /// ```
    pub fn refresh_token(&self) -> &Token {
        &self.refresh_token
    }

    /// The digi.me user id (`user.id`), when the token carries it.
    ///
    /// ```
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", 1), digime::Token::new("r", 2), Some("u".into()), None);
    /// assert_eq!(token.user_id(), Some("u"));
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.id.as_str())
    }

    /// Keeps the user id, consent id and unknown fields of `old` where the
    /// server's new token does not carry them.
    pub(crate) fn inherit_identity(&mut self, old: &UserAccessToken) {
        if self.user.is_none() {
            self.user = old.user.clone();
        }
        if self.consent_id.is_none() {
            self.consent_id = old.consent_id.clone();
        }
        for (k, v) in &old.other {
            self.other.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    /// The consent id (`consentid`), when the token carries it.
    ///
    /// ```
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", 1), digime::Token::new("r", 2), None, Some("c".into()));
    /// assert_eq!(token.consent_id(), Some("c"));
    /// ```
    pub fn consent_id(&self) -> Option<&str> {
        self.consent_id.as_deref()
    }
}

/// One token value and its expiry (Unix time, seconds).
///
/// The value is a [`SecretString`]: `Debug` prints `[REDACTED]`, and reading
/// it takes an explicit [`ExposeSecret::expose_secret`].
///
/// ```
/// use digime::secrecy::ExposeSecret;
/// let t = digime::Token::new("value", 1767225600);
/// assert_eq!(t.value().expose_secret(), "value");
/// assert!(!format!("{t:?}").contains("value\""));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Token {
    #[serde(serialize_with = "expose")]
    value: SecretString,
    expiry: u64,
}

fn expose<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.expose_secret())
}

impl Token {
    /// A token value with its expiry in Unix seconds.
    ///
    /// ```
    /// let t = digime::Token::new("value", 1767225600);
    /// assert_eq!(t.expiry(), 1767225600);
    /// ```
    pub fn new(value: impl Into<String>, expiry: u64) -> Self {
        Self {
            value: SecretString::from(value.into()),
            expiry,
        }
    }

    /// The secret value.
    ///
    /// ```
    /// use digime::secrecy::ExposeSecret;
    /// assert_eq!(digime::Token::new("v", 0).value().expose_secret(), "v");
    /// ```
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// When the token expires, in seconds since the Unix epoch.
    ///
    /// ```
    /// assert_eq!(digime::Token::new("v", 10).expiry(), 10);
    /// ```
    pub fn expiry(&self) -> u64 {
        self.expiry
    }

    /// True when the token has expired, or will within `skew`.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(digime::Token::new("v", 0).expires_within(Duration::ZERO));
    /// assert!(!digime::Token::new("v", u64::MAX).expires_within(Duration::from_secs(60)));
    /// ```
    pub fn expires_within(&self, skew: Duration) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.expiry <= now.saturating_add(skew.as_secs())
    }
}

impl fmt::Display for Token {
    /// Shows the expiry only, never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token (expires at {})", self.expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = r#"{"accessToken":{"value":"a-1","expiry":1767225600},"refreshToken":{"value":"r-1","expiry":1769817600},"user":{"id":"user-id"},"consentid":"consent-id"}"#;

    #[test]
    fn round_trips_byte_for_byte() {
        let token: UserAccessToken = serde_json::from_str(STORED).unwrap();
        assert_eq!(serde_json::to_string(&token).unwrap(), STORED);
    }

    #[test]
    fn optional_parts_may_be_missing() {
        let s =
            r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2}}"#;
        let token: UserAccessToken = serde_json::from_str(s).unwrap();
        assert_eq!(token.user_id(), None);
        assert_eq!(serde_json::to_string(&token).unwrap(), s);
    }

    #[test]
    fn unknown_fields_are_kept() {
        let s = r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"extra":{"k":1}}"#;
        let token: UserAccessToken = serde_json::from_str(s).unwrap();
        assert_eq!(serde_json::to_string(&token).unwrap(), s);
    }

    #[test]
    fn debug_shows_the_keys_of_unknown_fields_not_their_values() {
        let s = r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"patient":{"name":"Ada Lovelace","nhs":"943 476 5919"}}"#;
        let token: UserAccessToken = serde_json::from_str(s).unwrap();
        for debug in [format!("{token:?}"), format!("{token:#?}")] {
            assert!(debug.contains("patient"), "{debug}");
            assert!(!debug.contains("Ada") && !debug.contains("943"), "{debug}");
        }
    }

    #[test]
    fn debug_redacts_values() {
        let token: UserAccessToken = serde_json::from_str(STORED).unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains("a-1") && !debug.contains("r-1"), "{debug}");
        assert!(debug.contains("1767225600"), "{debug}");
    }
}
