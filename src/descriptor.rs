//! The FileDescriptor: the metadata sent with a file pushed to a library,
//! and its builder, whose required fields are type states ([`state`]).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::validate;
use state::{
    DescriptorAccountsMissing, DescriptorAccountsSet, DescriptorHasAccounts, DescriptorHasMimeType,
    DescriptorMimeTypeMissing, DescriptorMimeTypeSet,
};

/// Metadata for a file pushed to a user's library.
///
/// `mime_type` and `accounts` are required: `build()` does not compile
/// without them, and the compiler says which one is missing. `tags` and
/// `reference` are optional and are left out of the wire form, not sent as
/// `null`.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDescriptor {
    /// The file's MIME type, such as `application/pdf` or
    /// `text/plain; charset=utf-8`: a media type of RFC 9110, parameters
    /// included.
    mime_type: String,
    /// The accounts in *your* system that this file belongs to.
    accounts: Vec<Account>,
    /// References to attach to the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<Vec<String>>,
    /// Tags to attach to the file, to find it again later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
}

/// Builds a [`FileDescriptor`]: `.mime_type(..)` and `.accounts(..)` are
/// required, each once, in either order; `.tags(..)` and `.reference(..)`
/// are optional. `build()` exists once both required fields are set.
///
/// ```
/// use digime::{Account, FileDescriptor};
/// let descriptor = FileDescriptor::builder()
///     .accounts(vec![Account::new("account-in-my-system")])
///     .mime_type("text/plain")
///     .reference(vec!["lab-2024-001".to_string()])
///     .build();
/// assert_eq!(descriptor.reference(), Some(&["lab-2024-001".to_string()][..]));
/// ```
///
/// A missing field is a compile error that names it:
///
/// ```compile_fail,E0277
/// // error[E0277]: the accounts are missing: call `.accounts(vec![Account::new(..)])` before `.build()`
/// let _ = digime::FileDescriptor::builder().mime_type("text/plain").build();
/// ```
#[must_use = "a descriptor builder does nothing until `.build()`"]
#[derive(Debug)]
pub struct FileDescriptorBuilder<M = DescriptorMimeTypeMissing, A = DescriptorAccountsMissing> {
    mime_type: M,
    accounts: A,
    reference: Option<Vec<String>>,
    tags: Option<Vec<String>>,
}

impl FileDescriptor {
    /// Starts a descriptor. See [`FileDescriptorBuilder`].
    ///
    /// ```
    /// let descriptor = digime::FileDescriptor::builder()
    ///     .mime_type("application/pdf")
    ///     .accounts(vec![digime::Account::new("a-1")])
    ///     .build();
    /// assert_eq!(descriptor.mime_type(), "application/pdf");
    /// ```
    pub fn builder() -> FileDescriptorBuilder {
        FileDescriptorBuilder {
            mime_type: DescriptorMimeTypeMissing,
            accounts: DescriptorAccountsMissing,
            reference: None,
            tags: None,
        }
    }
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

impl<A> FileDescriptorBuilder<DescriptorMimeTypeMissing, A> {
    /// The file's MIME type, such as `application/pdf` or
    /// `text/plain; charset=utf-8`: a media type of RFC 9110, parameters
    /// included (checked when the descriptor is pushed).
    ///
    /// ```
    /// # let b = digime::FileDescriptor::builder();
    /// let _ = b.mime_type("text/plain; charset=utf-8");
    /// ```
    pub fn mime_type(
        self,
        mime_type: impl Into<String>,
    ) -> FileDescriptorBuilder<DescriptorMimeTypeSet, A> {
        FileDescriptorBuilder {
            mime_type: DescriptorMimeTypeSet(mime_type.into()),
            accounts: self.accounts,
            reference: self.reference,
            tags: self.tags,
        }
    }
}

impl<M> FileDescriptorBuilder<M, DescriptorAccountsMissing> {
    /// The accounts in *your* system that this file belongs to (at least
    /// one, checked when the descriptor is pushed).
    ///
    /// ```
    /// # let b = digime::FileDescriptor::builder();
    /// let _ = b.accounts(vec![digime::Account::new("account-in-my-system")]);
    /// ```
    pub fn accounts(
        self,
        accounts: Vec<Account>,
    ) -> FileDescriptorBuilder<M, DescriptorAccountsSet> {
        FileDescriptorBuilder {
            mime_type: self.mime_type,
            accounts: DescriptorAccountsSet(accounts),
            reference: self.reference,
            tags: self.tags,
        }
    }
}

impl<M, A> FileDescriptorBuilder<M, A> {
    /// References to attach to the file (replacing any set before).
    ///
    /// ```
    /// # let b = digime::FileDescriptor::builder();
    /// let _ = b.reference(vec!["lab-2024-001".to_string()]);
    /// ```
    pub fn reference(mut self, reference: Vec<String>) -> Self {
        self.reference = Some(reference);
        self
    }

    /// Tags to attach to the file, to find it again later (replacing any
    /// set before).
    ///
    /// ```
    /// # let b = digime::FileDescriptor::builder();
    /// let _ = b.tags(vec!["lab".to_string()]);
    /// ```
    pub fn tags(mut self, tags: Vec<String>) -> Self {
        self.tags = Some(tags);
        self
    }

    /// The descriptor. It compiles once `.mime_type(..)` and `.accounts(..)`
    /// are set; their values are checked when the descriptor is pushed.
    ///
    /// ```
    /// let d = digime::FileDescriptor::builder()
    ///     .mime_type("text/plain")
    ///     .accounts(vec![digime::Account::new("a-1")])
    ///     .build();
    /// assert_eq!(d.accounts().len(), 1);
    /// ```
    pub fn build(self) -> FileDescriptor
    where
        M: DescriptorHasMimeType,
        A: DescriptorHasAccounts,
    {
        FileDescriptor {
            mime_type: self.mime_type.into_mime_type(),
            accounts: self.accounts.into_accounts(),
            reference: self.reference,
            tags: self.tags,
        }
    }
}

pub mod state {
    //! The type states of [`FileDescriptorBuilder`](super::FileDescriptorBuilder).
    //!
    //! Each marker is named for the builder and the field it guards:
    //! `DescriptorMimeTypeMissing` until `.mime_type(..)` is called, then
    //! `DescriptorMimeTypeSet`; `DescriptorAccountsMissing` until
    //! `.accounts(..)`, then `DescriptorAccountsSet`. `build()` requires
    //! the sealed traits `DescriptorHasMimeType` and `DescriptorHasAccounts`,
    //! which only the `…Set` markers implement, and whose messages say what
    //! to call:
    //!
    //! ```compile_fail,E0277
    //! // error[E0277]: the MIME type is missing: call `.mime_type("application/pdf")` before `.build()`
    //! let _ = digime::FileDescriptor::builder().accounts(vec![digime::Account::new("a")]).build();
    //! ```

    use super::Account;
    use crate::typestate::state_pair;

    state_pair!(
        /// File descriptor: `.mime_type(..)` has not been called.
        DescriptorMimeTypeMissing,
        /// File descriptor: the MIME type is set.
        DescriptorMimeTypeSet(String),
        /// Proof that a file descriptor has its MIME type.
        #[diagnostic::on_unimplemented(
            message = "the MIME type is missing: call `.mime_type(\"application/pdf\")` before `.build()`",
            label = "this file descriptor has no MIME type yet",
            note = "a file descriptor needs both `.mime_type(..)` and `.accounts(..)`, in either order"
        )]
        DescriptorHasMimeType::into_mime_type
    );
    state_pair!(
        /// File descriptor: `.accounts(..)` has not been called.
        DescriptorAccountsMissing,
        /// File descriptor: the accounts are set.
        DescriptorAccountsSet(Vec<Account>),
        /// Proof that a file descriptor has its accounts.
        #[diagnostic::on_unimplemented(
            message = "the accounts are missing: call `.accounts(vec![Account::new(..)])` before `.build()`",
            label = "this file descriptor has no accounts yet",
            note = "a file descriptor needs both `.mime_type(..)` and `.accounts(..)`, in either order"
        )]
        DescriptorHasAccounts::into_accounts
    );
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
