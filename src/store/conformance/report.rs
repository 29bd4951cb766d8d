//! What a run of the kit says: the checks, the report of a pass, the
//! violation that ended a run.

use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// One part of the contract the kit checks.
///
/// ```
/// use digime::store::conformance::Check;
/// assert_eq!(Check::CompareAndSet.to_string(), "compare_and_set");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// `load` of a user never written is `None`; the first `save` is
    /// version 1, each later `save` and each commit that lands one more;
    /// `load` gives back the token saved, field for field, and its version.
    Versions,
    /// `commit` lands only on the stored version (`0`: nothing stored),
    /// at that version plus one; on any other version (behind or ahead) it
    /// writes nothing and answers `Conflict` with the stored token and its
    /// version. A commit that lands ends its lease.
    CompareAndSet,
    /// A commit needs no lease: one made with a lease that expired and was
    /// taken over, or with a lease never acquired, lands if the version
    /// matches, and conflicts otherwise. It leaves the new holder's lease
    /// alone.
    CommitWithoutLease,
    /// `save` of a token whose refresh token the store replaced by commits
    /// (among the last [`ROTATED_KEPT`](crate::store::ROTATED_KEPT) replaced) says `already_rotated`;
    /// of a new token, it does not.
    AlreadyRotated,
    /// While a lease is held, `acquire_lease` answers `Held` with the
    /// stored token and a `retry_after` no longer than the lease's time to
    /// live.
    LeaseExclusive,
    /// `release` ends the lease (the next taker is not told it took one
    /// over); releasing or renewing a lease that was released changes
    /// nothing and renews nothing.
    Release,
    /// A lease that runs out is taken by the next caller, who is told
    /// `took_over`; a caller is not told so on a user with no lease, after
    /// a release (even once its time has passed), or after a commit.
    ExpiryAndTakeover,
    /// `renew_lease` keeps a lease past its first time to live; a lease
    /// renewed no more runs out; renewing a lease that was taken over, or
    /// that a commit ended, answers `false`.
    Renewal,
    /// Racing commits on one version: exactly one lands, and the others
    /// conflict with its token. Racing saves: each gets a version of its
    /// own.
    ConcurrentWrites,
    /// Racing `acquire_lease` calls: exactly one gets the lease, on a user
    /// the store never saw and on an expired lease alike.
    ConcurrentLeases,
}

impl Check {
    /// Every check, in the order the kit runs them.
    ///
    /// ```
    /// assert_eq!(digime::store::conformance::Check::ALL.len(), 10);
    /// ```
    pub const ALL: &'static [Check] = &[
        Check::Versions,
        Check::CompareAndSet,
        Check::CommitWithoutLease,
        Check::AlreadyRotated,
        Check::LeaseExclusive,
        Check::Release,
        Check::ExpiryAndTakeover,
        Check::Renewal,
        Check::ConcurrentWrites,
        Check::ConcurrentLeases,
    ];

    /// The check's name, as in user keys and messages.
    ///
    /// ```
    /// assert_eq!(digime::store::conformance::Check::Renewal.name(), "renewal");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Check::Versions => "versions",
            Check::CompareAndSet => "compare_and_set",
            Check::CommitWithoutLease => "commit_without_lease",
            Check::AlreadyRotated => "already_rotated",
            Check::LeaseExclusive => "lease_exclusive",
            Check::Release => "release",
            Check::ExpiryAndTakeover => "expiry_and_takeover",
            Check::Renewal => "renewal",
            Check::ConcurrentWrites => "concurrent_writes",
            Check::ConcurrentLeases => "concurrent_leases",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a run of the kit found: every check passed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use digime::store::conformance::Kit;
/// let report = Kit::new().lease_ttl(std::time::Duration::from_millis(100))
///     .check(&digime::store::MemoryTokenStore::new()).await?;
/// assert!(report.to_string().starts_with("memory: 10 checks passed"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Report {
    pub(super) store: String,
    pub(super) checks: Vec<Check>,
    pub(super) elapsed: Duration,
}

impl Report {
    /// The checks that passed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let report = digime::store::conformance::Kit::new().lease_ttl(std::time::Duration::from_millis(50))
    /// #     .check(&digime::store::MemoryTokenStore::new()).await?;
    /// assert!(report.checks().contains(&digime::store::conformance::Check::Renewal));
    /// # Ok(()) }
    /// ```
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// How long the run took.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let report = digime::store::conformance::Kit::new().lease_ttl(std::time::Duration::from_millis(50))
    /// #     .check(&digime::store::MemoryTokenStore::new()).await?;
    /// assert!(report.elapsed() < std::time::Duration::from_secs(60));
    /// # Ok(()) }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} checks passed in {:.2?} (",
            self.store,
            self.checks.len(),
            self.elapsed
        )?;
        for (i, check) in self.checks.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{check}")?;
        }
        f.write_str(")")
    }
}

/// A promise of the contract the store broke, or a call that failed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use digime::store::conformance::{Check, Kit};
/// # let store = digime::store::MemoryTokenStore::new();
/// match Kit::new().check(&store).await {
///     Ok(report) => println!("{report}"),
///     Err(violation) => panic!("{} ({:?})", violation, violation.check()),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Violation {
    pub(super) check: Check,
    pub(super) store: String,
    pub(super) message: String,
    pub(super) source: Option<Error>,
}

impl Violation {
    /// The check that failed.
    ///
    /// ```
    /// # fn f(v: digime::store::conformance::Violation) {
    /// println!("{}", v.check());
    /// # }
    /// ```
    pub fn check(&self) -> Check {
        self.check
    }

    /// What the store answered, and what the contract expects.
    ///
    /// ```
    /// # fn f(v: digime::store::conformance::Violation) {
    /// println!("{}", v.message());
    /// # }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token store {} fails the conformance check `{}`: {}",
            self.store, self.check, self.message
        )
    }
}

impl std::error::Error for Violation {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
