//! A contract's details, as `permission-access/contract` returns them.

use serde::{Deserialize, Serialize};

/// The details of a contract. Check [`can_write`](Self::can_write) before
/// pushing: a read contract gets `InsufficientScope`.
///
/// ```
/// let json = r#"{"id":"c-1","accessType":"w","application":{"id":"app","name":"My app","resources":[],"status":"active"},
///   "certificate":"…","certificateContractSchemaVersion":"1","expirationDate":"2030-01-01","partnerId":"p","type":"standard"}"#;
/// let info: digime::models::ContractInfo = serde_json::from_str(json).unwrap();
/// assert!(info.can_write());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContractInfo {
    /// The contract id.
    pub id: String,
    /// Read (`r`) or write (`w`).
    pub access_type: AccessType,
    /// The application the contract belongs to.
    #[serde(default)]
    pub application: Option<ApplicationInfo>,
    /// The contract's certificate, as digi.me sends it.
    #[serde(default)]
    pub certificate: Option<serde_json::Value>,
    /// The certificate's schema version.
    #[serde(default)]
    pub certificate_contract_schema_version: Option<serde_json::Value>,
    /// When the contract expires, as digi.me sends it: the one time in
    /// the API that is not a `SystemTime`, because the protocol does not
    /// fix its format (a date string such as `"2030-01-01"` has been seen).
    #[serde(default)]
    pub expiration_date: Option<serde_json::Value>,
    /// The partner's id.
    #[serde(default)]
    pub partner_id: Option<String>,
    /// The contract type.
    #[serde(rename = "type", default)]
    pub contract_type: Option<String>,
}

impl ContractInfo {
    /// True for a write contract: one that may push.
    ///
    /// ```
    /// # let info: digime::models::ContractInfo = serde_json::from_str(r#"{"id":"c","accessType":"r"}"#).unwrap();
    /// assert!(!info.can_write());
    /// ```
    pub fn can_write(&self) -> bool {
        self.access_type == AccessType::Write
    }
}

/// Whether a contract reads or writes.
///
/// ```
/// let t: digime::models::AccessType = serde_json::from_str("\"w\"").unwrap();
/// assert_eq!(t, digime::models::AccessType::Write);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AccessType {
    /// `r`: the contract reads from the user's library.
    #[serde(rename = "r")]
    Read,
    /// `w`: the contract writes (pushes) into it.
    #[serde(rename = "w")]
    Write,
    /// Any other value, as sent.
    #[serde(untagged)]
    Other(String),
}

/// The application a contract belongs to.
///
/// ```
/// let a: digime::models::ApplicationInfo = serde_json::from_str(r#"{"id":"app","name":"My app"}"#).unwrap();
/// assert_eq!(a.name.as_deref(), Some("My app"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApplicationInfo {
    /// The application id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its resources, as digi.me sends them.
    #[serde(default)]
    pub resources: Option<serde_json::Value>,
    /// Its status, as digi.me sends it.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}
