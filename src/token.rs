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
/// assert_eq!(
///     token.access_token().expires_at(),
///     std::time::UNIX_EPOCH + std::time::Duration::from_secs(1767225600),
/// );
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

/// The `user` part of a [`UserAccessToken`]. Its `id` is optional: the
/// official SDK stores `"user": {}` when the server's JWT has no `sub`, and
/// such a token loads and saves back the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TokenUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

impl UserAccessToken {
    /// A token from its two parts. `user_id` and `consent_id` are optional, as
    /// in the stored JSON.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use digime::{Token, UserAccessToken};
    /// let now = SystemTime::now();
    /// let token = UserAccessToken::new(
    ///     Token::new("access-value", now + Duration::from_secs(3600)),
    ///     Token::new("refresh-value", now + Duration::from_secs(30 * 24 * 3600)),
    ///     Some("user-id".to_string()),
    ///     None,
    /// );
    /// assert!(token.refresh_token().expires_at() > token.access_token().expires_at());
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
            user: user_id.map(|id| TokenUser { id: Some(id) }),
            consent_id,
            other: serde_json::Map::new(),
        }
    }

    /// The access token, sent with every call made for the user.
    ///
    /// ```
    /// # let token: digime::UserAccessToken = serde_json::from_str(r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2}}"#).unwrap();
    /// use std::time::{Duration, UNIX_EPOCH};
    /// assert_eq!(token.access_token().expires_at(), UNIX_EPOCH + Duration::from_secs(1));
    /// ```
    pub fn access_token(&self) -> &Token {
        &self.access_token
    }

    /// The refresh token, used once to get a new pair.
    ///
    /// ```
    /// # let token: digime::UserAccessToken = serde_json::from_str(r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2}}"#).unwrap();
    /// use std::time::{Duration, UNIX_EPOCH};
    /// assert_eq!(token.refresh_token().expires_at(), UNIX_EPOCH + Duration::from_secs(2));
    /// ```
    pub fn refresh_token(&self) -> &Token {
        &self.refresh_token
    }

    /// The digi.me user id (`user.id`), when the token carries it. A token
    /// stored as `"user": {}` (as the official SDK stores one whose server
    /// JWT had no `sub`) has none, and keeps its `"user": {}` when saved.
    ///
    /// ```
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", std::time::SystemTime::now()), digime::Token::new("r", std::time::SystemTime::now()), Some("u".into()), None);
    /// assert_eq!(token.user_id(), Some("u"));
    /// let stored = r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"user":{}}"#;
    /// let anonymous: digime::UserAccessToken = serde_json::from_str(stored).unwrap();
    /// assert_eq!(anonymous.user_id(), None);
    /// assert_eq!(serde_json::to_string(&anonymous).unwrap(), stored);
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().and_then(|u| u.id.as_deref())
    }

    /// Keeps the user id, consent id and unknown fields of `old` where the
    /// server's new token does not carry them.
    pub(crate) fn inherit_identity(&mut self, old: &UserAccessToken) {
        if self.user_id().is_none() && old.user.is_some() {
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
    /// # let token = digime::UserAccessToken::new(digime::Token::new("a", std::time::SystemTime::now()), digime::Token::new("r", std::time::SystemTime::now()), None, Some("c".into()));
    /// assert_eq!(token.consent_id(), Some("c"));
    /// ```
    pub fn consent_id(&self) -> Option<&str> {
        self.consent_id.as_deref()
    }
}

/// One token value and when it expires.
///
/// The value is a [`SecretString`]: `Debug` prints `[REDACTED]`, and reading
/// it takes an explicit [`ExposeSecret::expose_secret`]. The expiry is a
/// [`SystemTime`]; the stored JSON keeps it as whole seconds since the Unix
/// epoch (`"expiry"`), as the TypeScript SDK does.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use digime::secrecy::ExposeSecret;
/// let t = digime::Token::new("value", SystemTime::now() + Duration::from_secs(3600));
/// assert_eq!(t.value().expose_secret(), "value");
/// assert!(!format!("{t:?}").contains("value\""));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Token {
    #[serde(serialize_with = "expose")]
    value: SecretString,
    /// Seconds since the Unix epoch, as stored.
    expiry: u64,
}

fn expose<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.expose_secret())
}

/// The latest expiry [`Token::expires_at`] reports: 9999-12-31T23:59:59Z,
/// which every platform's `SystemTime` can hold (a stored `u64::MAX` cannot).
const LATEST_EXPIRY_SECS: u64 = 253_402_300_799;

impl Token {
    /// A token value and when it expires. The stored form keeps whole
    /// seconds: a sub-second part is dropped, and a time before the Unix
    /// epoch is stored as the epoch.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let at = UNIX_EPOCH + Duration::from_secs(1767225600);
    /// let t = digime::Token::new("value", at);
    /// assert_eq!(t.expires_at(), at);
    /// ```
    pub fn new(value: impl Into<String>, expires_at: SystemTime) -> Self {
        let secs = expires_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_unix_secs(value, secs)
    }

    /// A token whose expiry is given as the wire gives it: Unix seconds.
    pub(crate) fn from_unix_secs(value: impl Into<String>, expiry: u64) -> Self {
        Self {
            value: SecretString::from(value.into()),
            expiry,
        }
    }

    /// The secret value.
    ///
    /// ```
    /// use digime::secrecy::ExposeSecret;
    /// let t = digime::Token::new("v", std::time::SystemTime::now());
    /// assert_eq!(t.value().expose_secret(), "v");
    /// ```
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// When the token expires. A stored expiry past the year 9999 reads as
    /// 9999-12-31T23:59:59Z.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let t: digime::Token = serde_json::from_str(r#"{"value":"v","expiry":10}"#).unwrap();
    /// assert_eq!(t.expires_at(), UNIX_EPOCH + Duration::from_secs(10));
    /// ```
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expiry.min(LATEST_EXPIRY_SECS))
    }

    /// True when the token has expired, or will within `skew`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let now = SystemTime::now();
    /// assert!(digime::Token::new("v", now).expires_within(Duration::ZERO));
    /// let later = digime::Token::new("v", now + Duration::from_secs(3600));
    /// assert!(!later.expires_within(Duration::from_secs(60)));
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
        write!(f, "token (expires at Unix time {})", self.expiry)
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
    fn an_empty_user_loads_and_saves_back_the_same() {
        for s in [
            r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"user":{}}"#,
            r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"user":{},"consentid":"c"}"#,
        ] {
            let token: UserAccessToken = serde_json::from_str(s).unwrap();
            assert_eq!(token.user_id(), None);
            assert_eq!(serde_json::to_string(&token).unwrap(), s);
        }
    }

    #[test]
    fn a_refreshed_token_without_sub_keeps_the_old_user_id() {
        let old: UserAccessToken = serde_json::from_str(STORED).unwrap();
        let mut fresh = UserAccessToken::new(
            Token::from_unix_secs("a-2", 1),
            Token::from_unix_secs("r-2", 2),
            None,
            None,
        );
        fresh.inherit_identity(&old);
        assert_eq!(fresh.user_id(), Some("user-id"));
        assert_eq!(fresh.consent_id(), Some("consent-id"));
    }

    #[test]
    fn unknown_fields_are_kept() {
        let s = r#"{"accessToken":{"value":"a","expiry":1},"refreshToken":{"value":"r","expiry":2},"extra":{"k":1}}"#;
        let token: UserAccessToken = serde_json::from_str(s).unwrap();
        assert_eq!(serde_json::to_string(&token).unwrap(), s);
    }

    #[test]
    fn expiry_round_trips_as_unix_seconds() {
        let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let token = Token::new("v", at + Duration::from_millis(999));
        assert_eq!(token.expires_at(), at);
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            r#"{"value":"v","expiry":1767225600}"#
        );
    }

    #[test]
    fn an_unrepresentable_expiry_does_not_panic() {
        let token: Token =
            serde_json::from_str(&format!(r#"{{"value":"v","expiry":{}}}"#, u64::MAX)).unwrap();
        assert!(token.expires_at() > SystemTime::now());
        let before_epoch = Token::new("v", UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(before_epoch.expires_at(), UNIX_EPOCH);
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
