//! The FileDescriptor: the metadata sent with a file pushed to a library.

use serde::{Deserialize, Serialize};
use typed_builder::TypedBuilder;

use crate::error::Result;
use crate::validate;

/// Metadata for a file pushed to a user's library.
///
/// `mime_type` and `accounts` are required: `build()` does not compile
/// without them. `tags` and `reference` are optional and are left out of the
/// wire form, not sent as `null`.
///
/// ```
/// use digime::{Account, FileDescriptor};
///
/// let descriptor = FileDescriptor::builder()
///     .mime_type("application/pdf")
///     .accounts(vec![Account::new("account-in-my-system")])
///     .tags(vec!["lab".to_string()])
///     .build();
/// assert_eq!(
///     serde_json::to_string(&descriptor).unwrap(),
///     r#"{"mimeType":"application/pdf","accounts":[{"accountId":"account-in-my-system"}],"tags":["lab"]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TypedBuilder)]
#[serde(rename_all = "camelCase")]
#[builder(doc)]
pub struct FileDescriptor {
    /// The file's MIME type, such as `application/pdf` or
    /// `text/plain; charset=utf-8`: a media type of RFC 9110, parameters
    /// included.
    #[builder(setter(into))]
    mime_type: String,
    /// The accounts in *your* system that this file belongs to.
    accounts: Vec<Account>,
    /// References to attach to the file.
    #[builder(default, setter(strip_option))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<Vec<String>>,
    /// Tags to attach to the file, to find it again later.
    #[builder(default, setter(strip_option))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
}

impl FileDescriptor {
    /// The MIME type.
    ///
    /// ```
    /// # let d = digime::FileDescriptor::builder().mime_type("text/plain").accounts(vec![]).build();
    /// assert_eq!(d.mime_type(), "text/plain");
    /// ```
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// The accounts the file belongs to.
    ///
    /// ```
    /// # let d = digime::FileDescriptor::builder().mime_type("text/plain").accounts(vec![digime::Account::new("a")]).build();
    /// assert_eq!(d.accounts()[0].account_id(), "a");
    /// ```
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The tags, if any were set.
    ///
    /// ```
    /// # let d = digime::FileDescriptor::builder().mime_type("text/plain").accounts(vec![]).build();
    /// assert_eq!(d.tags(), None);
    /// ```
    pub fn tags(&self) -> Option<&[String]> {
        self.tags.as_deref()
    }

    /// The references, if any were set.
    ///
    /// ```
    /// # let d = digime::FileDescriptor::builder().mime_type("text/plain").accounts(vec![]).reference(vec!["r".into()]).build();
    /// assert_eq!(d.reference(), Some(&["r".to_string()][..]));
    /// ```
    pub fn reference(&self) -> Option<&[String]> {
        self.reference.as_deref()
    }

    /// Checks what the type system cannot: a MIME type that follows RFC
    /// 9110's media-type grammar (`type/subtype`, parameters such as
    /// `; charset=utf-8` allowed), at least one account, no control
    /// characters anywhere, and sizes within [`MAX_LIST_ITEMS`] entries of
    /// at most [`MAX_ITEM_LEN`] bytes per tag or reference list, and
    /// [`MAX_DESCRIPTOR_BYTES`] for the whole descriptor (it travels in an
    /// HTTP header). The push builder calls this before anything is sent.
    pub(crate) fn validate(&self) -> Result<()> {
        use crate::Error;
        crate::media_type::check(&self.mime_type).map_err(|reason| {
            Error::invalid_input(
                "descriptor.mime_type",
                format!(
                    "must be a media type such as `application/pdf` or \
                     `text/plain; charset=utf-8` (RFC 9110): {reason}"
                ),
            )
        })?;
        if self.accounts.is_empty() {
            return Err(Error::invalid_input(
                "descriptor.accounts",
                "must name at least one account",
            ));
        }
        for account in &self.accounts {
            validate::identifier("descriptor.accounts.accountId", &account.account_id)?;
        }
        for (field, list) in [
            ("descriptor.tags", &self.tags),
            ("descriptor.reference", &self.reference),
        ] {
            let Some(list) = list else { continue };
            if list.len() > MAX_LIST_ITEMS {
                return Err(Error::invalid_input(
                    field,
                    format!(
                        "has {} entries; at most {MAX_LIST_ITEMS} are allowed",
                        list.len()
                    ),
                ));
            }
            for item in list {
                validate::no_control_chars(field, item)?;
                if item.len() > MAX_ITEM_LEN {
                    return Err(Error::invalid_input(
                        field,
                        format!(
                            "has an entry of {} bytes; at most {MAX_ITEM_LEN} are allowed",
                            item.len()
                        ),
                    ));
                }
            }
        }
        let size = serde_json::to_vec(self)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_DESCRIPTOR_BYTES {
            return Err(Error::invalid_input(
                "descriptor",
                format!(
                    "is {size} bytes as JSON; at most {MAX_DESCRIPTOR_BYTES} fit in the \
                     FileDescriptor header"
                ),
            ));
        }
        Ok(())
    }
}

/// The most entries in `tags` or in `reference`.
pub(crate) const MAX_LIST_ITEMS: usize = 100;
/// The longest tag or reference, in bytes.
pub(crate) const MAX_ITEM_LEN: usize = 256;
/// The largest descriptor, as JSON bytes: it is signed into the
/// `FileDescriptor` HTTP header, and servers cap header sizes (8 KiB is
/// common).
pub(crate) const MAX_DESCRIPTOR_BYTES: usize = 4096;

/// An account in *your* system that a pushed file belongs to
/// (`{"accountId": …}` on the wire).
///
/// ```
/// let account = digime::Account::new("account-in-my-system");
/// assert_eq!(serde_json::to_string(&account).unwrap(), r#"{"accountId":"account-in-my-system"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    account_id: String,
}

impl Account {
    /// An account id from your system.
    ///
    /// ```
    /// assert_eq!(digime::Account::new("a-1").account_id(), "a-1");
    /// ```
    pub fn new(account_id: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
        }
    }

    /// The account id.
    ///
    /// ```
    /// assert_eq!(digime::Account::new("a-1").account_id(), "a-1");
    /// ```
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}
