//! An account in the user's library, as read accounts returns it.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One account in the user's library: a source the user onboarded (such as
/// a MedMij provider) or one your application pushes for.
///
/// The `id` is what a provider push needs; the callback's
/// `accountReference` matches `reference`.
///
/// ```
/// let json = r#"{"id":"acc-1","reference":"ref-1","type":"USER","createdDate":1,"updatedDate":2,
///   "serviceGroupId":2,"serviceGroupName":"Medical","serviceTypeId":7,"serviceTypeName":"MedMij",
///   "serviceTypeReference":"medmij","sourceId":12,"accessTokenStatus":{"authorized":true}}"#;
/// let account: digime::models::ServiceAccount = serde_json::from_str(json).unwrap();
/// assert_eq!(account.id, "acc-1");
/// assert_eq!(account.reference.as_deref(), Some("ref-1"));
/// assert_eq!(account.account_type, Some(digime::models::AccountType::User));
/// assert_eq!(account.access_token_status.unwrap().authorized, true);
///
/// // A field the server left out reads as `None`, not as a made-up value.
/// let bare: digime::models::ServiceAccount = serde_json::from_str(r#"{"id":"acc-2"}"#).unwrap();
/// assert_eq!((bare.reference, bare.account_type), (None, None));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceAccount {
    /// The account id: give it to a provider push's `.account_id(..)`.
    pub id: String,
    /// The reference the authorization callback returns as
    /// `accountReference`; `None` when the server sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The kind of account; `None` when the server sent no `type`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<AccountType>,
    /// When the account was created. Its JSON (`createdDate`) is
    /// milliseconds since the Unix epoch, as digi.me sends it.
    #[serde(default, with = "crate::time::epoch_ms_option")]
    pub created_date: Option<SystemTime>,
    /// When the account was last updated. Its JSON (`updatedDate`) is
    /// milliseconds since the Unix epoch, as digi.me sends it.
    #[serde(default, with = "crate::time::epoch_ms_option")]
    pub updated_date: Option<SystemTime>,
    /// The service group's id.
    #[serde(default)]
    pub service_group_id: Option<i64>,
    /// The service group's name, such as `Medical`.
    #[serde(default)]
    pub service_group_name: Option<String>,
    /// The service type's id.
    #[serde(default)]
    pub service_type_id: Option<i64>,
    /// The service type's name.
    #[serde(default)]
    pub service_type_name: Option<String>,
    /// The service type's reference.
    #[serde(default)]
    pub service_type_reference: Option<String>,
    /// The source's id.
    #[serde(default)]
    pub source_id: Option<i64>,
    /// The user name at the service, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The service provider's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider_id: Option<i64>,
    /// The service provider's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider_name: Option<String>,
    /// The service provider's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provider_reference: Option<String>,
    /// The provider's favicon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_fav_icon: Option<String>,
    /// The provider's logo URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_logo: Option<String>,
    /// True for a sample-data account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<bool>,
    /// Whether digi.me still holds a working authorization for the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_status: Option<AccessTokenStatus>,
}

/// Whether digi.me's authorization at a source still works.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let json = r#"{"authorized":false,"expiresAt":1767225600123}"#;
/// let s: digime::models::AccessTokenStatus = serde_json::from_str(json).unwrap();
/// assert!(!s.authorized);
/// assert_eq!(s.expires_at, Some(UNIX_EPOCH + Duration::from_millis(1767225600123)));
/// assert_eq!(serde_json::to_string(&s).unwrap(), json);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccessTokenStatus {
    /// True while the authorization works.
    pub authorized: bool,
    /// When it expires, if known. Its JSON (`expiresAt`) is read as
    /// milliseconds since the Unix epoch, the unit of digi.me's other
    /// account times, and written back as the same number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::epoch_ms_option"
    )]
    pub expires_at: Option<SystemTime>,
}

/// The kind of a [`ServiceAccount`]. A kind this SDK does not know yet is
/// kept in [`AccountType::Other`].
///
/// ```
/// use digime::models::AccountType;
/// let t: AccountType = serde_json::from_str("\"PUSH\"").unwrap();
/// assert_eq!(t, AccountType::Push);
/// let t: AccountType = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
/// assert_eq!(t, AccountType::Other("SOMETHING_NEW".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccountType {
    /// `USER`.
    User,
    /// `ADMIN`.
    Admin,
    /// `EVENT`.
    Event,
    /// `GROUP`.
    Group,
    /// `BANK`.
    Bank,
    /// `CREDIT_CARD`.
    CreditCard,
    /// `IMPORTED`.
    Imported,
    /// `INVESTMENT`.
    Investment,
    /// `INSURANCE`.
    Insurance,
    /// `LOAN`.
    Loan,
    /// `REWARD`.
    Reward,
    /// `BILL`.
    Bill,
    /// `PUSH`.
    Push,
    /// Any other value, as sent.
    Other(String),
}

impl AccountType {
    /// The wire name, such as `CREDIT_CARD`.
    ///
    /// ```
    /// assert_eq!(digime::models::AccountType::CreditCard.as_str(), "CREDIT_CARD");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            AccountType::User => "USER",
            AccountType::Admin => "ADMIN",
            AccountType::Event => "EVENT",
            AccountType::Group => "GROUP",
            AccountType::Bank => "BANK",
            AccountType::CreditCard => "CREDIT_CARD",
            AccountType::Imported => "IMPORTED",
            AccountType::Investment => "INVESTMENT",
            AccountType::Insurance => "INSURANCE",
            AccountType::Loan => "LOAN",
            AccountType::Reward => "REWARD",
            AccountType::Bill => "BILL",
            AccountType::Push => "PUSH",
            AccountType::Other(name) => name,
        }
    }

    /// The kind a wire name stands for; an unknown name is kept in
    /// [`AccountType::Other`].
    fn from_wire(name: String) -> Self {
        match name.as_str() {
            "USER" => AccountType::User,
            "ADMIN" => AccountType::Admin,
            "EVENT" => AccountType::Event,
            "GROUP" => AccountType::Group,
            "BANK" => AccountType::Bank,
            "CREDIT_CARD" => AccountType::CreditCard,
            "IMPORTED" => AccountType::Imported,
            "INVESTMENT" => AccountType::Investment,
            "INSURANCE" => AccountType::Insurance,
            "LOAN" => AccountType::Loan,
            "REWARD" => AccountType::Reward,
            "BILL" => AccountType::Bill,
            "PUSH" => AccountType::Push,
            _ => AccountType::Other(name),
        }
    }
}

impl fmt::Display for AccountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AccountType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AccountType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(AccountType::from_wire)
    }
}

#[cfg(test)]
mod tests {
    use super::AccountType;

    #[test]
    fn every_known_name_round_trips() {
        for name in [
            "USER",
            "ADMIN",
            "EVENT",
            "GROUP",
            "BANK",
            "CREDIT_CARD",
            "IMPORTED",
            "INVESTMENT",
            "INSURANCE",
            "LOAN",
            "REWARD",
            "BILL",
            "PUSH",
        ] {
            let kind = AccountType::from_wire(name.to_owned());
            assert!(!matches!(kind, AccountType::Other(_)), "{name} is known");
            assert_eq!(kind.as_str(), name);
        }
        let other = AccountType::from_wire("user".to_owned());
        assert_eq!(other, AccountType::Other("user".to_owned()));
        assert_eq!(other.as_str(), "user");
    }

    #[test]
    fn times_keep_their_milliseconds_on_the_way_back() {
        use std::time::{Duration, UNIX_EPOCH};
        let json = r#"{"id":"a","createdDate":1767225600123,"updatedDate":-5,"accessTokenStatus":{"authorized":true,"expiresAt":1767225600999}}"#;
        let account: super::ServiceAccount = serde_json::from_str(json).unwrap();
        assert_eq!(
            account.created_date,
            Some(UNIX_EPOCH + Duration::from_millis(1_767_225_600_123))
        );
        assert_eq!(
            account.updated_date,
            Some(UNIX_EPOCH - Duration::from_millis(5))
        );
        let back = serde_json::to_value(&account).unwrap();
        assert_eq!(back["createdDate"], 1_767_225_600_123_i64);
        assert_eq!(back["updatedDate"], -5);
        assert_eq!(
            back["accessTokenStatus"]["expiresAt"],
            1_767_225_600_999_i64
        );
        let bare: super::ServiceAccount = serde_json::from_str(r#"{"id":"b"}"#).unwrap();
        let back = serde_json::to_value(&bare).unwrap();
        assert!(back["createdDate"].is_null() && back["updatedDate"].is_null());
    }
}
