//! The outcome of one file in a bulk run.

use std::fmt;

/// What became of one file in a bulk run, as a [`Journal`](super::Journal)
/// records it and the `digime` CLI reports it.
///
/// ```
/// use digime::bulk::Status;
/// assert_eq!(Status::Uncertain.as_str(), "uncertain");
/// assert_eq!("stored".parse::<Status>(), Ok(Status::Stored));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// digi.me acknowledged the push: the file is in the user's library.
    Stored,
    /// The push may have been stored: it failed in a way that does not
    /// tell ([`Error::may_have_been_stored`](crate::Error::may_have_been_stored)),
    /// or it had begun when the process stopped. Sending it again may leave
    /// a duplicate.
    Uncertain,
    /// The push was certainly not stored: sending it again is safe.
    Failed,
    /// Not sent in this run: the journal already had it.
    Skipped,
}

impl Status {
    /// The status of a finished push: [`Stored`](Self::Stored) for `Ok`;
    /// for an error, [`Uncertain`](Self::Uncertain) when it
    /// [may have been stored](crate::Error::may_have_been_stored), else
    /// [`Failed`](Self::Failed).
    ///
    /// ```
    /// use digime::bulk::Status;
    /// let ok: digime::Result<()> = Ok(());
    /// assert_eq!(Status::of_push(&ok), Status::Stored);
    /// ```
    pub fn of_push<T>(result: &crate::Result<T>) -> Self {
        match result {
            Ok(_) => Status::Stored,
            Err(err) if err.may_have_been_stored() => Status::Uncertain,
            Err(_) => Status::Failed,
        }
    }

    /// The status's name in the journal and in the CLI's JSON:
    /// `stored`, `uncertain`, `failed` or `skipped`.
    ///
    /// ```
    /// assert_eq!(digime::bulk::Status::Failed.as_str(), "failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stored => "stored",
            Status::Uncertain => "uncertain",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stored" => Ok(Status::Stored),
            "uncertain" => Ok(Status::Uncertain),
            "failed" => Ok(Status::Failed),
            "skipped" => Ok(Status::Skipped),
            _ => Err(UnknownStatus),
        }
    }
}

/// The error of parsing a [`Status`] from a name that is not one.
///
/// ```
/// assert!("lost".parse::<digime::bulk::Status>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownStatus;

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a status (stored, uncertain, failed or skipped)")
    }
}

impl std::error::Error for UnknownStatus {}
